"""An app serving the dashboard's routes on the test's database session (rolled back after the test), and a
small campus of courses, staff and students to ask it about."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from grader.api import deps
from grader.api.error_responses import install_error_handlers
from grader.courses.service import create_assignment, create_course, enroll
from grader.dashboard.routes import router
from grader.db.models import Assignment, Course, Submission, TestResult, User
from grader.users.service import create_user


def dashboard_app(session: Session) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)  # the service's own: GraderErrors and malformed bodies as {"detail": "<text>"}

    # The request's transaction is the test's own, so rows the test added are visible and rolled back after.
    app.dependency_overrides[deps.db_session] = lambda: session
    return app


@pytest.fixture
def client(db_session: Session) -> Iterator[TestClient]:
    with TestClient(dashboard_app(db_session)) as test_client:
        yield test_client


# --- a small campus: two courses, their staff (an instructor and TAs) and students ------------------------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY_MINUTES = 24 * 60
Test = tuple[str, str, str | None, int | None]  # (name, outcome, module, priority)


@dataclass
class Campus:
    session: Session
    cs1: Course
    cs2: Course
    hw1: Assignment  # cs1: due T0 + 30 min, 10 % off per late day, nothing counts after 3 days
    other_hw: Assignment  # cs2
    teacher: User
    ta: User  # a TA of cs1 (a student by site role)
    other_ta: User  # a TA of cs2 only
    ada: User
    bob: User
    carl: User  # a student of cs2
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def submit(self, user: User, assignment: Assignment, score: float | None, minutes: int = 0, *,
               tests: Sequence[Test] = (), priorities: Sequence[dict[str, Any]] = (),
               status: str = "graded", max_score: float = 10.0) -> Submission:
        """A submission handed in `minutes` after T0 with the given test results and priority groups."""
        submission = Submission(
            assignment_id=assignment.id, user_id=user.id, archive_sha256="0" * 64, status=status, score=score,
            max_score=max_score if status == "graded" else None, created_at=T0 + timedelta(minutes=minutes),
            graded_at=T0 + timedelta(minutes=minutes + 1) if status == "graded" else None,
            priorities=list(priorities), filename="tinytorch.zip",
        )
        self.session.add(submission)
        self.session.flush()
        for name, outcome, module, priority in tests:
            self.session.add(TestResult(submission_id=submission.id, suite="capstone", name=name, priority=priority,
                                        outcome=outcome, points=1.0 if outcome == "passed" else 0.0, max_points=1.0,
                                        module=module))
        self.session.flush()
        return submission


@pytest.fixture
def campus(db_session: Session) -> Campus:
    cs1 = create_course(db_session, "cs1", "Course one")
    cs2 = create_course(db_session, "cs2", "Course two")
    hw1 = create_assignment(db_session, cs1, "hw1", "Homework 1", due_at=T0 + timedelta(minutes=30),
                            late_policy={"penalty_per_day": 0.1, "max_late_days": 3})
    other_hw = create_assignment(db_session, cs2, "hw1", "Their homework 1")
    tokens = {}
    users = {}
    for key, email, role in (("teacher", "teach@example.edu", "instructor"), ("ta", "tess@example.edu", "student"),
                             ("other_ta", "otto@example.edu", "student"), ("ada", "ada@example.edu", "student"),
                             ("bob", "bob@example.edu", "student"), ("carl", "carl@example.edu", "student")):
        users[key], tokens[key] = create_user(db_session, email, role)
    enroll(db_session, users["teacher"], cs1)
    enroll(db_session, users["ta"], cs1, "ta")
    enroll(db_session, users["other_ta"], cs2, "ta")
    enroll(db_session, users["ada"], cs1)
    enroll(db_session, users["bob"], cs1)
    enroll(db_session, users["carl"], cs2)
    db_session.refresh(cs1)
    db_session.refresh(cs2)
    return Campus(db_session, cs1, cs2, hw1, other_hw, tokens=tokens, **users)
