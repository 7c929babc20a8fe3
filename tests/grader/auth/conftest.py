"""What the sign-in tests share: the auth routes (with the dashboard's, to show their CSRF check applies there
too) on the test's rolled-back database session, settings from GRADER_* variables, and a real SMTP server.

- `auth_client`: a TestClient (http://testserver) of that app, not following redirects.
- `configure(**env)`: set GRADER_* variables for this test and re-read the settings.
- `smtp_server`: aiosmtpd on 127.0.0.1 (a free port) collecting what it receives; the settings point at it.
- `people`: a course with an instructor, a TA, two students, and a student of another course.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from grader.api import deps
from grader.api.error_responses import install_error_handlers
from grader.auth import links
from grader.auth.routes import router as auth_router
from grader.courses.service import enroll
from grader.dashboard.routes import router as dashboard_router
from grader.db.models import Course, User
from grader.settings import get_settings
from grader.users.service import create_user


def auth_app(session: Session) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(auth_router)
    app.include_router(dashboard_router)
    # The request's transaction is the test's own: rows the test added are visible, and rolled back after.
    app.dependency_overrides[deps.db_session] = lambda: session
    return app


@pytest.fixture(autouse=True)
def _fresh_limits_and_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The limits are the process's memory: each test starts with none used. Settings come from this test's env.
    for name in ("GRADER_SMTP_HOST", "GRADER_PUBLIC_URL", "GRADER_SESSION_COOKIE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    links.PER_EMAIL.clear()
    links.PER_CLIENT.clear()
    get_settings.cache_clear()
    yield
    links.PER_EMAIL.clear()
    links.PER_CLIENT.clear()
    get_settings.cache_clear()


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"GRADER_{name.upper()}", value)
        get_settings.cache_clear()

    return set_env


@pytest.fixture
def auth_client(db_session: Session) -> Iterator[TestClient]:
    with TestClient(auth_app(db_session), follow_redirects=False) as client:
        yield client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server received: (envelope recipients, parsed message) in order."""

    received: list[tuple[list[str], Message]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # aiosmtpd.s name
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))  # type: ignore[attr-defined]
        self.arrived.set()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(configure: Callable[..., None]) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    configure(smtp_host="127.0.0.1", smtp_port=str(port), smtp_starttls="false",
              smtp_from="Grader <grader@example.edu>", smtp_timeout_s="5")
    try:
        yield mailbox
    finally:
        controller.stop()


@dataclass
class People:
    course: Course
    other_course: Course
    instructor: User
    instructor_token: str
    ta: User
    ta_token: str
    student: User
    student_token: str
    classmate: User
    stranger: User  # a student of the other course only


def _user(session: Session, email: str, role: str) -> tuple[User, str]:
    return create_user(session, email, role)


@pytest.fixture
def people(db_session: Session) -> People:
    course = Course(slug="cs329", name="ML systems")
    other = Course(slug="cs101", name="Intro")
    db_session.add_all([course, other])
    db_session.flush()
    instructor, instructor_token = _user(db_session, "prof@example.edu", "instructor")
    enroll(db_session, instructor, course)
    ta, ta_token = _user(db_session, "ta@example.edu", "student")
    enroll(db_session, ta, course, "ta")
    student, student_token = _user(db_session, "ada@example.edu", "student")
    enroll(db_session, student, course)
    classmate, _ = _user(db_session, "bob@example.edu", "student")
    enroll(db_session, classmate, course)
    stranger, _ = _user(db_session, "eve@example.edu", "student")
    enroll(db_session, stranger, other)
    db_session.flush()
    return People(course, other, instructor, instructor_token, ta, ta_token, student, student_token, classmate,
                  stranger)
