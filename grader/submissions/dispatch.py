"""Hand a committed submission's grading task to the broker, or leave it for the sweeper.

    enqueue_or_leave(session, submission.id)   # after the row's commit: True if sent, False if left for later

The row is committed before anything is sent, so an accepted upload is durable whatever the broker does. A
broker that is down (or a process that dies before the send) leaves `enqueued_at` NULL, and
grader.submissions.sweeper sends it later: the student waits a little longer instead of getting a 500 for an
upload that was in fact accepted, and the row is never stranded in `queued`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from prometheus_client import Counter
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..db.models import Submission

log = logging.getLogger(__name__)


SEND_FAILURES = Counter("grader_enqueue_failures", "Grading tasks the broker refused, left for the sweeper",
                        ["source"])


def send(submission_id: uuid.UUID, *, source: str) -> bool:
    """Send the grading task; False, logged and counted under `source`, when the broker is unreachable."""
    from ..queue import BROKER_ERRORS, enqueue  # imported on use: the Celery app is only needed by whoever sends

    try:
        enqueue(submission_id)
    except BROKER_ERRORS as error:
        log.warning("broker unreachable, submission %s left for the sweeper (%s): %s", submission_id, source, error)
        SEND_FAILURES.labels(source=source).inc()
        return False
    return True


def enqueue_or_leave(session: Session, submission_id: uuid.UUID, *, source: str = "upload",
                     now: datetime | None = None) -> bool:
    """Send the task of a committed submission and record when; on a broker error leave enqueued_at NULL for
    the sweeper. Sends before touching `session`, so no transaction (on SQLite, no write lock) is held while
    the broker is slow. Raises nothing for broker or database trouble: the submission is safe either way."""
    if not send(submission_id, source=source):
        return False
    try:
        # Only if still NULL: a sweeper that claimed the row meanwhile keeps its own timestamp.
        session.execute(update(Submission).where(Submission.id == submission_id, Submission.enqueued_at.is_(None))
                        .values(enqueued_at=now or datetime.now(UTC)))
        session.commit()
    except SQLAlchemyError as error:
        # The task is out; an unrecorded send only means the sweeper sends it once more, which the task's claim
        # turns into a no-op. Not worth failing the request over.
        session.rollback()
        log.warning("submission %s sent but enqueued_at not recorded: %s", submission_id, error)
    return True


def waiting_messages() -> int | None:
    """Messages waiting on the grading queue in the broker (not those a worker holds), or None if the broker
    cannot say. Any message grades any queued submission (grader.submissions.fairness), so the sweeper re-sends
    only what the queue lacks."""
    from ..queue import broker_app
    from ..settings import get_settings

    try:
        with broker_app().connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
            declared = connection.default_channel.queue_declare(queue=get_settings().task_queue, passive=True)
            return int(declared.message_count)
    except Exception as error:  # an unknown count only means re-sending every stale row: safe, if noisy
        log.info("could not count the broker's waiting messages: %s", error)
        return None
