"""A package with modules that do not compile, through the HTTP API over a real database (SQLite and
PostgreSQL): the upload is accepted and its 202 already names each file, line and text; the submission's
report and the instructor's report keep them; the worker's code grades it all the same, and the modules that
compile earn their points."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from submission_helpers import instructor_of, new_user, zip_package

from grader.courses.service import get_assignment
from grader.db.session import session_scope
from grader.submissions.tasks import claim, grade_stored
from tests.fixtures import compile_errors
from tests.fixtures.compile_errors import FAILS, PASSES, PROBLEMS


@pytest.fixture(scope="module")
def broken_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("packages")
    return zip_package(compile_errors.build(built), built / "broken.zip")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_202_names_the_broken_files_and_the_submission_is_still_graded(
        grading_client: TestClient, isolated_url: str, broken_zip: Path, sandbox_ready: None) -> None:
    with session_scope(isolated_url, write=True) as session:
        student = new_user(session, "student")[1]
        teacher = instructor_of(session, get_assignment(session, "default/capstone"))[1]
    with broken_zip.open("rb") as body:
        accepted = grading_client.post("/api/v1/submissions", files={"file": ("broken.zip", body, "application/zip")},
                               headers=auth(student))
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "queued"
    assert accepted.json()["compile_errors"] == PROBLEMS
    status_url = accepted.json()["status_url"]

    queued = grading_client.get(status_url, headers=auth(student)).json()
    assert (queued["status"], queued["compile_errors"], queued["tests"]) == ("queued", PROBLEMS, [])
    submission_id = accepted.json()["id"]
    instructor_view = grading_client.get(f"/api/v1/instructor/submissions/{submission_id}", headers=auth(teacher))
    assert instructor_view.json()["compile_errors"] == PROBLEMS

    # What the worker's task does with the message the upload sent.
    claimed = claim(uuid.UUID(submission_id))
    assert claimed.lease is not None and claimed.lease.submission_id == uuid.UUID(submission_id)
    assert grade_stored(claimed.lease)
    graded = grading_client.get(status_url, headers=auth(student)).json()
    assert graded["status"] == "graded", graded["error"]
    assert graded["compile_errors"] == PROBLEMS
    assert 50 < graded["score"] < graded["max_score"] == 100
    outcomes = {t["name"]: t for t in graded["tests"]}
    assert outcomes[PASSES]["outcome"] == "passed"
    assert outcomes[FAILS]["outcome"] == "failed"
    assert "spatial" in outcomes[FAILS]["diagnostic"]


def test_a_package_that_compiles_gets_an_empty_list(grading_client: TestClient, isolated_url: str,
                                                    reference_zip: Path) -> None:
    with session_scope(isolated_url, write=True) as session:
        student = new_user(session, "student")[1]
    with reference_zip.open("rb") as body:
        accepted = grading_client.post("/api/v1/submissions", files={"file": ("r.zip", body, "application/zip")},
                               headers=auth(student))
    assert accepted.status_code == 202 and accepted.json()["compile_errors"] == []
    assert grading_client.get(accepted.json()["status_url"], headers=auth(student)).json()["compile_errors"] == []
