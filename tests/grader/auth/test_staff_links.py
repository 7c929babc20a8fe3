"""The sign-in links course staff copy for a member (POST .../roster/{user_id}/sign-in-link), and the operator's
`grader users link EMAIL`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import Result
from conftest import People
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from grader.auth import links
from grader.cli import app
from grader.db.base import utcnow
from grader.db.models import Enrollment
from grader.db.session import dispose_engines, session_scope
from grader.settings import get_settings

Invoke = Callable[..., Result]


def _link(client: TestClient, token: str, course: str, user_id: int) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = client.post(f"/api/v1/instructor/courses/{course}/roster/{user_id}/sign-in-link",
                           headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json()


def test_instructors_and_tas_copy_a_link_that_signs_the_student_in(auth_client: TestClient, people: People) -> None:
    for token in (people.instructor_token, people.ta_token):
        status, body = _link(auth_client, token, "cs329", people.student.id)
        assert status == 201, body
        assert body["url"].startswith("http://testserver/sign-in/link?token=")
        expires = datetime.fromisoformat(body["expires_at"])
        assert timedelta(minutes=29) < expires - utcnow() <= timedelta(minutes=30)
        token_in_url = parse_qs(urlsplit(body["url"]).query)["token"][0]
        signed_in = auth_client.post("/auth/link/redeem", json={"token": token_in_url})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
        assert auth_client.get("/api/v1/me").json()["email"] == "ada@example.edu"
        auth_client.cookies.clear()


def test_who_may_copy_links_for_whom(auth_client: TestClient, people: People, db_session: Session) -> None:
    # A student of the course may not.
    assert _link(auth_client, people.student_token, "cs329", people.classmate.id)[0] == 403
    # Not a member of the course (a student of another one), or no such user: 404.
    assert _link(auth_client, people.instructor_token, "cs329", people.stranger.id)[0] == 404
    assert _link(auth_client, people.instructor_token, "cs329", 10**9)[0] == 404
    # A course the caller has no role in, or none at all: 404.
    assert _link(auth_client, people.instructor_token, "cs101", people.stranger.id)[0] == 404
    assert _link(auth_client, people.instructor_token, "nope", people.student.id)[0] == 404
    # A link is the whole account: no TA becomes an instructor, nobody becomes staff by one.
    status, body = _link(auth_client, people.ta_token, "cs329", people.instructor.id)
    assert status == 403 and "grader users link" in body["detail"]
    assert _link(auth_client, people.instructor_token, "cs329", people.ta.id)[0] == 403
    # A dropped student is no member any more.
    enrollment = db_session.query(Enrollment).filter_by(user_id=people.classmate.id).one()
    enrollment.dropped_at = utcnow()
    db_session.flush()
    assert _link(auth_client, people.instructor_token, "cs329", people.classmate.id)[0] == 404
    # Not signed in: 401; a cookie without the CSRF token: 403.
    assert auth_client.post(f"/api/v1/instructor/courses/cs329/roster/{people.student.id}/sign-in-link"
                            ).status_code == 401
    assert auth_client.post("/auth/token", json={"token": people.instructor_token}).status_code == 303
    url = f"/api/v1/instructor/courses/cs329/roster/{people.student.id}/sign-in-link"
    assert auth_client.post(url).status_code == 403
    csrf = auth_client.get("/api/v1/me").json()["csrf_token"]
    assert auth_client.post(url, headers={"X-CSRF-Token": csrf}).status_code == 201


@pytest.fixture
def grader_cli(empty_database_url: str, tmp_path: Path) -> Iterator[Invoke]:
    env = {"GRADER_DATABASE_URL": empty_database_url, "GRADER_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()

    def invoke(*args: str, **extra: str) -> Result:
        get_settings.cache_clear()
        try:
            return runner.invoke(app, list(args), env={**env, **extra})
        finally:
            get_settings.cache_clear()

    yield invoke
    dispose_engines()


def test_grader_users_link_prints_a_working_link_last(grader_cli: Invoke, empty_database_url: str) -> None:
    assert grader_cli("users", "add", "ada@example.edu").exit_code == 0
    result = grader_cli("users", "link", "ADA@example.edu", GRADER_PUBLIC_URL="https://grader.example.edu")
    assert result.exit_code == 0, result.output
    url = result.stdout.rstrip("\n").splitlines()[-1]
    assert url.startswith("https://grader.example.edu/sign-in/link?token=")
    token = parse_qs(urlsplit(url).query)["token"][0]
    with session_scope(empty_database_url, write=True) as session:
        assert links.redeem_link(session, token).email == "ada@example.edu"
    # Without a public URL: the address `grader serve` listens on.
    plain = grader_cli("users", "link", "ada@example.edu")
    assert plain.stdout.rstrip("\n").splitlines()[-1].startswith("http://127.0.0.1:8000/sign-in/link?token=")
    unknown = grader_cli("users", "link", "nobody@example.edu")
    assert unknown.exit_code != 0 and "no user with email nobody@example.edu" in unknown.output
