"""The comparison's Celery task (registered by the worker's entry point, grader.worker; senders use
grader.similarity.queue and never import this module). Off the grading path: its own queue, after the grade's
commit. Idempotent: a duplicate message finds the counting submission compared and does nothing."""

from __future__ import annotations

import uuid

from ..queue import celery_app
from .comparison import compare_counting
from .queue import TASK_NAME

SOFT_LIMIT_S = 120
HARD_LIMIT_S = 150


@celery_app.task(name=TASK_NAME, acks_late=True, ignore_result=True, soft_time_limit=SOFT_LIMIT_S,
                 time_limit=HARD_LIMIT_S)
def compare_submission(submission_id: str) -> str:
    return compare_counting(uuid.UUID(submission_id))
