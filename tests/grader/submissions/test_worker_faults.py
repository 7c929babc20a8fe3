"""Faults at the deadline, injected on purpose into real processes (issue 11): every accepted submission ends
graded exactly once, with the score `grader grade` gives offline, within a stated recovery time.

- a worker's pool child kill -9'd mid-grading: its message comes back at once while the lease still looks alive;
  the redelivery waits for the lease to expire and takes the grading over (within 90 s, default settings);
- Redis killed during uploads and restarted without persistence: the sent messages are gone; the sweeper re-sends
  the stale queued rows and the unsent ones;
- `grader serve` (embedded: SQLite, SQLAlchemy broker) kill -9'd with its worker mid-grading, then restarted: it
  takes back what its dead worker held;
- the database down when a message arrives: the message is not acked; it is delivered again later.

Each test starts its own Redis (own_services) and its own PostgreSQL database (or server, when it stops it).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import Reject
from fastapi.testclient import TestClient
from own_services import OwnRedis, own_postgres, own_redis
from running_server import GraderProcess, grader_env, grader_process, grader_serve
from sqlalchemy import func, select
from submission_helpers import REPO, new_user, wait_until

from grader.api.app import create_app
from grader.bootstrap import prepare_database
from grader.db import migrate
from grader.db.models import Submission, TestResult
from grader.db.session import dispose_engines, session_scope
from grader.settings import get_settings
from grader.submissions import service
from grader.submissions.dispatch import enqueue_or_leave

SEED = "7"
QUEUE = "grader-faults"
CAPSTONE_TESTS = 14


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    # The tests point the settings at their own servers; the next test must not inherit them.
    yield
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture(scope="module")
def offline_score(reference_zip: Path) -> float:
    """What `grader grade` gives the reference at the tests' seed, in the bwrap sandbox."""
    argv = [sys.executable, "-m", "grader", "grade", str(reference_zip), "--json", "--seed", SEED,
            "--sandbox", "bwrap"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=grader_env())
    assert done.returncode == 0, done.stderr
    return float(json.loads(done.stdout)["score"])


@contextmanager
def worker(url: str, broker: str, log: Path) -> Iterator[GraderProcess]:
    env = grader_env(GRADER_DATABASE_URL=url, GRADER_DATA_DIR=str(get_settings().data_dir), GRADER_BROKER_URL=broker,
                     GRADER_TASK_QUEUE=QUEUE, GRADER_SANDBOX="bwrap", GRADER_FIXED_SEED=SEED)
    with grader_process(("worker",), env, log, ready=lambda w: "ready." in w.read_log(), timeout=90) as running:
        yield running


def use(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(f"GRADER_{name.upper()}", value)
    get_settings.cache_clear()


def accept(url: str, upload: Path, count: int) -> list[uuid.UUID]:
    """`count` committed uploads of as many students, each sent to the broker as the upload route does."""
    ids = []
    for _ in range(count):
        with session_scope(url, write=True) as session:
            student, _ = new_user(session, "student")
            submission_id = service.accept_submission(session, student, upload, "r.zip").id
        with session_scope(url, write=True) as session:
            enqueue_or_leave(session, submission_id)
        ids.append(submission_id)
    return ids


def status_of(url: str, submission_id: uuid.UUID) -> Submission:
    with session_scope(url) as session:
        row = session.get(Submission, submission_id)
        assert row is not None
        return row


def assert_graded_once(url: str, ids: list[uuid.UUID], score: float, attempts: int = 1) -> None:
    with session_scope(url) as session:
        for submission_id in ids:
            row = session.get(Submission, submission_id)
            assert row is not None and row.status == "graded", (submission_id, row and row.status, row and row.error)
            assert (row.score, row.attempt) == (score, attempts), submission_id
            results = session.scalar(select(func.count()).where(TestResult.submission_id == submission_id))
            assert results == CAPSTONE_TESTS, submission_id


def pool_children(pid: int) -> list[int]:
    """The worker's prefork pool processes (its other children, a canary's sandbox say, are not)."""
    children = [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                for child in (task / "children").read_text().split()]
    return [child for child in children  # forked from the worker: the same Python (a sandbox is bwrap's, docker's)
            if Path(f"/proc/{child}/exe").resolve() == Path(f"/proc/{pid}/exe").resolve()]


def test_a_pool_child_killed_mid_grading_is_taken_over_within_90_s(
        postgres_env: str, tmp_path: Path, reference_zip: Path, offline_score: float,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_env
    prepare_database(url)
    with own_redis(tmp_path) as redis_server, worker(url, redis_server.url, tmp_path / "worker.log") as running:
        use(monkeypatch, broker_url=redis_server.url, task_queue=QUEUE, fixed_seed=SEED)
        (submission_id,) = accept(url, reference_zip, 1)
        wait_until(lambda: status_of(url, submission_id).status == "running", 60, interval=0.05,
                   what="the grading to start")
        (child,) = pool_children(running.process.pid)
        os.kill(child, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(lambda: status_of(url, submission_id).status in ("graded", "failed"), 90, interval=0.5,
                   what="the grading to be taken over and finished")
        recovered_s = time.monotonic() - killed_at
        assert "deferred" in running.read_log()  # the redelivery found the lease alive and waited for it
    assert_graded_once(url, [submission_id], offline_score, attempts=2)
    print(f"pool child kill -9 -> graded in {recovered_s:.1f} s")


def test_redis_lost_during_uploads_and_restarted_empty_loses_nothing(
        postgres_env: str, tmp_path: Path, reference_zip: Path, offline_score: float,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_env
    prepare_database(url)
    with own_redis(tmp_path) as redis_server:
        use(monkeypatch, broker_url=redis_server.url, task_queue=QUEUE, fixed_seed=SEED, sweep_interval_s="1",
            resend_queued_after_s="5")
        sent = accept(url, reference_zip, 4)
        assert all(status_of(url, i).enqueued_at is not None for i in sent)
        redis_server.kill()
        unsent = accept(url, reference_zip, 2)  # accepted while the broker is down: left for the sweeper
        assert all(status_of(url, i).enqueued_at is None for i in unsent)
        _restart_empty(redis_server)
        started = time.monotonic()
        with worker(url, redis_server.url, tmp_path / "worker.log"), TestClient(create_app()):
            # The API process's sweeper (every second here) re-sends what the restarted Redis lost.
            wait_until(lambda: all(status_of(url, i).status in ("graded", "failed") for i in sent + unsent), 240,
                       what="every accepted submission to be graded")
        print(f"Redis restarted empty -> {len(sent + unsent)} graded in {time.monotonic() - started:.1f} s")
    assert_graded_once(url, sent + unsent, offline_score)


def _restart_empty(server: OwnRedis) -> None:
    server.start()
    assert server.process is not None


def test_embedded_serve_killed_mid_grading_takes_its_grading_back_on_restart(
        tmp_path: Path, reference_zip: Path, offline_score: float) -> None:
    env = grader_env(GRADER_DATA_DIR=str(tmp_path / "data"), GRADER_FIXED_SEED=SEED, GRADER_SANDBOX="bwrap")
    with grader_serve(env, tmp_path / "serve.log") as server:
        token = server.add_user("student@example.org", "student")
        accepted = _upload(server.url, token, reference_zip)
        wait_until(lambda: _report(server.url, token, accepted["status_url"])["status"] == "running", 60,
                   interval=0.05, what="the grading to start")
        os.killpg(server.process.pid, signal.SIGKILL)  # the whole machine's share of it: serve, worker, sandboxes
        server.process.wait()
    with grader_serve(env, tmp_path / "serve-again.log") as server:
        started = time.monotonic()
        report = wait_until(lambda: (r := _report(server.url, token, accepted["status_url"]))["status"]
                            in ("graded", "failed") and r, 120, what="the taken-back grading")
        assert "which is gone; grading it again" in server.read_log()
        print(f"embedded serve kill -9 -> graded {time.monotonic() - started:.1f} s after the restart")
    assert report["status"] == "graded", report.get("error")
    assert report["score"] == offline_score
    assert len(report["tests"]) == CAPSTONE_TESTS


def _upload(base: str, token: str, archive: Path) -> dict[str, Any]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.zip\"\r\n"
            "Content-Type: application/zip\r\n\r\n")
    body = head.encode() + archive.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{base}/api/v1/submissions", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        return json.loads(response.read())  # type: ignore[no-any-return]


def _report(base: str, token: str, status_url: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{base}{status_url}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_a_message_that_finds_the_database_down_is_not_acked(
        tmp_path: Path, reference_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.worker import grade_submission

    with own_postgres() as postgres, own_redis(tmp_path) as redis_server:
        migrate.upgrade(postgres.url)
        use(monkeypatch, database_url=postgres.url, data_dir=str(tmp_path / "data"), broker_url=redis_server.url,
            task_queue=QUEUE)
        prepare_database(postgres.url)
        with session_scope(postgres.url, write=True) as session:
            student, _ = new_user(session, "student")
            submission_id = service.accept_submission(session, student, reference_zip, "r.zip").id
        dispose_engines()
        postgres.stop()
        import redis

        queue = redis.Redis.from_url(redis_server.url)
        # The claim cannot reach the database: the task hands the broker a fresh message for later instead of
        # letting Celery ack this one and strand the row `queued` with no message.
        assert grade_submission(str(submission_id)) == "deferred"
        (deferred,) = [json.loads(raw) for raw in queue.lrange(QUEUE, 0, -1)]
        assert json.loads(base64.b64decode(deferred["body"]))[0] == [str(submission_id)]
        assert deferred["headers"]["eta"]  # later, not at once: no busy loop while the database is down
        # The broker gone too: the message is rejected back to the queue (requeue), never acked.
        redis_server.kill()
        with pytest.raises(Reject) as rejected:
            grade_submission(str(submission_id))
        assert rejected.value.requeue is True
        postgres.start()
        row = status_of(postgres.url, submission_id)
        assert (row.status, row.attempt) == ("queued", 0)
        dispose_engines()


def test_a_real_worker_grades_another_students_first_before_one_students_resubmissions(
        postgres_env: str, tmp_path: Path, reference_zip: Path, offline_score: float,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_env
    prepare_database(url)
    with own_redis(tmp_path) as redis_server:
        use(monkeypatch, broker_url=redis_server.url, task_queue=QUEUE)
        with session_scope(url, write=True) as session:
            eager, _ = new_user(session, "student")
            other, _ = new_user(session, "student")
            resubmissions = [service.accept_submission(session, eager, reference_zip, "r.zip").id for _ in range(4)]
            first = service.accept_submission(session, other, reference_zip, "r.zip").id
        for submission_id in [*resubmissions, first]:  # all sent, in upload order, before the worker starts
            with session_scope(url, write=True) as session:
                assert enqueue_or_leave(session, submission_id)
        ids = [*resubmissions, first]
        with worker(url, redis_server.url, tmp_path / "worker.log"):
            wait_until(lambda: all(status_of(url, i).status in ("graded", "failed") for i in ids), 240,
                       what="every submission to be graded")
    order = sorted(ids, key=lambda i: status_of(url, i).started_at)  # type: ignore[arg-type, return-value]
    assert order[:2] == [resubmissions[0], first]  # second, not fifth
    assert order[2:] == resubmissions[1:]
    assert_graded_once(url, ids, offline_score)


def test_a_worker_that_cannot_read_the_archive_puts_the_submission_back_delayed(
        sandbox_ready: None, isolated_url: str, tmp_path: Path, reference_zip: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker without the shared archive store (a missing mount) cannot grade what was accepted: that is the
    machine's fault, so the submission waits in the queue, marked delayed, with a message out for it; never
    `failed`, never a score."""
    import redis

    from grader import sandbox_health
    from grader.intake import ArchiveStore
    from grader.worker import grade_submission

    with own_redis(tmp_path) as redis_server:
        use(monkeypatch, database_url=isolated_url, data_dir=str(tmp_path / "data"), broker_url=redis_server.url,
            task_queue=QUEUE, sandbox="bwrap")
        prepare_database(isolated_url)
        with session_scope(isolated_url, write=True) as session:
            student, _ = new_user(session, "student")
            submission = service.accept_submission(session, student, reference_zip, "r.zip")
            submission_id, sha256 = submission.id, submission.archive_sha256
        ArchiveStore(get_settings().archives).path_of(sha256).unlink()  # this worker does not see the store
        try:
            assert grade_submission(str(submission_id)) == "delayed"
            row = status_of(isolated_url, submission_id)
            assert (row.status, row.score, row.error) == ("queued", None, None)
            assert row.delayed_reason and "/" not in row.delayed_reason  # words for the student, no host paths
            (again,) = [json.loads(raw) for raw in redis.Redis.from_url(redis_server.url).lrange(QUEUE, 0, -1)]
            assert json.loads(base64.b64decode(again["body"]))[0] == [str(submission_id)]
        finally:
            assert sandbox_health.check_now() is None  # this process's sandbox is well: later tests may grade
        dispose_engines()
