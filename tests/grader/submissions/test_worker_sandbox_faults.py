"""A worker whose sandbox becomes unusable for a while: real `grader worker`, real Redis (the machine's, a queue of
this test's own), real bwrap sandboxes whose rootfs is a symlink the test points at nothing and back.

What must hold: every submission is graded once the sandbox works again, with the offline grade's score; none is
ever `failed` or scored meanwhile; the student reads that grading is delayed (no host path); the worker's row says
`sandbox_unhealthy` with the canary's error while it takes no work, and `ready` again afterwards."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from running_server import grader_process
from sqlalchemy import select
from submission_helpers import REAL_ROOTFS, new_user, point_symlink, wait_until

from grader.bootstrap import prepare_database
from grader.db.models import Submission, Worker, WorkerState
from grader.db.session import session_scope
from grader.sandbox_health import healthz_entry, workers_by_state
from grader.submissions import service
from grader.submissions.report import submission_report

REDIS_URL = "redis://127.0.0.1:6379/13"
QUEUE = f"grader-test-faults-{secrets.token_hex(6)}"



@pytest.fixture
def rootfs_link(tmp_path: Path) -> Path:
    link = tmp_path / "rootfs"
    link.symlink_to(REAL_ROOTFS)
    return link


@pytest.fixture(params=["redis", "embedded"])
def broker_url(request: pytest.FixtureRequest, isolated_env: Path) -> str:
    """Production's Redis, and the embedded SQLAlchemy broker `grader serve` uses (its worker consumes without an
    event loop, so pausing and resuming the consumer takes another path there)."""
    return REDIS_URL if request.param == "redis" else f"sqla+sqlite:///{isolated_env.parent / 'broker.sqlite'}"


@pytest.fixture
def worker_log(sandbox_ready: None, isolated_env: Path, isolated_url: str, tmp_path: Path, rootfs_link: Path,
               broker_url: str) -> Iterator[Path]:
    prepare_database(isolated_url)
    env = {**os.environ, "GRADER_DATABASE_URL": isolated_url, "GRADER_DATA_DIR": str(isolated_env),
           "GRADER_BROKER_URL": broker_url, "GRADER_TASK_QUEUE": QUEUE, "GRADER_SANDBOX": "bwrap",
           "GRADER_SANDBOX_ROOTFS": str(rootfs_link), "GRADER_SANDBOX_RECHECK_MAX_S": "2"}
    with grader_process(("worker",), env, tmp_path / "worker.log", ready=lambda w: "ready." in w.read_log(),
                        timeout=60) as running:
        yield running.log


def _rows(url: str, ids: list[uuid.UUID]) -> list[Submission]:
    with session_scope(url) as session:
        rows = session.scalars(select(Submission).where(Submission.id.in_(ids))).all()
        session.expunge_all()
        return list(rows)


def _worker_row(url: str) -> Worker | None:
    with session_scope(url) as session:
        row = session.scalars(select(Worker)).first()
        if row is not None:
            session.expunge(row)
        return row


def test_an_unusable_sandbox_delays_gradings_and_never_fails_them(worker_log: Path, isolated_url: str,
                                                                  rootfs_link: Path, tmp_path: Path,
                                                                  reference_zip: Path, broker_url: str) -> None:
    time.sleep(2)  # the worker's start-up canary has passed (it runs as the worker comes up)
    point_symlink(rootfs_link, tmp_path / "no-rootfs-here")  # the sandbox breaks while the worker runs
    with session_scope(isolated_url, write=True) as session:
        student, _ = new_user(session, "student")
        ids = [service.accept_submission(session, student, reference_zip, f"r{i}.zip").id for i in range(2)]
    client = Celery("test-client", broker=broker_url)
    for key in ids:
        client.send_task("grader.grade_submission", args=[str(key)], queue=QUEUE)

    sick = wait_until(lambda: (row := _worker_row(isolated_url)) and row.state == "sandbox_unhealthy" and row,
                      60, what="the worker to mark its sandbox unhealthy")
    assert sick.detail is not None and "rootfs missing" in sick.detail  # the operator's words, with the path
    delayed = wait_until(lambda: [r for r in _rows(isolated_url, ids) if r.delayed_reason], 60,
                         what="a submission put back in the queue as delayed")
    assert all(r.status == "queued" and r.score is None and r.error is None for r in delayed)
    assert healthz_entry().startswith("error: 1 of 1 workers")
    assert workers_by_state()[WorkerState.sandbox_unhealthy.value] == 1
    with session_scope(isolated_url) as session:
        report = submission_report(session.get(Submission, delayed[0].id), viewer="student")  # type: ignore[arg-type]
    assert report["status"] == "queued" and "Grading is delayed" in report["delayed"]
    assert "/" not in report["delayed"] and "rootfs" not in report["delayed"]  # no host paths, no operator notes

    # While the sandbox stays broken (several canary re-checks), nothing is failed or scored.
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        assert all(r.status in ("queued", "running") and r.score is None for r in _rows(isolated_url, ids))
        time.sleep(0.5)
    assert "Canceling queue" in worker_log.read_text()  # it stopped taking work

    point_symlink(rootfs_link, REAL_ROOTFS)  # the operator fixes it
    graded = wait_until(lambda: (rows := _rows(isolated_url, ids)) and all(r.status == "graded" for r in rows)
                        and rows, 300, what="both submissions graded once the sandbox works again")
    assert all(r.score == r.max_score == 100.0 and r.delayed_reason is None for r in graded)  # as `grader grade`
    healthy = _worker_row(isolated_url)
    assert healthy is not None and healthy.state == "ready" and healthy.detail is None
    assert healthz_entry() == "ok"
