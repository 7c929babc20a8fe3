"""Which queued submission a worker grades next: per-student fairness at the deadline.

    fairest_queued(session, now) -> submission id, or None when nothing is queued

A grading message is a token for "grade one queued submission", not an order for one particular row: every
queued row has (at least) one message out, so whichever row a message's delivery takes, every row is still
graded once. The row taken is the oldest queued one of the students with the least load, a student's load being
their gradings running now plus those started in the last `fairness_window_s`. So a student who sent 20
resubmissions gets one graded, then waits behind another student's first; with no backlog that is upload order.
The message's own row is not preferred: among equals, oldest first, so no row is passed over for long.

On PostgreSQL the pick is locked (FOR UPDATE SKIP LOCKED) until the caller's claim commits, so concurrent
workers pick different rows instead of racing for one; SQLite's writes are serial anyway.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from ..db.models import Submission, SubmissionStatus
from ..settings import get_settings


def fairest_queued(session: Session, now: datetime) -> uuid.UUID | None:
    since = now - timedelta(seconds=get_settings().fairness_window_s)
    recent = (select(Submission.user_id, func.count().label("gradings"))
              .where(or_(Submission.status == SubmissionStatus.running.value, Submission.started_at >= since))
              .group_by(Submission.user_id).subquery())
    load = func.coalesce(recent.c.gradings, 0)
    queued = (select(Submission.id)
              .outerjoin(recent, recent.c.user_id == Submission.user_id)
              .where(Submission.status == SubmissionStatus.queued.value))
    return session.scalar(_locked(session, queued.order_by(load, Submission.created_at, Submission.id).limit(1)))


def _locked(session: Session, query: Select) -> Select:  # type: ignore[type-arg]
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=Submission)
    return query
