"""The operational view for course staff: is grading working, and is any of their students' work stuck?

    grading_status(session, user)
    # {"stuck_gradings": 2, "oldest_queued_s": 840.5, "grading": "delayed", "detail": "1 of 2 workers' ..."}

- stuck: a submission of a course the user teaches (admins: every course) queued longer than the stuck_queued_s setting,
  queued with a delayed_reason (it met a sick sandbox), or running with a lease heartbeat older than the
  lease timeout (its worker died; the sweeper will hand it on).
- grading: `paused` when no live worker takes work (none alive, or every live one's sandbox fails its canary),
  `delayed` when some worker's sandbox is sick or gradings are stuck, else `ok`
  (grader.submissions.grading_status.grading_state: one rule for staff and students). `detail` is in the
  operator's words (the workers table's detail, which names what is broken); None when all is well.
  Students get the state without the detail from GET /api/v1/status.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..db.models import Assignment, Role, Submission, SubmissionStatus, User
from ..settings import get_settings
from ..submissions.grading_status import grading_state
from ..workers import alive_workers
from .access import require_staff, staff_courses


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything this service stores is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _in_scope(session: Session, user: User) -> Any:
    """The WHERE clause limiting submissions to the user's courses; None for an admin (every course)."""
    if user.role == Role.admin:
        return None
    course_ids = [course.id for course, _ in staff_courses(session, user)]
    return Submission.assignment_id.in_(select(Assignment.id).where(Assignment.course_id.in_(course_ids)))


def grading_status(session: Session, user: User, now: datetime | None = None) -> dict[str, Any]:
    require_staff(session, user)
    now = now or datetime.now(UTC)
    lease_s = get_settings().lease_timeout_s
    scope = _in_scope(session, user)
    queued = Submission.status == SubmissionStatus.queued.value
    stale = now - timedelta(seconds=lease_s)
    stuck_clause = or_(
        and_(queued, or_(Submission.created_at < now - timedelta(seconds=get_settings().stuck_queued_s),
                         Submission.delayed_reason.is_not(None))),
        and_(Submission.status == SubmissionStatus.running.value,
             or_(Submission.heartbeat_at < stale,
                 and_(Submission.heartbeat_at.is_(None), or_(Submission.started_at.is_(None),
                                                             Submission.started_at < stale)))),
    )
    stuck_query = select(func.count()).select_from(Submission).where(stuck_clause)
    oldest_query = select(func.min(Submission.created_at)).where(queued)
    if scope is not None:
        stuck_query, oldest_query = stuck_query.where(scope), oldest_query.where(scope)
    stuck = session.scalar(stuck_query) or 0
    oldest = session.scalar(oldest_query)
    over = get_settings().stuck_queued_s
    grading, detail = grading_state(alive_workers(session, now), stuck,
                                    f"grading(s) stuck (queued over {over:g} s, delayed, or running without a "
                                    "heartbeat)")
    return {
        "stuck_gradings": stuck,
        "oldest_queued_s": max(0.0, (now - _utc(oldest)).total_seconds()) if oldest is not None else None,
        "grading": grading,
        "detail": detail,
    }
