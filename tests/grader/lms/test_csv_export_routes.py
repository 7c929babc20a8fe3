"""GET /api/v1/instructor/courses/{course}/export.csv and `grader export csv`: who may read it, what it answers,
and the CLI's exit codes on a real database."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from grader.api import deps
from grader.api.error_responses import install_error_handlers
from grader.courses.service import create_assignment, create_course, enroll
from grader.db.models import Submission
from grader.lms.export_routes import router
from grader.users.service import create_user

URL = "/api/v1/instructor/courses/cs1/export.csv"


@pytest.fixture
def client(db_session: Session) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    app.dependency_overrides[deps.db_session] = lambda: db_session  # the test's own transaction, rolled back
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def tokens(db_session: Session) -> dict[str, str]:
    cs1 = create_course(db_session, "cs1", "Course one")
    hw1 = create_assignment(db_session, cs1, "hw1", "Homework 1")
    create_assignment(db_session, cs1, "hw2", "Homework 2")
    tokens = {}
    for key, email, role in (("teacher", "teach@example.edu", "instructor"), ("ta", "tess@example.edu", "student"),
                             ("student", "ada@example.edu", "student"), ("other", "otto@example.edu", "instructor")):
        user, tokens[key] = create_user(db_session, email, role)
        if key == "other":
            enroll(db_session, user, create_course(db_session, "cs2", "Course two"))
        else:
            enroll(db_session, user, cs1, "ta" if key == "ta" else None)
        if key == "student":
            db_session.add(Submission(assignment_id=hw1.id, user_id=user.id, archive_sha256="0" * 64,
                                      status="graded", score=42.0, max_score=100.0))
    db_session.flush()
    return tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("who", ["teacher", "ta"])
def test_staff_get_the_csv_as_an_attachment(client: TestClient, tokens: dict[str, str], who: str) -> None:
    response = client.get(URL, params={"format": "canvas"}, headers=auth(tokens[who]))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="cs1-grades-canvas.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 1", "Homework 2"]
    assert rows[2] == ["ada@example.edu", "", "", "ada@example.edu", "", "42", ""]
    assert response.content.endswith(b"\r\n")


def test_one_assignment_in_the_moodle_layout(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(URL, params={"format": "moodle", "assignment": "hw1"}, headers=auth(tokens["teacher"]))
    assert response.status_code == 200
    assert "cs1-hw1-moodle.csv" in response.headers["content-disposition"]
    assert response.text.splitlines() == ["First name,Surname,ID number,Email address,Groups,Homework 1",
                                          ",,,ada@example.edu,,42"]


@pytest.mark.parametrize(("who", "params", "status", "detail"), [
    ("student", {"format": "canvas"}, 403, "course staff"),
    ("other", {"format": "canvas"}, 404, "no course 'cs1'"),
    ("teacher", {"format": "excel"}, 400, "unknown format 'excel'"),
    ("teacher", {"format": "canvas", "assignment": "hw9"}, 404, "no assignment 'hw9'"),
    ("student", {"format": "excel"}, 403, "course staff"),  # a student learns nothing from a bad format
    ("teacher", {"format": "canvas\r\nX-Evil: 1"}, 400, "unknown format"),
    ("teacher", {"format": "CANVAS"}, 400, "unknown format 'CANVAS'"),
    ("teacher", {"format": "plain", "assignment": '../hw1"; filename=x'}, 404, "no assignment"),
])
def test_refusals(client: TestClient, tokens: dict[str, str], who: str, params: dict[str, str], status: int,
                  detail: str) -> None:
    response = client.get(URL, params=params, headers=auth(tokens[who]))
    assert response.status_code == status and detail in response.json()["detail"]


def test_no_token_and_no_format(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get(URL, params={"format": "canvas"}).status_code == 401
    assert client.get(URL, headers=auth(tokens["teacher"])).status_code == 422
    assert client.get("/api/v1/instructor/courses/nope/export.csv", params={"format": "plain"},
                      headers=auth(tokens["teacher"])).status_code == 404


def test_the_real_app_declares_text_csv() -> None:
    from grader.api.app import create_app

    schema = TestClient(create_app()).get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/instructor/courses/{course}/export.csv"]["get"]
    assert list(operation["responses"]["200"]["content"]) == ["text/csv"]
    assert {p["name"] for p in operation["parameters"]} >= {"course", "format", "assignment"}
    assert {"400", "403", "404"} <= set(operation["responses"])


# --- the CLI ------------------------------------------------------------------------------------------------------

def test_cli_writes_each_layout_to_stdout(grader: Callable[..., Any]) -> None:
    assert grader("users", "add", "=cmd@example.edu", "--role", "student").exit_code == 0
    assert grader("users", "add", "plain@example.edu", "--role", "student").exit_code == 0
    for layout, skip in (("canvas", 2), ("moodle", 1), ("plain", 1)):
        result = grader("export", "csv", "default", "--format", layout)
        assert result.exit_code == 0, result.output
        assert b"\r\n" in result.stdout_bytes and b"\n" not in result.stdout_bytes.replace(b"\r\n", b"")
        rows = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))
        assert len(rows) - skip == 2
        emails = {cell for row in rows for cell in row if "@" in cell}
        assert emails == {"'=cmd@example.edu", "plain@example.edu"}
    one = grader("export", "csv", "default", "--assignment", "capstone", "--format", "plain")
    assert one.exit_code == 0 and one.stdout.splitlines()[0] == "email,name,section,capstone score,capstone max"


@pytest.mark.parametrize(("args", "reason"), [
    (("nope", "--format", "canvas"), "no course 'nope'"),
    (("default", "--format", "excel"), "unknown format 'excel'"),
    (("default", "--format", "canvas", "--assignment", "hw9"), "no assignment 'hw9'"),
    (("default",), "--format"),
])
def test_cli_refusals_exit_2_with_the_reason(grader: Callable[..., Any], args: tuple[str, ...],
                                             reason: str) -> None:
    result = grader("export", "csv", *args)
    assert result.exit_code == 2
    assert reason in " ".join(result.output.split())
    assert result.stdout == ""  # nothing half-written for a pipe to import
