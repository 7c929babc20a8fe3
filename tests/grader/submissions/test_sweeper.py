"""Nothing accepted is ever lost: an upload while the broker is down still gets its 202, and the sweeper sends it
once the broker is back; a submission a dead worker left running is graded again. Real databases (SQLite and
PostgreSQL), a real Redis (the messages are read off its queue), an unreachable broker on a closed port."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import update
from submission_helpers import new_user, wait_until
from typer.testing import CliRunner

from grader.api.app import create_app
from grader.bootstrap import prepare_database
from grader.cli import app as cli
from grader.db.models import Submission
from grader.db.session import session_scope
from grader.settings import get_settings
from grader.submissions import service
from grader.submissions.sweeper import ABANDONED_MARGIN, UNSENT_GRACE, SweepResult, sweep
from grader.submissions.tasks import claim

REDIS_URL = "redis://127.0.0.1:6379/13"
DEAD_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused


@pytest.fixture
def queue(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Redis queue of this test's own (other runs may share the Redis database), emptied afterwards."""
    name = f"grader-sweep-test-{secrets.token_hex(6)}"
    monkeypatch.setenv("GRADER_TASK_QUEUE", name)
    monkeypatch.setenv("GRADER_SWEEP_INTERVAL_S", "0")  # only the tests below sweep, unless one asks for it
    use_broker(monkeypatch, REDIS_URL)
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.keys(f"*{name}*"):
        client.delete(key)
    client.close()


def use_broker(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("GRADER_BROKER_URL", url)
    get_settings.cache_clear()


def sent_ids(queue: str) -> list[str]:
    """The submission ids of the grading tasks waiting on `queue`, oldest first."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        messages = [json.loads(raw) for raw in reversed(client.lrange(queue, 0, -1))]  # kombu LPUSHes
    finally:
        client.close()
    assert all(m["headers"]["task"] == "grader.grade_submission" for m in messages)
    return [json.loads(base64.b64decode(m["body"]))[0][0] for m in messages]


def row(url: str, submission_id: uuid.UUID | str) -> Submission:
    with session_scope(url) as session:
        submission = session.get(Submission, uuid.UUID(str(submission_id)))
        assert submission is not None
        return submission


def accepted(url: str, upload: Path, count: int = 1) -> list[uuid.UUID]:
    """`count` committed, queued submissions that were never sent (as if the broker had been down)."""
    prepare_database(url)
    with session_scope(url, write=True) as session:
        student, _ = new_user(session, "student")
        return [service.accept_submission(session, student, upload, "r.zip").id for _ in range(count)]


def set_columns(url: str, submission_id: uuid.UUID, **values: object) -> None:
    with session_scope(url, write=True) as session:
        session.execute(update(Submission).where(Submission.id == submission_id).values(**values))


def failures(source: str) -> float:
    return REGISTRY.get_sample_value("grader_enqueue_failures_total", {"source": source}) or 0.0


def test_upload_while_the_broker_is_down_answers_202_and_a_sweep_sends_it_once(
        queue: str, isolated_url: str, reference_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prepare_database(isolated_url)
    with session_scope(isolated_url, write=True) as session:
        _, token = new_user(session, "student")
    use_broker(monkeypatch, DEAD_BROKER_URL)
    before = failures("upload")
    with TestClient(create_app()) as client, reference_zip.open("rb") as body:
        response = client.post("/api/v1/submissions", files={"file": ("r.zip", body, "application/zip")},
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 202, response.text
        assert 'grader_enqueue_failures_total{source="upload"}' in client.get("/metrics").text
    assert failures("upload") == before + 1
    submission_id = response.json()["id"]
    waiting = row(isolated_url, submission_id)
    assert waiting.status == "queued" and waiting.enqueued_at is None

    use_broker(monkeypatch, REDIS_URL)  # the broker is back
    # Too young: the request that accepted it might still be sending it.
    assert sweep(isolated_url, waiting.created_at + UNSENT_GRACE / 2) == SweepResult()
    now = waiting.created_at + UNSENT_GRACE + timedelta(seconds=1)
    assert sweep(isolated_url, now) == SweepResult(sent=1)
    assert sent_ids(queue) == [submission_id]
    assert row(isolated_url, submission_id).enqueued_at == now
    assert sweep(isolated_url, now + timedelta(minutes=5)) == SweepResult()
    assert sent_ids(queue) == [submission_id]


def test_an_upload_with_the_broker_up_is_marked_sent_and_never_swept(
        queue: str, isolated_url: str, reference_zip: Path) -> None:
    prepare_database(isolated_url)
    with session_scope(isolated_url, write=True) as session:
        _, token = new_user(session, "student")
    with TestClient(create_app()) as client, reference_zip.open("rb") as body:
        response = client.post("/api/v1/submissions", files={"file": ("r.zip", body, "application/zip")},
                               headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.text
    submission_id = response.json()["id"]
    sent = row(isolated_url, submission_id)
    assert sent.enqueued_at is not None and sent_ids(queue) == [submission_id]
    assert sweep(isolated_url, sent.created_at + timedelta(hours=1)) == SweepResult()
    assert sent_ids(queue) == [submission_id]


def test_a_send_the_broker_refuses_gives_the_claim_back_for_the_next_sweep(
        queue: str, isolated_url: str, reference_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = accepted(isolated_url, reference_zip, 2)
    now = datetime.now(UTC) + UNSENT_GRACE * 2
    use_broker(monkeypatch, DEAD_BROKER_URL)
    before = failures("sweep")
    # The sweep stops at the first refusal: the broker is down, the other row need not wait for its timeout too.
    assert sweep(isolated_url, now) == SweepResult(failed=1)
    assert failures("sweep") == before + 1
    assert row(isolated_url, first).enqueued_at is None and row(isolated_url, second).enqueued_at is None

    use_broker(monkeypatch, REDIS_URL)
    assert sweep(isolated_url, now) == SweepResult(sent=2)
    assert sent_ids(queue) == [str(first), str(second)]  # oldest first


def test_a_stale_running_submission_is_requeued_and_a_fresh_one_left_alone(
        queue: str, isolated_url: str, reference_zip: Path) -> None:
    stale, fresh = accepted(isolated_url, reference_zip, 2)
    now = datetime.now(UTC)
    limit = timedelta(seconds=get_settings().grading_time_limit_s)
    abandoned_at = now - limit - ABANDONED_MARGIN - timedelta(seconds=1)
    for submission_id, started in ((stale, abandoned_at), (fresh, now - timedelta(minutes=1))):
        set_columns(isolated_url, submission_id, status="running", started_at=started, attempt=1, enqueued_at=started)

    assert sweep(isolated_url, now) == SweepResult(sent=1, requeued=1)
    assert sent_ids(queue) == [str(stale)]
    requeued = row(isolated_url, stale)
    assert requeued.status == "queued" and requeued.enqueued_at == now
    untouched = row(isolated_url, fresh)
    assert untouched.status == "running" and untouched.enqueued_at == now - timedelta(minutes=1)
    assert sweep(isolated_url, now + timedelta(seconds=1)) == SweepResult()
    # The re-sent task finds it claimable, exactly once.
    assert claim(stale, now) and not claim(stale, now)


def test_concurrent_sweepers_send_each_submission_once(queue: str, isolated_url: str, reference_zip: Path) -> None:
    ids = accepted(isolated_url, reference_zip, 5)
    now = datetime.now(UTC) + UNSENT_GRACE * 2
    start = threading.Barrier(3)
    results: list[SweepResult] = []

    def sweeper() -> None:
        start.wait()
        results.append(sweep(isolated_url, now))

    threads = [threading.Thread(target=sweeper) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 3 and sum(r.sent for r in results) == 5 and not any(r.failed for r in results)
    assert sorted(sent_ids(queue)) == sorted(map(str, ids))


def test_the_api_process_sweeps_in_the_background_until_shutdown(
        queue: str, isolated_url: str, reference_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (submission_id,) = accepted(isolated_url, reference_zip)
    long_ago = datetime.now(UTC) - timedelta(days=1)
    set_columns(isolated_url, submission_id, status="running", started_at=long_ago, created_at=long_ago)
    monkeypatch.setenv("GRADER_SWEEP_INTERVAL_S", "0.2")
    get_settings.cache_clear()
    with TestClient(create_app()):
        wait_until(lambda: sent_ids(queue), 30, interval=0.1, what="the API's sweeper")
    assert sent_ids(queue) == [str(submission_id)] and row(isolated_url, submission_id).status == "queued"
    assert not any(t.name == "grader-sweeper" and t.is_alive() for t in threading.enumerate())


def test_grader_sweep_sends_what_is_unsent_and_fails_while_the_broker_is_down(
        queue: str, isolated_url: str, reference_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (submission_id,) = accepted(isolated_url, reference_zip)
    set_columns(isolated_url, submission_id, created_at=datetime.now(UTC) - UNSENT_GRACE * 2)
    use_broker(monkeypatch, DEAD_BROKER_URL)
    refused = CliRunner().invoke(cli, ["sweep"])
    assert refused.exit_code == 1 and "broker refused 1" in refused.output
    use_broker(monkeypatch, REDIS_URL)
    done = CliRunner().invoke(cli, ["sweep"])
    assert done.exit_code == 0, done.output
    assert "sent 1" in done.output and sent_ids(queue) == [str(submission_id)]


def resent(reason: str) -> float:
    return REGISTRY.get_sample_value("grader_sweeper_sent_total", {"reason": reason}) or 0.0


def test_queued_rows_whose_messages_vanished_are_sent_again_as_many_as_the_queue_lacks(
        queue: str, isolated_url: str, reference_zip: Path) -> None:
    ids = accepted(isolated_url, reference_zip, 3)
    now = datetime.now(UTC)
    after = timedelta(seconds=get_settings().resend_queued_after_s)
    for submission_id in ids:  # sent once, but the broker lost the messages (a Redis restart without persistence)
        set_columns(isolated_url, submission_id, enqueued_at=now - after - timedelta(seconds=1))
    before = resent("stale")
    assert sweep(isolated_url, now) == SweepResult(sent=3)
    assert sent_ids(queue) == [str(i) for i in ids] and resent("stale") == before + 3
    # Still queued and old again, but three messages wait in the queue for three rows: nothing more to send.
    assert sweep(isolated_url, now + after * 2) == SweepResult()
    # One message taken by a worker that then lost it: one more is sent (any message grades any queued row).
    redis.Redis.from_url(REDIS_URL).rpop(queue)
    assert sweep(isolated_url, now + after * 3) == SweepResult(sent=1)
    assert len(sent_ids(queue)) == 3


def test_a_running_submission_whose_lease_expired_is_requeued_and_a_renewed_one_left_alone(
        queue: str, isolated_url: str, reference_zip: Path) -> None:
    dead, alive = accepted(isolated_url, reference_zip, 2)
    now = datetime.now(UTC)
    lease = timedelta(seconds=get_settings().lease_timeout_s)
    for submission_id, beat_at in ((dead, now - lease - timedelta(seconds=1)), (alive, now - lease / 2)):
        set_columns(isolated_url, submission_id, status="running", started_at=now - timedelta(minutes=5),
                    heartbeat_at=beat_at, claimed_by="elsewhere:7:abcd", attempt=1, enqueued_at=now)
    assert sweep(isolated_url, now) == SweepResult(sent=1, requeued=1)
    assert sent_ids(queue) == [str(dead)]
    requeued = row(isolated_url, dead)
    assert (requeued.status, requeued.claimed_by, requeued.heartbeat_at) == ("queued", None, None)
    assert row(isolated_url, alive).status == "running"
