"""The grading queue: the Celery app (its configuration) and sending a submission's task. Senders (uploads,
regrades, the sweeper) import this module; only the worker's entry point (grader.worker) imports the task body.

    enqueue(submission.id)       # after the row's commit, so the worker finds it
    broker_app()                 # the app for the current settings' broker
"""

from __future__ import annotations

import uuid
from functools import lru_cache

from celery import Celery
from kombu.exceptions import OperationalError as BrokerUnavailable

from .settings import get_settings

TASK_NAME = "grader.grade_submission"

# What a send raises when the broker cannot take it (tried against a closed port, an unknown host, a missing
# Redis database and an unopenable SQLite broker: Celery's publish retries, then kombu re-raises the transport's
# connection and channel errors as its OperationalError). OSError is for a socket error that escapes that
# wrapping. Anything else (say, an unserialisable argument) is a bug and should be a 500.
BROKER_ERRORS: tuple[type[Exception], ...] = (BrokerUnavailable, OSError)


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


def broker_app() -> Celery:
    """The app for the current settings' broker (the module's app, unless the settings changed since import,
    as they do between tests)."""
    url = get_settings().broker_url
    return celery_app if celery_app.conf.broker_url == url else _client_for(url)


@lru_cache(maxsize=4)
def _client_for(url: str) -> Celery:
    return Celery("grader", broker=url)


def enqueue(submission_id: uuid.UUID | str, countdown: float | None = None) -> None:
    """Send the grading task (`countdown` seconds from now); call after the submission's row is committed, so
    the worker finds it. Raises one of BROKER_ERRORS when the broker cannot take it."""
    broker_app().send_task(TASK_NAME, args=[str(submission_id)], countdown=countdown,
                           queue=get_settings().task_queue)
