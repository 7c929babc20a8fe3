"""Sending the comparison task: to its own queue, `<GRADER_TASK_QUEUE>.similarity`, never behind or ahead of the
gradings; every worker consumes it too (grader.worker). Grading makes one call, from the grade's transaction:

    compare_after_commit(session, submission)   # the task is sent once that transaction commits, never before

A broker that is down only loses the comparison, never the grade: `grader similarity rescan` sends it again.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.orm import Session

from ..db.session import after_commit
from ..settings import get_settings

TASK_NAME = "grader.similarity.compare"
QUEUE_SUFFIX = ".similarity"
_PENDING = "similarity_pending"

log = logging.getLogger(__name__)


def similarity_queue() -> str:
    return get_settings().task_queue + QUEUE_SUFFIX


def compare_after_commit(session: Session, submission_id: uuid.UUID) -> None:
    after_commit(session, _PENDING, submission_id, _send_all)


def _send_all(submission_ids: list[uuid.UUID]) -> None:
    for submission_id in submission_ids:
        send(submission_id)


def send(submission_id: uuid.UUID | str) -> bool:
    """Send the task; False (logged) when the broker cannot take it."""
    from ..queue import BROKER_ERRORS, broker_app

    try:
        broker_app().send_task(TASK_NAME, args=[str(submission_id)], queue=similarity_queue())
    except BROKER_ERRORS as error:
        log.warning("broker unreachable, similarity of %s not compared (rescan sends it again): %s",
                    submission_id, error)
        return False
    return True
