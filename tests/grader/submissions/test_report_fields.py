"""The report's additions (docs/course-api.md "Submissions and reports"): per test where / what / hint, the
reproduce command, the upload's cleaned file name, staff's override; the list's course, filename, graded_at and
counts; the upload's download (its owner or course staff only); /api/v1/status for the banner. Real database,
real API; the graded rows are written as a worker writes them (grader.submissions.status.mark_graded)."""

from __future__ import annotations

import io
import tarfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from submission_helpers import REFERENCE, instructor_of, new_user

from grader.api.app import create_app
from grader.bootstrap import prepare_database
from grader.courses.service import create_assignment, create_course, enroll, get_assignment
from grader.db.models import Submission, TestResult, Worker, WorkerState
from grader.db.session import session_scope
from grader.diagnostics import Diagnostic
from grader.grading.report import shape_test, split_diagnostic
from grader.submissions.status import mark_graded
from grader.workers import beat

FRAME = {"file": "/sub/tinytorch/core/autograd.py", "line": 42, "function": "Tensor.backward", "code": "x"}
HARNESS = {"file": "/grader/capstone_tests/probes/capstone.py", "line": 7, "function": "probe"}
TEXT = "Module 05 autograd: Tensor.backward produces NaN or infinity Hint: subtract the max before exp."


@pytest.fixture
def client(isolated_env: Path, isolated_url: str) -> Iterator[TestClient]:
    prepare_database(isolated_url)
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def people(client: TestClient, isolated_url: str) -> dict[str, str]:
    with session_scope(isolated_url, write=True) as session:
        capstone = get_assignment(session, "default/capstone")
        other = create_course(session, f"o{uuid.uuid4().hex[:8]}", "Other")
        lab = create_assignment(session, other, "lab", "Lab")
        ta, ta_token = new_user(session, "student")
        enroll(session, ta, capstone.course, "ta")
        return {"owner": new_user(session, "student")[1], "classmate": new_user(session, "student")[1],
                "teacher": instructor_of(session, capstone)[1], "ta": ta_token,
                "outsider": instructor_of(session, lab)[1]}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(client: TestClient, token: str, body: bytes, name: str) -> dict:  # type: ignore[type-arg]
    response = client.post("/api/v1/submissions", files={"file": (name, body, "application/zip")},
                           headers=auth(token))
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def grade_by_hand(url: str, key: str, *, hidden: str | None = None) -> None:
    """What a worker's record_grade leaves: a failing test with a student frame, a passing one; seed 7."""
    with session_scope(url, write=True) as session:
        row = session.get(Submission, uuid.UUID(key))
        assert row is not None
        session.add_all([
            TestResult(submission_id=row.id, suite="capstone", name="test_a_fails", priority=1, outcome="failed",
                       points=0, max_points=50, module="05", diagnostic=TEXT, evidence={"got": 1},
                       traceback=[HARNESS, FRAME], output="boom"),
            TestResult(submission_id=row.id, suite="capstone", name="test_b_passes", priority=1, outcome="passed",
                       points=50, max_points=50, diagnostic=None, evidence={}, traceback=[], output=""),
        ])
        row.score, row.max_score, row.seed = 50.0, 100.0, 7
        row.priorities = [{"priority": 1, "name": "P1", "score": 50.0, "max_score": 100.0}]
        if hidden:
            row.assignment.rubric_visibility = {f"capstone::{hidden}": "hidden"}
        mark_graded(row)


def test_report_fields_where_what_hint_reproduce_override(client: TestClient, people: dict[str, str],
                                                         reference_zip: Path, isolated_url: str) -> None:
    key = upload(client, people["owner"], reference_zip.read_bytes(), "../../a\"b\r\nX-Evil: 1.zip")["id"]
    queued = client.get(f"/api/v1/submissions/{key}", headers=auth(people["owner"])).json()
    name = queued["filename"]  # httpx sends the quote and CR LF %-encoded; cleaned either way
    assert name.startswith("a") and name.endswith("X-Evil_ 1.zip") and queued["course"] == "default"
    assert not set(name) & set("/\\\"\r\n%:") and ".." not in name
    assert queued["reproduce"] is None and queued["override"] is None
    grade_by_hand(isolated_url, key)
    report = client.get(f"/api/v1/submissions/{key}", headers=auth(people["owner"])).json()
    failed, passed = report["tests"]
    assert failed["where"] == {"module": "tinytorch.core.autograd", "file": "tinytorch/core/autograd.py",
                               "function": "Tensor.backward", "line": 42}
    assert failed["what"] == "Tensor.backward produces NaN or infinity"
    assert failed["hint"] == "subtract the max before exp" and failed["diagnostic"] == TEXT
    assert "traceback" not in failed  # the student's report has the parts, not the raw frames
    assert passed["where"] is None and passed["what"] is None and passed["hint"] is None
    assert report["reproduce"] == "pytest capstone_tests --tinytorch . --seed 7 -k test_a_fails"
    with session_scope(isolated_url, write=True) as session:
        row = session.get(Submission, uuid.UUID(key))
        assert row is not None
        row.override_score, row.override_comment, row.override_by = 80.0, "partial credit", "t@example.org"
        row.override_at = datetime(2027, 1, 2, 3, 4, tzinfo=UTC)
    report = client.get(f"/api/v1/submissions/{key}", headers=auth(people["owner"])).json()
    assert report["override"] == {"score": 80.0, "comment": "partial credit", "by": "t@example.org",
                                  "at": "2027-01-02T03:04:00+00:00"}
    assert report["score"] == 50.0  # the automatic score stays beside it
    listed = client.get("/api/v1/submissions", headers=auth(people["owner"])).json()
    assert [(s["id"], s["course"], s["filename"], s["counts"], bool(s["graded_at"])) for s in listed] == [
        (key, "default", name, True, True)]


def test_a_hidden_test_says_nothing_of_where_or_what(client: TestClient, people: dict[str, str],
                                                     reference_zip: Path, isolated_url: str) -> None:
    key = upload(client, people["owner"], reference_zip.read_bytes(), "r.zip")["id"]
    grade_by_hand(isolated_url, key, hidden="test_a_fails")
    hidden = client.get(f"/api/v1/submissions/{key}", headers=auth(people["owner"])).json()["tests"][0]
    assert (hidden["outcome"], hidden["where"], hidden["what"], hidden["hint"]) == ("hidden", None, None, None)
    report = client.get(f"/api/v1/submissions/{key}", headers=auth(people["owner"])).json()
    assert "test_a_fails" not in report["reproduce"]  # a hidden test is not named to the student
    staff = client.get(f"/api/v1/submissions/{key}", headers=auth(people["teacher"])).json()["tests"][0]
    assert staff["outcome"] == "failed" and staff["where"]["line"] == 42


def test_the_upload_downloads_for_its_owner_and_staff_only(client: TestClient, people: dict[str, str],
                                                           reference_zip: Path) -> None:
    body = reference_zip.read_bytes()
    key = upload(client, people["owner"], body, "../my\x00 work\";.zip")["id"]
    name = client.get(f"/api/v1/submissions/{key}", headers=auth(people["owner"])).json()["filename"]
    assert name.startswith("my") and name.endswith(".zip") and not set(name) & set("\x00\"/")
    for who in ("owner", "teacher", "ta"):
        got = client.get(f"/api/v1/submissions/{key}/upload", headers=auth(people[who]))
        assert got.status_code == 200, (who, got.text)
        assert got.content == body and got.headers["content-type"] == "application/zip"
        assert got.headers["content-disposition"] == f'attachment; filename="{name}"'
        assert got.headers["x-content-type-options"] == "nosniff"
    for who in ("classmate", "outsider"):
        assert client.get(f"/api/v1/submissions/{key}/upload", headers=auth(people[who])).status_code == 404
    assert client.get(f"/api/v1/submissions/{key}/upload").status_code == 401
    for bad in ("not-a-uuid", str(uuid.uuid4()), "..%2F..%2Fetc%2Fpasswd"):
        assert client.get(f"/api/v1/submissions/{bad}/upload", headers=auth(people["owner"])).status_code == 404


def test_a_tar_gz_named_zip_downloads_as_what_it_is(client: TestClient, people: dict[str, str]) -> None:
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as tar:
        tar.add(REFERENCE / "tinytorch", arcname="tinytorch")
    key = upload(client, people["owner"], packed.getvalue(), "ünïcode.zip")["id"]
    assert client.get(f"/api/v1/submissions/{key}", headers=auth(people["owner"])).json()["filename"] == "ünïcode.zip"
    got = client.get(f"/api/v1/submissions/{key}/upload", headers=auth(people["owner"]))
    assert got.status_code == 200 and got.content == packed.getvalue()
    assert got.headers["content-type"] == "application/gzip"
    assert got.headers["content-disposition"] == f'attachment; filename="submission-{key}.tar.gz"'


def test_status_banner_follows_the_workers(client: TestClient, people: dict[str, str], reference_zip: Path,
                                           isolated_url: str) -> None:
    paused = client.get("/api/v1/status").json()
    assert paused["grading"] == "paused" and "queue" in paused["message"]
    key = upload(client, people["owner"], reference_zip.read_bytes(), "r.zip")["id"]
    report = client.get(f"/api/v1/submissions/{key}", headers=auth(people["owner"])).json()
    assert report["status"] == "queued" and "not yours" in report["delayed"]  # nothing grades: delayed, honestly
    beat("testhost:1")  # a live worker taking work
    assert client.get("/api/v1/status").json() == {"grading": "ok", "message": "Grading is running normally."}
    assert client.get(f"/api/v1/submissions/{key}", headers=auth(people["owner"])).json()["delayed"] is None
    beat("testhost:2")
    with session_scope(isolated_url, write=True) as session:
        session.get(Worker, "testhost:2").state = WorkerState.sandbox_unhealthy.value  # type: ignore[union-attr]
    delayed = client.get("/api/v1/status").json()
    assert delayed["grading"] == "delayed" and "testhost" not in delayed["message"]


def test_the_diagnostic_splits_the_same_on_both_paths() -> None:
    for cause, hint in (("x is wrong", "fix it."), ("plain", ""), ("a: b Hint-like", "use `np.max`")):
        diagnostic = Diagnostic(5, cause, hint, traceback=(FRAME,))
        fresh = shape_test(name="t", suite="capstone", priority=1, outcome="failed", points=0, max_points=1,
                           counts_toward_grade=True, module="05", diagnostic=diagnostic.text(), what=diagnostic.cause,
                           hint=diagnostic.hint or None, evidence={}, traceback=diagnostic.traceback, output="")
        stored = shape_test(name="t", suite="capstone", priority=1, outcome="failed", points=0, max_points=1,
                            counts_toward_grade=True, module="05", diagnostic=diagnostic.text(), evidence={},
                            traceback=list(diagnostic.traceback), output="")
        assert fresh == stored, (cause, hint)
    assert split_diagnostic("no hint at all") == ("no hint at all", None)


def test_a_name_beyond_ascii_downloads_with_both_forms(client: TestClient, people: dict[str, str],
                                                       reference_zip: Path) -> None:
    key = upload(client, people["owner"], reference_zip.read_bytes(), "résumé.zip")["id"]
    got = client.get(f"/api/v1/submissions/{key}/upload", headers=auth(people["owner"]))
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"r_sum_.zip\"; filename*=utf-8''r%C3%A9sum%C3%A9.zip")
