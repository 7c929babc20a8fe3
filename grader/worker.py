"""The grading worker's entry point: the task and the worker's signals. The Celery app and sending tasks live in
grader.queue; the grading logic in grader.submissions.tasks; status changes in grader.submissions.status. Nothing
but the worker's entry point (`grader worker`, `celery -A grader.worker`) imports this module.

    celery -A grader.worker worker      (or `grader worker`; `grader serve` starts one alongside the API)
"""

from __future__ import annotations

import contextlib
import errno
import logging
import uuid
from typing import Any

from celery import signals
from celery.exceptions import Reject, SoftTimeLimitExceeded
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLTimeoutError

from sandbox import SandboxError

from . import sandbox_health
from .lms.lti import tasks as lti_tasks  # noqa: F401  (registers grader.lti.send_score, grader.lti.sync_roster)
from .lms.webhooks import task as webhook_task  # noqa: F401  (registers grader.deliver_webhook)
from .queue import BROKER_ERRORS, TASK_NAME, broker_app, celery_app, enqueue
from .similarity import task as similarity_task  # noqa: F401  (registers grader.similarity.compare)
from .submissions import status, tasks
from .submissions.tasks import ArchiveUnavailable
from .workers import WorkerRegistration

__all__ = ["broker_app", "celery_app", "grade_submission"]  # broker_app: for callers not yet moved to grader.queue

log = logging.getLogger(__name__)
# What a claim raises when the database cannot be reached (a restart, a network cut): the message must not be
# acked, or the submission would sit `queued` with no message.
DATABASE_UNREACHABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, SQLTimeoutError)
DATABASE_RETRY_S = 10
# Faults of the grading machine, not of the package: the submission waits in the queue instead of being scored.
INFRASTRUCTURE_FAULTS: tuple[type[Exception], ...] = (SandboxError, ArchiveUnavailable)
# OSErrors that say the machine cannot go on (no space, no quota, a read-only or failing disk), not the package.
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


@signals.celeryd_after_setup.connect
def _consume_the_lms_queue(instance: Any, **_: object) -> None:
    # The LMS channels (webhook deliveries, LTI scores and roster syncs) have their own queue; every worker
    # consumes it as well, and keeps doing so while its sandbox is sick (only the grading queue's consumer is
    # paused).
    from .lms.queue import lms_queue

    instance.app.amqp.queues.select_add(lms_queue())
    # The similarity comparisons too (their own queue, off the grading path; grader.similarity.queue).
    from .similarity.queue import similarity_queue

    instance.app.amqp.queues.select_add(similarity_queue())


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


@celery_app.task(name=TASK_NAME, bind=True)
def grade_submission(self, submission_id: str) -> str:  # type: ignore[no-untyped-def]
    """Grade one queued submission: the fairest one, or this message's own if its holder died (tasks.claim).
    Idempotent: a delivery with nothing to claim returns "skipped"."""
    token = uuid.UUID(submission_id)
    try:
        sandbox_health.require_healthy()  # a sick sandbox takes no grading: nothing is claimed, the message waits
    except SandboxError as error:
        with contextlib.suppress(*DATABASE_UNREACHABLE):
            status.note_delayed(token)  # the student reads that grading is delayed, not just "queued"
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
        status.clear_delay(key)
        if not tasks.grade_stored(claimed.lease):
            return "superseded"
    except INFRASTRUCTURE_FAULTS as error:
        # An infrastructure fault (sandbox unusable, broken image, reference calibration failed, the archive
        # store out of reach) is never the student's: the submission goes back to the queue marked delayed, and
        # a message for it is sent again (for a healthy worker: this one stops consuming until its sandbox passes
        # the canary) however often it happens.
        sandbox_health.report_fault(error)
        status.requeue_delayed(key, error)
        return _deliver_delayed(key)
    except DATABASE_UNREACHABLE as error:
        # The database went away mid-grading: the result cannot be recorded, and it is not the student's fault.
        # Give the grading back if the database lets us; if not, the lease runs out and the message sent here
        # (or the sweeper) takes it over. Never `failed`.
        log.warning("database unreachable while grading %s; it will be graded again: %s", key, error)
        with contextlib.suppress(*DATABASE_UNREACHABLE):
            status.give_back(key)
        _deliver_again(str(key), DATABASE_RETRY_S)
        return "deferred"
    except SoftTimeLimitExceeded:
        status.mark_failed(key, "grading took longer than the worker's time limit")
        return "failed"
    except OSError as error:
        if error.errno not in MACHINE_ERRNOS:
            log.exception("grading %s failed", submission_id)
            status.mark_failed(key, f"grading failed: {type(error).__name__}: {error}")
            return "failed"
        # The machine's disk is full or broken under the grading (scratch, the sandbox's run folders): the
        # grader's problem, so back to the queue, delayed, like a sick sandbox.
        sandbox_health.report_fault(error)
        status.requeue_delayed(key, error)
        return _deliver_delayed(key)
    except Exception as error:
        log.exception("grading %s failed", submission_id)
        status.mark_failed(key, f"grading failed: {type(error).__name__}: {error}")
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
    between leaves a duplicate, which is harmless). A fresh message rather than self.retry(): waiting for a lease,
    a database or a sandbox is not a failed try, and must never use up retries and end `failed`. If the broker
    cannot take it either, the message is rejected back to the queue: never acked, never lost."""
    try:
        enqueue(submission_id, countdown=countdown)
    except BROKER_ERRORS as error:
        raise Reject(f"could not defer {submission_id}: {error}", requeue=True) from error
