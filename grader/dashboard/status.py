"""The operational view for course staff: is grading working, and is any of their students' work stuck?

    grading_status(session, user)
    # {"stuck_gradings": 2, "oldest_queued_s": 840.5, "grading": "delayed", "detail": "1 of 2 workers' ..."}

- stuck: a submission of a course the user teaches (admins: every course) queued longer than the stuck_queued_s setting,
  queued with a delayed_reason (it met a sick sandbox), or running with a lease heartbeat older than the
  lease timeout (its worker died; the sweeper will hand it on).
- grading: `paused` when no live worker takes work (none alive, or every live one's sandbox fails its canary),
  `delayed` when some worker's sandbox is sick or gradings are stuck, else `ok`. `detail` is in the
  operator's words (the workers table's detail, which names what is broken); None when all is well.
  Students get the same state without the detail from GET /api/v1/status.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..db.models import Assignment, Role, Submission, SubmissionStatus, User, Worker, WorkerState
from ..settings import get_settings
from .access import require_staff, staff_courses

DETAIL_CHARS = 2000


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything this service stores is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _in_scope(session: Session, user: User) -> Any:
    """The WHERE clause limiting submissions to the user's courses; None for an admin (every course)."""
    if user.role == Role.admin:
        return None
    course_ids = [course.id for course, _ in staff_courses(session, user)]
    return Submission.assignment_id.in_(select(Assignment.id).where(Assignment.course_id.in_(course_ids)))


def _workers(session: Session, now: datetime, lease_s: float) -> list[Worker]:
    return list(session.scalars(select(Worker).where(Worker.heartbeat_at >= now - timedelta(seconds=lease_s))
                                .order_by(Worker.id)))


def _grading(workers: list[Worker], stuck: int, lease_s: float) -> tuple[str, str | None]:
    sick = [w for w in workers if w.state == WorkerState.sandbox_unhealthy.value]
    ready = [w for w in workers if w.state == WorkerState.ready.value]
    sick_words = "; ".join(f"{w.hostname}: {w.detail or 'the sandbox fails its canary'}" for w in sick)
    if not workers:
        return "paused", (f"no grading worker has reported in the last {lease_s:g} s: submissions wait in the "
                          "queue until a `grader worker` runs")
    if not ready:
        if sick:
            return "paused", f"every live worker's sandbox fails its canary ({sick_words})"[:DETAIL_CHARS]
        return "paused", "every live grading worker is stopping; none takes work"
    if sick:
        return "delayed", (f"{len(sick)} of {len(workers)} workers' sandboxes fail their canary, the others "
                           f"grade ({sick_words})")[:DETAIL_CHARS]
    if stuck:
        over = get_settings().stuck_queued_s
        return "delayed", (f"{stuck} grading(s) stuck (queued over {over:g} s, delayed, or running "
                           "without a heartbeat) although the workers report healthy")
    return "ok", None


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
    grading, detail = _grading(_workers(session, now, lease_s), stuck, lease_s)
    return {
        "stuck_gradings": stuck,
        "oldest_queued_s": max(0.0, (now - _utc(oldest)).total_seconds()) if oldest is not None else None,
        "grading": grading,
        "detail": detail,
    }
