"""Fixtures for the LTI tests (imported by each test_lti*.py): the tool's routes on the test's rolled-back
session, a running lti1p3platform server registered with the tool, and a course with an assignment."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lti_platform import LtiPlatformServer, launch_form
from sqlalchemy.orm import Session

from grader.api import deps
from grader.api.error_responses import install_error_handlers
from grader.courses.service import create_assignment, create_course
from grader.db.models import Assignment, Course, LtiPlatform
from grader.lms.lti import platform_keys, service_token
from grader.lms.lti.platforms import add_platform
from grader.lms.lti.routes import router as lti_router
from grader.settings import get_settings


@dataclass
class Lti:
    client: TestClient
    platform: LtiPlatformServer
    registration: LtiPlatform
    course: Course
    assignment: Assignment
    session: Session
    app: FastAPI

    def login(self) -> httpx.Response:
        return self.client.get("/lti/login", params=self.platform.login_params())

    def platform_form(self) -> dict[str, str]:
        """Log in, follow the redirect to the platform's auth endpoint: the form it would have the browser post."""
        answer = self.login()
        assert answer.status_code == 302, answer.text
        page = httpx.get(answer.headers["location"], timeout=10)
        assert page.status_code == 200, page.text
        action, fields = launch_form(page.text)
        assert action == "http://testserver/lti/launch"
        return fields

    def launch(self) -> httpx.Response:
        return self.client.post("/lti/launch", data=self.platform_form())


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("GRADER_PUBLIC_URL", "GRADER_SESSION_COOKIE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    platform_keys.clear_cache()
    service_token.clear_cache()
    yield
    platform_keys.clear_cache()
    service_token.clear_cache()
    get_settings.cache_clear()


@pytest.fixture
def lti(db_session: Session) -> Iterator[Lti]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(lti_router)
    app.dependency_overrides[deps.db_session] = lambda: db_session
    course = create_course(db_session, "cs329", "ML systems")
    assignment = create_assignment(db_session, course, "capstone", "Capstone")
    platform = LtiPlatformServer(tool_base="http://testserver").start()
    try:
        registration = add_platform(db_session, course=course, **platform.registration_fields())
        with TestClient(app, follow_redirects=False) as client:
            platform.trust_tool_keys(client.get("/lti/jwks").json())
            yield Lti(client, platform, registration, course, assignment, db_session, app)
    finally:
        platform.stop()
