"""The LTI Celery tasks: sending one outbox score (grader.lms.lti.ags.send_score, with retries and backoff) and
syncing a course's roster from the LMS (grader.lms.lti.nrps). The worker must import this module for the tasks
to be registered."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from ...queue import BROKER_ERRORS, broker_app, celery_app
from ..queue import lms_queue

log = logging.getLogger(__name__)
TASK_NAME = "grader.lti.send_score"
MAX_RETRIES = 8


def enqueue_send(outbox_id: int) -> None:
    """Ask a worker to send outbox row `outbox_id`; a broker that is down leaves it for `grader lti send-scores`."""
    try:
        broker_app().send_task(TASK_NAME, args=[outbox_id], queue=lms_queue())
    except BROKER_ERRORS as error:
        log.warning("LTI score %s not queued (%s): `grader lti send-scores` sends it", outbox_id, error)


@celery_app.task(name=TASK_NAME, bind=True, max_retries=MAX_RETRIES, acks_late=True)
def send_score_task(self, outbox_id: int) -> None:  # type: ignore[no-untyped-def]
    from ...db.session import session_scope
    from .ags import ScoreNotSent, send_score

    # The attempt and its error are committed before the retry is scheduled.
    with session_scope(write=True) as session:
        problem = send_score(session, outbox_id)
    if problem is not None:
        # 30 s, 1 min, 2 min ... about 1 h at the last try: a platform that is down for a while still gets it.
        raise self.retry(exc=ScoreNotSent(problem), countdown=30 * 2 ** self.request.retries)


ROSTER_TASK_NAME = "grader.lti.sync_roster"


def schedule_roster_sync(session: Session, course_slug: str) -> None:
    """After `session` commits (the launch that enrolled the staff member), ask a worker to sync the roster."""
    event.listen(session, "after_commit", lambda _: enqueue_roster_sync(course_slug), once=True)


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
