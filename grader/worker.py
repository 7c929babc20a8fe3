"""The Celery app and its one task. Grading logic lives in grader.submissions.tasks; this is delivery only.

    celery -A grader.worker worker      (or `grader worker`; `grader serve` starts one alongside the API)
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from functools import lru_cache

from celery import Celery, signals
from celery.exceptions import Reject, SoftTimeLimitExceeded
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLTimeoutError

from sandbox import SandboxError

from . import sandbox_health
from .db.models import SubmissionStatus
from .settings import get_settings
from .submissions import tasks
from .submissions.dispatch import BROKER_ERRORS
from .submissions.tasks import ArchiveUnavailable
from .workers import WorkerRegistration

log = logging.getLogger(__name__)
# What a claim raises when the database cannot be reached (a restart, a network cut): the message must not be
# acked, or the submission would sit `queued` with no message.
DATABASE_UNREACHABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, SQLTimeoutError)
DATABASE_RETRY_S = 10
# Faults of the grading machine, not of the package: the submission waits in the queue instead of being scored.
INFRASTRUCTURE_FAULTS: tuple[type[Exception], ...] = (SandboxError, ArchiveUnavailable)


def make_celery() -> Celery:
    settings = get_settings()
    app = Celery("grader", broker=settings.broker_url, backend=settings.result_backend)
    limit = settings.grading_time_limit_s
    app.conf.update(
        # Acknowledge after the task ran, one task at a time per process: a worker that dies mid-grading
        # leaves the message to be redelivered instead of lost, and never hoards queued submissions.
        task_default_queue=settings.task_queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=limit,
        task_soft_time_limit=limit - 30,
        task_ignore_result=settings.result_backend is None,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


celery_app = make_celery()


@signals.worker_process_init.connect
def _fresh_connections(**_: object) -> None:
    # A forked child must not share the parent's database connections.
    from .db.session import dispose_engines

    dispose_engines()


@signals.worker_init.connect
def _take_worker_id(**_: object) -> None:
    # In the worker's main process before its pool forks: every pool child (restarted ones too) inherits the
    # id, so the leases the children take name this worker, whose row says whether it is alive.
    from .workers import new_worker_id

    new_worker_id()


_registration: WorkerRegistration | None = None  # this worker's row in `workers`, in its main process


@signals.worker_ready.connect
def _register(**_: object) -> None:
    global _registration
    from .submissions.sweeper import take_back_orphans

    _registration = WorkerRegistration.start()
    try:
        take_back_orphans()
    except DATABASE_UNREACHABLE as error:
        log.warning("could not look for gradings left by dead workers on this host: %s", error)


@signals.worker_shutdown.connect
def _unregister(**_: object) -> None:
    if _registration is not None:
        _registration.stop()


@celery_app.task(name="grader.grade_submission", bind=True)
def grade_submission(self, submission_id: str) -> str:  # type: ignore[no-untyped-def]
    """Grade one queued submission: the fairest one, or this message's own if its holder died (tasks.claim).
    Idempotent: a delivery with nothing to claim returns "skipped"."""
    token = uuid.UUID(submission_id)
    try:
        sandbox_health.require_healthy()  # a sick sandbox takes no grading: nothing is claimed, the message waits
    except SandboxError as error:
        with contextlib.suppress(*DATABASE_UNREACHABLE):
            sandbox_health.note_delayed(token)  # the student reads that grading is delayed, not just "queued"
        log.warning("sandbox unhealthy, %s waits for a healthy worker: %s", submission_id, error)
        return _deliver_delayed(token)
    try:
        claimed = tasks.claim(token)
    except DATABASE_UNREACHABLE as error:
        log.warning("database unreachable while claiming for %s; delivering again in %d s: %s",
                    submission_id, DATABASE_RETRY_S, error)
        _deliver_again(submission_id, DATABASE_RETRY_S)
        return "deferred"
    if claimed.lease is None:
        if claimed.busy_for_s:
            # Its holder may be dead (a kill -9'd pool child is redelivered at once, while its lease is fresh):
            # look again when the lease would have expired.
            _deliver_again(submission_id, claimed.busy_for_s)
            return "deferred"
        return "skipped"
    key = claimed.lease.submission_id  # the row graded, which may not be the message's own (fairness)
    try:
        sandbox_health.clear_delay(key)
        if not tasks.grade_stored(claimed.lease):
            return "superseded"
    except INFRASTRUCTURE_FAULTS as error:
        # An infrastructure fault (sandbox unusable, broken image, reference calibration failed, the archive
        # store out of reach) is never the student's: the submission goes back to the queue marked delayed, and
        # a message for it is sent again (for a healthy worker: this one stops consuming until its sandbox passes
        # the canary) however often it happens.
        sandbox_health.report_fault(error)
        sandbox_health.requeue_delayed(key, error)
        return _deliver_delayed(key)
    except DATABASE_UNREACHABLE as error:
        # The database went away mid-grading: the result cannot be recorded, and it is not the student's fault.
        # Give the grading back if the database lets us; if not, the lease runs out and the message sent here
        # (or the sweeper) takes it over. Never `failed`.
        log.warning("database unreachable while grading %s; it will be graded again: %s", key, error)
        with contextlib.suppress(*DATABASE_UNREACHABLE):
            tasks.set_status(key, SubmissionStatus.queued)
        _deliver_again(str(key), DATABASE_RETRY_S)
        return "deferred"
    except SoftTimeLimitExceeded:
        tasks.set_status(key, SubmissionStatus.failed, "grading took longer than the worker's time limit")
        return "failed"
    except Exception as error:
        log.exception("grading %s failed", submission_id)
        tasks.set_status(key, SubmissionStatus.failed, f"grading failed: {type(error).__name__}: {error}")
        return "failed"
    return "graded"


def _deliver_delayed(key: uuid.UUID) -> str:
    """A message for a submission that waits for a healthy sandbox, a little later (for a healthy worker: this
    one stops consuming until its canary passes). If the broker cannot take it, the row is left for the sweeper
    (enqueued_at NULL) and this message is dropped: nothing loops on a broken broker, nothing is lost."""
    try:
        _deliver_again(str(key), sandbox_health.RESEND_AFTER_S)
    except Reject as error:
        tasks.mark_unsent(key)
        raise Reject(str(error), requeue=False) from error
    return "delayed"


def _deliver_again(submission_id: str, countdown: float) -> None:
    """A fresh message for this token, `countdown` seconds from now, sent before this one is acked (a crash in
    between leaves a duplicate, which is harmless). A fresh message rather than self.retry(): waiting for a lease
    or a database is not a failed try, and must not use up the retries an infrastructure fault gets. If the
    broker cannot take it either, the message is rejected back to the queue: never acked, never lost."""
    try:
        broker_app().send_task("grader.grade_submission", args=[submission_id], countdown=countdown,
                               queue=get_settings().task_queue)
    except BROKER_ERRORS as error:
        raise Reject(f"could not defer {submission_id}: {error}", requeue=True) from error


def broker_app() -> Celery:
    """The app for the current settings' broker (the module's app, unless the settings changed since import,
    as they do between tests)."""
    url = get_settings().broker_url
    return celery_app if celery_app.conf.broker_url == url else _client_for(url)


@lru_cache(maxsize=4)
def _client_for(url: str) -> Celery:
    return Celery("grader", broker=url)


def enqueue(submission_id: uuid.UUID | str) -> None:
    """Send the grading task; call after the submission's row is committed, so the worker finds it."""
    broker_app().send_task("grader.grade_submission", args=[str(submission_id)], queue=get_settings().task_queue)
