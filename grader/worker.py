"""The Celery app and its one task. Grading logic lives in grader.submissions.tasks; this is delivery only.

    celery -A grader.worker worker      (or `grader worker`; `grader serve` starts one alongside the API)
"""

from __future__ import annotations

import logging
import uuid
from functools import lru_cache

from celery import Celery, signals
from celery.exceptions import Reject, SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from sandbox import SandboxError

from . import sandbox_health
from .db.models import SubmissionStatus
from .settings import get_settings
from .submissions import tasks

log = logging.getLogger(__name__)
MAX_RETRIES = 3


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


@celery_app.task(name="grader.grade_submission", bind=True, max_retries=MAX_RETRIES)
def grade_submission(self, submission_id: str) -> str:  # type: ignore[no-untyped-def]
    """Grade one submission. Idempotent: a delivery that cannot claim it (already running or done) returns."""
    key = uuid.UUID(submission_id)
    if not tasks.claim(key):
        return "skipped"
    try:
        sandbox_health.require_healthy()  # a sick sandbox takes no grading: the submission waits for a healthy one
        sandbox_health.clear_delay(key)
        tasks.grade_stored(key)
    except SandboxError as error:
        # An infrastructure fault (sandbox unusable, broken image, reference calibration failed) is never the
        # student's: the submission goes back to the queue marked delayed, and is sent again (for a healthy
        # worker: this one stops consuming until its sandbox passes the canary) however often it happens.
        sandbox_health.report_fault(error)
        sandbox_health.requeue_delayed(key, error)
        try:
            raise self.retry(exc=error, countdown=sandbox_health.RESEND_AFTER_S,
                             max_retries=self.request.retries + 1) from error  # never "retries exhausted"
        except Reject:
            tasks.mark_unsent(key)  # the broker is down too: the sweeper sends it once it is back
            raise
    except OperationalError as error:
        if self.request.retries < MAX_RETRIES:
            # Back to queued so the retry can claim it again; exponential backoff for a sick sandbox or database.
            tasks.set_status(key, SubmissionStatus.queued)
            try:
                raise self.retry(exc=error, countdown=2 ** (self.request.retries + 1)) from error
            except Reject:
                # Celery could not send the retry (the broker is down too) and drops this message: the row,
                # queued again, is marked unsent so the sweeper sends it once the broker is back.
                tasks.mark_unsent(key)
                raise
        tasks.set_status(key, SubmissionStatus.failed, f"grading infrastructure failed: {error}")
        return "failed"
    except SoftTimeLimitExceeded:
        tasks.set_status(key, SubmissionStatus.failed, "grading took longer than the worker's time limit")
        return "failed"
    except Exception as error:
        log.exception("grading %s failed", submission_id)
        tasks.set_status(key, SubmissionStatus.failed, f"grading failed: {type(error).__name__}: {error}")
        return "failed"
    return "graded"


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
