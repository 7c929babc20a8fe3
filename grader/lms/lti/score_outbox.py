"""When an LTI score is tried again, and what the sweeper sends (the webhook outbox's rules, for AGS scores).

    supersede_older(session, row)        # a newer score for the same person and line item replaces unsent ones
    schedule_retry(row, now)             # after a failed try: the wait before the next, or None (given up)
    sweep_scores(now)                    # send again the rows due for a while whose message was lost
    start_over(session)                  # `grader lti send-scores`: given-up rows get a fresh set of tries

A failed try is retried after 30 s, doubling, 8 times (the last about 1 h after the one before: ~2 h in all).
Waits up to MESSAGE_WAIT_MAX_S are delayed Celery messages; longer ones, and messages a broker restart or a
killed worker lost, are sent by the sweeper every API process runs: a row due for over RESEND_AFTER and not
tried is claimed (enqueued_at, one conditional UPDATE, so replicas do not both send) and sent again. A try of a
row already sent, superseded or given up does nothing, so a duplicate message costs one query.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ...db.models import LtiScoreOutbox
from ...db.session import session_scope

log = logging.getLogger(__name__)
RETRY_S = (30, 60, 120, 240, 480, 960, 1920, 3840)
# A delayed message longer than this could outlive Redis's visibility timeout (then be delivered twice).
MESSAGE_WAIT_MAX_S = 300
RESEND_AFTER = timedelta(seconds=120)
BATCH = 200


def _pending() -> object:
    return (LtiScoreOutbox.sent_at.is_(None) & LtiScoreOutbox.superseded_at.is_(None)
            & LtiScoreOutbox.gave_up_at.is_(None))


def supersede_older(session: Session, row: LtiScoreOutbox) -> None:
    """Mark the person's unsent scores on the same line item older than `row` superseded: sent after it, an
    older score would overwrite the newer one (or be refused by a platform that checks timestamps forever)."""
    session.execute(update(LtiScoreOutbox).where(
        LtiScoreOutbox.platform_id == row.platform_id, LtiScoreOutbox.lineitem_url == row.lineitem_url,
        LtiScoreOutbox.user_sub == row.user_sub, LtiScoreOutbox.id < row.id, _pending())
        .values(superseded_at=row.created_at))


def schedule_retry(row: LtiScoreOutbox, now: datetime) -> float | None:
    """After the row's failed try number `row.attempts`: set when the next is due and answer the wait in
    seconds, or give up after the last (None)."""
    if row.attempts > len(RETRY_S):
        row.gave_up_at, row.next_attempt_at = now, None
        return None
    wait = RETRY_S[row.attempts - 1]
    row.next_attempt_at = now + timedelta(seconds=wait)
    return float(wait)


def sweep_scores(now: datetime | None = None, url: str | None = None) -> int:
    """Send again the pending rows due for over RESEND_AFTER (a try moves next_attempt_at or ends the row, so
    such a row's message is lost or never went out), each claimed first; how many were sent."""
    from .tasks import enqueue_send

    now = now or datetime.now(UTC)
    stale = now - RESEND_AFTER
    due = (_pending() & (LtiScoreOutbox.next_attempt_at <= stale)
           & or_(LtiScoreOutbox.enqueued_at.is_(None), LtiScoreOutbox.enqueued_at < stale))
    with session_scope(url) as session:
        ids = session.scalars(select(LtiScoreOutbox.id).where(due).order_by(LtiScoreOutbox.next_attempt_at)
                              .limit(BATCH)).all()
    sent = 0
    for outbox_id in ids:
        with session_scope(url, write=True) as session:
            claimed = session.execute(update(LtiScoreOutbox).where(LtiScoreOutbox.id == outbox_id, due)
                                      .values(enqueued_at=now)
                                      .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if claimed and enqueue_send(outbox_id):
            sent += 1
        elif claimed:
            break  # the broker is down: the next sweep tries again (the claim lapses after RESEND_AFTER)
    return sent


def start_over(session: Session, now: datetime | None = None) -> list[int]:
    """Give every given-up row a fresh set of tries, due now; the ids of every row still to send."""
    now = now or datetime.now(UTC)
    session.execute(update(LtiScoreOutbox).where(LtiScoreOutbox.sent_at.is_(None),
                                                 LtiScoreOutbox.superseded_at.is_(None),
                                                 LtiScoreOutbox.gave_up_at.is_not(None))
                    .values(gave_up_at=None, attempts=0, next_attempt_at=now))
    session.flush()
    return list(session.scalars(select(LtiScoreOutbox.id).where(_pending()).order_by(LtiScoreOutbox.id)))
