"""The LTI Celery tasks: sending one outbox score (grader.lms.lti.ags.send_score, with retries and backoff) and
syncing a course's roster from the LMS (grader.lms.lti.nrps). The worker must import this module for the tasks
to be registered."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from ...courses.zones import as_utc
from ...db.session import after_commit
from ...queue import BROKER_ERRORS, broker_app, celery_app
from ..queue import lms_queue

log = logging.getLogger(__name__)
TASK_NAME = "grader.lti.send_score"


def enqueue_send(outbox_id: int) -> bool:
    """Ask a worker to send outbox row `outbox_id`; a broker that is down leaves it for the sweeper (False)."""
    try:
        broker_app().send_task(TASK_NAME, args=[outbox_id], queue=lms_queue())
    except BROKER_ERRORS as error:
        log.warning("LTI score %s not queued (%s): the sweeper sends it", outbox_id, error)
        return False
    return True


@celery_app.task(name=TASK_NAME, bind=True, max_retries=None, acks_late=True)
def send_score_task(self, outbox_id: int) -> None:  # type: ignore[no-untyped-def]
    from ...db.models import LtiScoreOutbox
    from ...db.session import session_scope
    from .ags import ScoreNotSent, send_score
    from .score_outbox import MESSAGE_WAIT_MAX_S

    # The try and its schedule are committed before the retry is asked for.
    with session_scope(write=True) as session:
        problem = send_score(session, outbox_id)
        row = session.get(LtiScoreOutbox, outbox_id)
        due = row.next_attempt_at if problem is not None and row is not None else None
    if due is None:
        return  # sent, nothing to send, or given up
    wait = (as_utc(due) - datetime.now(UTC)).total_seconds()
    if wait <= MESSAGE_WAIT_MAX_S:
        raise self.retry(exc=ScoreNotSent(problem), countdown=max(0.0, wait))
    log.info("LTI score %s: %s; the sweeper tries again in %.0f s", outbox_id, problem, wait)


ROSTER_TASK_NAME = "grader.lti.sync_roster"


def schedule_roster_sync(session: Session, course_slug: str) -> None:
    """After `session` commits (the launch that enrolled the staff member), ask a worker to sync the roster."""
    after_commit(session, "lti_roster_syncs", course_slug, _sync_all)


def _sync_all(course_slugs: list[str]) -> None:
    for course_slug in course_slugs:
        enqueue_roster_sync(course_slug)


def enqueue_roster_sync(course_slug: str) -> None:
    try:
        broker_app().send_task(ROSTER_TASK_NAME, args=[course_slug], queue=lms_queue())
    except BROKER_ERRORS as error:
        log.warning("LTI roster sync of %s not queued (%s): use the course's sync button", course_slug, error)


@celery_app.task(name=ROSTER_TASK_NAME, acks_late=True)
def sync_roster_task(course_slug: str) -> dict[str, Any] | None:
    from ...db.session import session_scope
    from ...errors import GraderError
    from .nrps import sync_course_by_slug

    try:
        with session_scope(write=True) as session:
            return sync_course_by_slug(session, course_slug)
    except GraderError as error:
        log.warning("LTI roster sync of %s: %s", course_slug, error.detail)
        return None
