"""The grading task through a real Redis broker and a real `grader worker` process with the bwrap sandbox:
the reference graded end to end, and a task delivered twice leaves one result set."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from celery import Celery
from running_server import grader_process
from sqlalchemy import func, select
from submission_helpers import new_user, wait_until

from grader.bootstrap import prepare_database
from grader.db.models import Regrade, Submission, TestResult, Worker
from grader.db.session import session_scope
from grader.settings import get_settings
from grader.submissions import service
from grader.submissions.sweeper import sweep
from grader.submissions.tasks import claim

REDIS_URL = "redis://127.0.0.1:6379/13"
# A queue of this test run's own: other runs (another checkout's CI) may share the Redis database.
QUEUE = f"grader-test-{secrets.token_hex(6)}"


@pytest.fixture(autouse=True)
def _own_queue() -> None:
    """A queue of each test's own: a worker stopped mid-task (or one whose sandbox is sick, which keeps sending
    its messages on) leaves messages behind, which must not reach the next test's worker."""
    global QUEUE
    QUEUE = f"grader-test-{secrets.token_hex(6)}"


@pytest.fixture
def worker(isolated_env: Path, isolated_url: str, tmp_path: Path) -> Iterator[Path]:
    yield from _worker(isolated_env, isolated_url, tmp_path, {"GRADER_SANDBOX": "bwrap"})


@pytest.fixture
def broken_sandbox_worker(isolated_env: Path, isolated_url: str, tmp_path: Path) -> Iterator[Path]:
    # An infrastructure fault without a mock: the docker sandbox asked for an image that does not exist.
    yield from _worker(isolated_env, isolated_url, tmp_path,
                       {"GRADER_SANDBOX": "docker", "TINYTORCH_SANDBOX_IMAGE": "grader-test-no-such-image:0"})


def _worker(isolated_env: Path, isolated_url: str, tmp_path: Path, extra: dict[str, str]) -> Iterator[Path]:
    prepare_database(isolated_url)
    env = {**os.environ, "GRADER_DATABASE_URL": isolated_url, "GRADER_DATA_DIR": str(isolated_env),
           "GRADER_BROKER_URL": REDIS_URL, "GRADER_TASK_QUEUE": QUEUE, **extra}
    with grader_process(("worker",), env, tmp_path / "worker.log", ready=lambda w: "ready." in w.read_log(),
                        timeout=60) as running:
        yield running.log


def test_reference_graded_once_though_delivered_twice(worker: Path, isolated_url: str, reference_zip: Path) -> None:
    with session_scope(isolated_url, write=True) as session:
        student, _ = new_user(session, "student")
        submission_id = service.accept_submission(session, student, reference_zip, "reference.zip").id
    client = Celery("test-client", broker=REDIS_URL)
    for _ in range(2):  # a redelivery, as after a lost ack
        client.send_task("grader.grade_submission", args=[str(submission_id)], queue=QUEUE)

    def finished() -> Submission | None:
        with session_scope(isolated_url) as session:
            row = session.get(Submission, submission_id)
            return row if row is not None and row.status in ("graded", "failed") else None

    graded = wait_until(finished, 300, what="the grade")
    assert graded.status == "graded", graded.error
    assert graded.score == graded.max_score == 100.0
    wait_until(lambda: "'skipped'" in worker.read_text(), 60, what="the second delivery")
    with session_scope(isolated_url) as session:
        results = session.scalar(select(func.count()).where(TestResult.submission_id == submission_id))
        row = session.get(Submission, submission_id)
        assert row is not None and row.attempt == 1
    assert results == 14


def test_a_regrade_from_the_dashboard_is_graded_again_and_recorded(worker: Path, isolated_url: str,
                                                                   reference_zip: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.dashboard.regrades import regrade_one
    from grader.settings import get_settings

    # This process enqueues the regrade itself (grader.submissions.requeue), so it talks to the test's Redis too.
    monkeypatch.setenv("GRADER_BROKER_URL", REDIS_URL)
    monkeypatch.setenv("GRADER_TASK_QUEUE", QUEUE)
    get_settings.cache_clear()
    with session_scope(isolated_url, write=True) as session:
        student, _ = new_user(session, "student")
        admin, _ = new_user(session, "admin")
        submission_id = service.accept_submission(session, student, reference_zip, "reference.zip").id
    Celery("test-client", broker=REDIS_URL).send_task("grader.grade_submission", args=[str(submission_id)],
                                                      queue=QUEUE)

    def attempt_done(attempt: int):  # type: ignore[no-untyped-def]
        def check() -> Submission | None:
            with session_scope(isolated_url) as session:
                row = session.get(Submission, submission_id)
                return row if row is not None and row.status == "graded" and row.attempt == attempt else None
        return check

    wait_until(attempt_done(1), 300, what="the first grade")
    with session_scope(isolated_url, write=True) as session:
        regrade_one(session, session.get(type(admin), admin.id), submission_id)
    wait_until(attempt_done(2), 300, what="the regrade")
    with session_scope(isolated_url) as session:
        regrade = session.scalars(select(Regrade).where(Regrade.submission_id == submission_id)).one()
        assert regrade.old_score == regrade.new_score == 100.0 and regrade.finished_at is not None
        assert session.scalar(select(func.count()).where(TestResult.submission_id == submission_id)) == 14


def test_an_unusable_sandbox_never_fails_a_submission(broken_sandbox_worker: Path, isolated_url: str,
                                                      reference_zip: Path) -> None:
    # The worker's start-up canary fails: it takes no work, says why in its row, and the submission waits.
    with session_scope(isolated_url, write=True) as session:
        student, _ = new_user(session, "student")
        submission_id = service.accept_submission(session, student, reference_zip, "reference.zip").id
    Celery("test-client", broker=REDIS_URL).send_task("grader.grade_submission", args=[str(submission_id)],
                                                      queue=QUEUE)

    def sick() -> Worker | None:
        with session_scope(isolated_url) as session:
            return session.scalars(select(Worker).where(Worker.state == "sandbox_unhealthy")).first()

    row = wait_until(sick, 60, what="the worker to say its sandbox is unhealthy")
    assert row.detail is not None and "no-such-image" in row.detail
    time.sleep(10)  # as long as the old three retries took to fail it
    with session_scope(isolated_url) as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None and submission.status == "queued" and submission.error is None
        assert submission.score is None


def test_claim_takes_a_queued_or_abandoned_submission_once(isolated_env: Path, isolated_url: str,
                                                           reference_zip: Path) -> None:
    prepare_database(isolated_url)
    with session_scope(isolated_url, write=True) as session:
        student, _ = new_user(session, "student")
        submission_id: uuid.UUID = service.accept_submission(session, student, reference_zip, "r.zip").id
    assert claim(submission_id)
    assert not claim(submission_id)  # running, and recently renewed: someone is on it
    # A worker that died mid-grading: past the lease, the submission may be claimed again.
    assert claim(submission_id, now=datetime.now(UTC) + timedelta(hours=2))


@pytest.fixture
def broker_refusing_sends() -> Iterator[str]:
    """The Redis broker URL of a user who may consume but not publish (ACL: LPUSH refused): a worker that can
    take a task but cannot send its retry, as when the broker fails mid-grading."""
    admin = redis.Redis.from_url(REDIS_URL)
    user = f"grader-test-{secrets.token_hex(4)}"
    admin.acl_setuser(user, enabled=True, nopass=True, keys=["*"], channels=["*"], commands=["+@all", "-lpush"])
    try:
        yield f"redis://{user}:unused@127.0.0.1:6379/13"
    finally:
        admin.acl_deluser(user)


def test_a_retry_the_broker_cannot_take_is_left_for_the_sweeper(isolated_env: Path, isolated_url: str,
                                                                 tmp_path: Path, reference_zip: Path,
                                                                 broker_refusing_sends: str,
                                                                 rootfs_without_resource: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    prepare_database(isolated_url)
    with session_scope(isolated_url, write=True) as session:
        student, _ = new_user(session, "student")
        submission = service.accept_submission(session, student, reference_zip, "reference.zip")
        submission.enqueued_at = datetime.now(UTC)  # as the upload route records a successful send
        submission_id = submission.id
    Celery("test-client", broker=REDIS_URL).send_task("grader.grade_submission", args=[str(submission_id)],
                                                      queue=QUEUE)
    # A sandbox that passes the canary but cannot grade (its python lacks a module the boundary needs): the
    # grading's infrastructure fault sends the task again, which this broker refuses.
    broken = {"GRADER_SANDBOX": "bwrap", "GRADER_SANDBOX_ROOTFS": str(rootfs_without_resource),
              "GRADER_BROKER_URL": broker_refusing_sends}
    for log in _worker(isolated_env, isolated_url, tmp_path, broken):

        def left_unsent() -> Submission | None:
            with session_scope(isolated_url) as session:
                row = session.get(Submission, submission_id)
                return row if row is not None and row.attempt == 1 and row.enqueued_at is None else None

        row = wait_until(left_unsent, 60, what="the failed retry to hand the submission to the sweeper")
        assert row.status == "queued" and row.error is None
        assert "NOPERM" in log.read_text() or "lpush" in log.read_text().lower()
    # The sweeper, with a broker that takes sends, puts it back on the queue.
    assert redis.Redis.from_url(REDIS_URL).llen(QUEUE) == 0
    monkeypatch.setenv("GRADER_BROKER_URL", REDIS_URL)
    monkeypatch.setenv("GRADER_TASK_QUEUE", QUEUE)
    get_settings.cache_clear()
    result = sweep(isolated_url, now=datetime.now(UTC) + timedelta(minutes=1))
    assert result.sent == 1
    assert redis.Redis.from_url(REDIS_URL).llen(QUEUE) == 1
