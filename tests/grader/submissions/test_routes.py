"""The HTTP API over a real database and the embedded broker: every route with no token and the wrong role."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from submission_helpers import instructor_of, new_user

from grader.api.app import create_app
from grader.bootstrap import prepare_database
from grader.courses.service import create_assignment, create_course, enroll
from grader.db.models import Submission
from grader.db.session import session_scope


@pytest.fixture
def client(isolated_env: Path, isolated_url: str) -> Iterator[TestClient]:
    prepare_database(isolated_url)
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def tokens(client: TestClient, isolated_url: str) -> dict[str, str]:
    """owner and classmate: students of the open default course; teacher: its instructor; outsider: the
    instructor of another course; limited: a student of a course allowing one submission an hour."""
    import secrets

    from grader.courses.service import get_assignment

    with session_scope(isolated_url, write=True) as session:
        capstone = get_assignment(session, "default/capstone")
        other = create_course(session, f"o{secrets.token_hex(4)}", "Other")
        lab = create_assignment(session, other, "lab", "Lab", max_submissions_per_hour=1)
        limited, limited_token = new_user(session, "student")
        enroll(session, limited, other)
        return {
            "owner": new_user(session, "student")[1], "classmate": new_user(session, "student")[1],
            "teacher": instructor_of(session, capstone)[1], "outsider": instructor_of(session, lab)[1],
            "limited": limited_token, "lab": f"{other.slug}/lab",
        }


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(client: TestClient, token: str | None, path: Path, **form: str):  # type: ignore[no-untyped-def]
    with path.open("rb") as body:
        return client.post("/api/v1/submissions", files={"file": (path.name, body, "application/zip")}, data=form,
                           headers=auth(token) if token else {})


def test_upload_then_read_back(client: TestClient, tokens: dict[str, str], reference_zip: Path) -> None:
    accepted = upload(client, tokens["owner"], reference_zip)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["status"] == "queued" and body["status_url"] == f"/api/v1/submissions/{body['id']}"
    report = client.get(body["status_url"], headers=auth(tokens["owner"]))
    assert report.status_code == 200
    assert report.json()["status"] == "queued" and report.json()["tests"] == []
    assert client.get(body["status_url"], headers=auth(tokens["teacher"])).status_code == 200
    listed = client.get("/api/v1/submissions", headers=auth(tokens["owner"])).json()
    assert [s["id"] for s in listed] == [body["id"]]


def test_every_route_refuses_no_token_and_the_wrong_people(client: TestClient, tokens: dict[str, str],
                                                           reference_zip: Path, isolated_url: str) -> None:
    submission_id = upload(client, tokens["owner"], reference_zip).json()["id"]
    url = f"/api/v1/submissions/{submission_id}"
    for path in ("/api/v1/submissions", url, f"{url}/events"):
        for headers in ({}, auth("tt_not-a-real-token"), {"Authorization": "Basic abc"}):
            response = client.get(path, headers=headers)
            assert response.status_code == 401 and response.json()["detail"], (path, headers)
    assert upload(client, None, reference_zip).status_code == 401
    for wrong in ("classmate", "outsider"):
        for path in (url, f"{url}/events"):
            response = client.get(path, headers=auth(tokens[wrong]))
            assert response.status_code == 404 and response.json()["detail"], (wrong, path)
    # An instructor of another course has no capstone to hand in to.
    assert upload(client, tokens["outsider"], reference_zip).status_code == 404
    with session_scope(isolated_url, write=True) as session:
        session.execute(update(Submission).where(Submission.id == uuid.UUID(submission_id))
                        .values(status="graded"))
    events = client.get(f"{url}/events", headers=auth(tokens["owner"]))
    assert events.status_code == 200 and "event: done" in events.text


def test_bad_uploads_get_a_detail(client: TestClient, tokens: dict[str, str], tmp_path: Path,
                                  reference_zip: Path) -> None:
    junk = tmp_path / "x.zip"
    junk.write_bytes(b"PK\x03\x04 this is not really a zip")
    refused = upload(client, tokens["owner"], junk)
    assert 400 <= refused.status_code < 500 and refused.json()["detail"]
    missing = client.post("/api/v1/submissions", headers=auth(tokens["owner"]))
    assert missing.status_code == 422 and "file" in missing.json()["detail"]
    unknown = upload(client, tokens["owner"], reference_zip, assignment="no-such-thing")
    assert unknown.status_code == 404 and "no-such-thing" in unknown.json()["detail"]
    assert 'grader_uploads_rejected_total{reason="' in client.get("/metrics").text


def test_rate_limit_is_429_with_retry_after(client: TestClient, tokens: dict[str, str], reference_zip: Path) -> None:
    assert upload(client, tokens["limited"], reference_zip, assignment=tokens["lab"]).status_code == 202
    limited = upload(client, tokens["limited"], reference_zip, assignment=tokens["lab"])
    assert limited.status_code == 429 and limited.json()["detail"]
    assert 3500 <= int(limited.headers["Retry-After"]) <= 3600


def test_health_and_metrics(client: TestClient) -> None:
    from grader.workers import beat

    beat("some-host:4242:abcd")  # a grading worker, alive
    health = client.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "workers": "ok",
                                                        "sandbox": "ok"}}
    metrics = client.get("/metrics").text
    for name in ("grader_queue_depth", "grader_gradings_total", "grader_grading_duration_seconds_bucket",
                 'grader_workers{state="sandbox_unhealthy"}'):
        assert name in metrics
    assert 'grader_workers{state="ready"} 1.0' in metrics


def test_metrics_say_how_long_the_oldest_wait_is_and_how_many_are_delayed(client: TestClient, isolated_url: str,
                                                                        reference_zip: Path) -> None:
    import re
    from datetime import UTC, datetime, timedelta

    from grader.submissions import service

    def gauge(name: str) -> float:
        match = re.search(rf"^{name} (\S+)$", client.get("/metrics").text, re.M)
        assert match, name
        return float(match.group(1))

    assert gauge("grader_queue_oldest_seconds") == 0.0 and gauge("grader_queue_delayed") == 0.0
    with session_scope(isolated_url, write=True) as session:
        student, _ = new_user(session, "student")
        waiting = [service.accept_submission(session, student, reference_zip, f"r{i}.zip") for i in range(2)]
        waiting[0].created_at = datetime.now(UTC) - timedelta(minutes=10)
        waiting[1].delayed_reason = "the grading machine's sandbox is not working right now"
    assert 590 < gauge("grader_queue_oldest_seconds") < 700
    assert gauge("grader_queue_delayed") == 1.0


def test_health_says_when_no_worker_is_alive(client: TestClient, isolated_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from grader.db.models import Worker
    from grader.workers import beat

    # Uploads are still accepted without a worker (so no 503: compose's depends_on and load balancers keep the
    # API), but the check says nothing is being graded, and why.
    nobody = client.get("/healthz")
    assert nobody.status_code == 200 and nobody.json()["status"] == "degraded"
    assert nobody.json()["checks"]["workers"].startswith("error: no grading worker has reported")
    beat("some-host:4242:abcd", datetime.now(UTC) - timedelta(minutes=5))  # stopped renewing: dead
    assert client.get("/healthz").json()["checks"]["workers"].startswith("error: no grading worker has reported")
    beat("some-host:4243:abcd")
    with session_scope(isolated_url, write=True) as session:
        session.execute(update(Worker).where(Worker.id == "some-host:4243:abcd")
                        .values(state="sandbox_unhealthy", detail="canary failed"))
    sick = client.get("/healthz").json()["checks"]["workers"]
    assert sick == "error: no grading worker is taking work (1 sandbox_unhealthy)"
    assert 'grader_workers{state="sandbox_unhealthy"} 1.0' in client.get("/metrics").text


def test_health_is_503_when_the_broker_is_down(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.settings import get_settings

    monkeypatch.setenv("GRADER_BROKER_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    get_settings.cache_clear()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["checks"]["broker"].startswith("error")
