"""The outbox: one delivery row per (event, endpoint), written with the event; its task sent after the commit.

    add_deliveries(session, event, endpoints)   # flush; the task is sent when `session` commits
    send_task(delivery_id, countdown=None)      # False when the broker cannot take it (the sweeper will)
    sweep_deliveries(now)                       # send what is due but whose message may be lost

Nothing here blocks grading: a broker that is down only leaves the delivery for the sweeper.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ...db.models import LmsEvent, WebhookDelivery, WebhookEndpoint, WebhookState
from ...db.session import after_commit, session_scope
from ..queue import lms_queue

log = logging.getLogger(__name__)

TASK_NAME = "grader.deliver_webhook"
# Deliveries wait on their own queue (the grading queue's length tells the grading sweeper how many grading
# messages are out); every grading worker consumes it too (grader.worker).
# A due delivery whose message went out this long ago and is still pending may have lost it: sent again.
RESEND_AFTER = timedelta(seconds=60)
# Waits longer than this are left to the sweeper rather than held as a delayed message in the broker.
LONGEST_COUNTDOWN_S = 300.0
BATCH = 200
_UNSENT = "lms_unsent_deliveries"


def endpoints_for(session: Session, course_id: int, kind: str) -> list[WebhookEndpoint]:
    """The course's active endpoints that asked for `kind`."""
    endpoints = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.course_id == course_id,
                                                              WebhookEndpoint.disabled_at.is_(None))
                                .order_by(WebhookEndpoint.id)).all()
    return [endpoint for endpoint in endpoints if kind in (endpoint.events or [])]


def add_deliveries(session: Session, event: LmsEvent, endpoints: Sequence[WebhookEndpoint]) -> list[int]:
    """One pending delivery per endpoint, due now; their tasks go to the broker after `session` commits."""
    now = datetime.now(UTC)
    rows = [WebhookDelivery(event_id=event.id, endpoint_id=endpoint.id, state=WebhookState.pending.value,
                            tries=0, next_attempt_at=now) for endpoint in endpoints]
    session.add_all(rows)
    session.flush()
    ids = [row.id for row in rows]
    send_after_commit(session, ids)
    return ids


def send_after_commit(session: Session, delivery_ids: Sequence[int]) -> None:
    """Send these deliveries' tasks once `session` commits (never before: the worker must find the rows)."""
    for delivery_id in delivery_ids:
        after_commit(session, _UNSENT, delivery_id, _send_committed)


def _send_committed(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        if not send_task(delivery_id):
            break  # the broker is down: the sweeper sends the rest


def send_task(delivery_id: int, countdown: float | None = None) -> bool:
    """Send the delivery's task; False (logged) when the broker cannot take it: the sweeper sends it later."""
    from ...queue import BROKER_ERRORS, broker_app

    try:
        broker_app().send_task(TASK_NAME, args=[delivery_id], countdown=countdown, queue=lms_queue())
    except BROKER_ERRORS as error:
        log.warning("broker unreachable, webhook delivery %s left for the sweeper: %s", delivery_id, error)
        return False
    return True


def sweep_deliveries(now: datetime | None = None, url: str | None = None) -> int:
    """Send again the pending deliveries that are due and whose last message (if any) went out over
    RESEND_AFTER ago: the broker lost it, or it was never sent. Claimed by a conditional UPDATE first, so two
    sweepers do not both send; a duplicate message would be harmless anyway (the task claims its try). How many."""
    now = now or datetime.now(UTC)
    due = ((WebhookDelivery.state == WebhookState.pending.value) & (WebhookDelivery.next_attempt_at <= now)
           # Never sent by a sweep: its after-commit message went out with the row, unless the broker was down.
           & or_(WebhookDelivery.enqueued_at.is_(None) & (WebhookDelivery.created_at < now - RESEND_AFTER),
                 WebhookDelivery.enqueued_at < now - RESEND_AFTER))
    with session_scope(url) as session:
        ids = session.scalars(select(WebhookDelivery.id).where(due).order_by(WebhookDelivery.next_attempt_at)
                              .limit(BATCH)).all()
    sent = 0
    for delivery_id in ids:
        with session_scope(url, write=True) as session:
            claimed = session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, due)
                                      .values(enqueued_at=now)
                                      .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if not claimed:
            continue
        if not send_task(delivery_id):
            with session_scope(url, write=True) as session:  # hand the claim back: the next sweep sends it
                session.execute(update(WebhookDelivery)
                                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.enqueued_at == now)
                                .values(enqueued_at=None).execution_options(synchronize_session=False))
            break
        sent += 1
    return sent
