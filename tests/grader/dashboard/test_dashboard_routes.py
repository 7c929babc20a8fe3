"""The dashboard's HTTP routes: the right answer for an instructor, and 401/403/404 for everyone else."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.courses.service import create_assignment, create_course, enroll
from grader.db.models import Regrade, Submission, TestResult
from grader.users.service import create_user


@pytest.fixture
def tokens(db_session: Session) -> dict[str, str]:
    course = create_course(db_session, "cs1", "Course one")
    hw = create_assignment(db_session, course, "hw1", "Homework 1")
    teacher, teacher_token = create_user(db_session, "teach@example.edu", "instructor")
    other, other_token = create_user(db_session, "other@example.edu", "instructor")
    student, student_token = create_user(db_session, "ada@example.edu", "student")
    enroll(db_session, teacher, course)
    enroll(db_session, other, create_course(db_session, "cs2", "Course two"))
    enroll(db_session, student, course)
    submission = Submission(assignment_id=hw.id, user_id=student.id, archive_sha256="0" * 64, status="graded",
                            score=42.0, max_score=100.0, suite_version="v1")
    db_session.add(submission)
    db_session.flush()
    db_session.add(TestResult(submission_id=submission.id, suite="capstone", name="test_x", priority=1,
                              outcome="failed", points=0, max_points=5, diagnostic="x is off by one"))
    db_session.flush()
    return {"teacher": teacher_token, "other": other_token, "student": student_token}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def submission_id(db_session: Session) -> uuid.UUID:
    return db_session.scalar(select(Submission.id))


def test_instructor_reads_grades_charts_report_and_csv(client: TestClient, tokens: dict[str, str],
                                                       db_session: Session) -> None:
    headers = auth(tokens["teacher"])
    assert [c["slug"] for c in client.get("/api/v1/instructor/courses", headers=headers).json()] == ["cs1"]
    grades = client.get("/api/v1/instructor/courses/cs1/grades", headers=headers).json()
    assert grades["rows"][0]["grades"]["hw1"]["score"] == 42
    histogram = client.get("/api/v1/instructor/courses/cs1/assignments/hw1/histogram", headers=headers).json()
    assert histogram["bins"][4]["count"] == 1
    failures = client.get("/api/v1/instructor/courses/cs1/assignments/hw1/failures", headers=headers).json()
    assert failures["tests"][0]["rate"] == 1.0
    report = client.get(f"/api/v1/instructor/submissions/{submission_id(db_session)}", headers=headers).json()
    assert report["tests"][0]["diagnostic"] == "x is off by one"
    response = client.get("/api/v1/instructor/courses/cs1/grades.csv", headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "cs1-grades.csv" in response.headers["content-disposition"]
    assert response.text.splitlines()[1].endswith(",ada@example.edu,,,,42,100,42,,0,graded")


def test_regrade_route_records_a_batch(client: TestClient, tokens: dict[str, str], db_session: Session,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    requeued: list[uuid.UUID] = []
    monkeypatch.setattr("grader.submissions.requeue", requeued.append, raising=False)
    sid = submission_id(db_session)
    response = client.post(f"/api/v1/instructor/submissions/{sid}/regrade", headers=auth(tokens["teacher"]))
    assert response.status_code == 202
    batch = response.json()["batch"]
    db_session.commit()
    assert requeued == [sid]
    pending = client.get(f"/api/v1/instructor/regrades/{batch}", headers=auth(tokens["teacher"])).json()
    assert (pending["total"], pending["finished"]) == (1, 0)


PATHS = [
    ("get", "/api/v1/instructor/courses"),
    ("get", "/api/v1/instructor/courses/cs1/grades"),
    ("get", "/api/v1/instructor/courses/cs1/grades.csv"),
    ("get", "/api/v1/instructor/courses/cs1/assignments/hw1/histogram"),
    ("get", "/api/v1/instructor/courses/cs1/assignments/hw1/failures"),
    ("post", "/api/v1/instructor/courses/cs1/assignments/hw1/regrade"),
    ("get", "/api/v1/instructor/submissions/{sid}"),
    ("post", "/api/v1/instructor/submissions/{sid}/regrade"),
]


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_every_route_refuses_no_token_a_student_and_another_instructor(
        client: TestClient, tokens: dict[str, str], db_session: Session, method: str, path: str) -> None:
    url = path.format(sid=submission_id(db_session))
    call = getattr(client, method)
    assert call(url).status_code == 401
    assert call(url, headers=auth("tt_not-a-real-token")).status_code == 401
    refused = call(url, headers=auth(tokens["student"]))
    assert refused.status_code == 403 and refused.json()["detail"]
    if path != "/api/v1/instructor/courses":  # that one lists the other instructor's own courses
        assert call(url, headers=auth(tokens["other"])).status_code == 404


def test_regrade_is_refused_cleanly_without_a_requeue(client: TestClient, tokens: dict[str, str],
                                                      db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr("grader.submissions.requeue", raising=False)
    response = client.post(f"/api/v1/instructor/submissions/{submission_id(db_session)}/regrade",
                           headers=auth(tokens["teacher"]))
    assert response.status_code == 500 and "regrading is unavailable" in response.json()["detail"]
    assert db_session.scalar(select(func.count()).select_from(Regrade)) == 0
