"""A student's assignments (GET /api/v1/assignments): what is open to them, when it is due (their own due date
if they have an extension) and which of their submissions counts, for what. Staff see the assignments of the
courses they teach. Archived courses and assignments are left out.

    my_assignments(session, user)      # {"assignments": [...]}, by due date
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..db.models import Assignment, Course, Extension, Submission, User
from .assignments import due_order, late_policy_json
from .counting import counted_score, counting_submission
from .late import late_report
from .service import course_role
from .zones import as_utc, iso_in_zone


def _counting_json(submissions: list[Submission], assignment: Assignment, due: Any) -> dict[str, Any] | None:
    chosen = counting_submission(submissions, assignment.score_policy, due_at=due)
    if chosen is None:
        return None
    return {"submission_id": str(chosen.id), "status": chosen.status, "score": counted_score(chosen, due),
            "raw_score": chosen.score, "max_score": chosen.max_score, "override_score": chosen.override_score,
            "late": late_report(assignment, chosen.created_at, chosen.score, due)}


def my_assignments(session: Session, user: User) -> dict[str, Any]:
    courses = session.scalars(select(Course).where(Course.archived_at.is_(None)).order_by(Course.slug)
                              .options(selectinload(Course.assignments))).all()
    assignments = [a for course in courses if course_role(session, user, course) is not None
                   for a in course.assignments if a.archived_at is None]
    ids = [a.id for a in assignments]
    mine: dict[int, list[Submission]] = defaultdict(list)
    dues: dict[int, Any] = {}
    if ids:
        for submission in session.scalars(select(Submission).where(Submission.user_id == user.id,
                                                                   Submission.assignment_id.in_(ids))):
            mine[submission.assignment_id].append(submission)
        dues = {a_id: as_utc(due) for a_id, due in session.execute(
            select(Extension.assignment_id, Extension.due_at)
            .where(Extension.user_id == user.id, Extension.assignment_id.in_(ids)))}
    rows = []
    for a in sorted(assignments, key=due_order):
        zone, due = a.due_time_zone, dues.get(a.id)
        rows.append({
            "course": a.course.slug, "course_name": a.course.name, "slug": a.slug, "title": a.title,
            "suites": list(a.suites), "opens_at": iso_in_zone(a.opens_at, zone), "due_at": iso_in_zone(a.due_at, zone),
            "due_time_zone": zone, "your_due_at": iso_in_zone(due, zone), "late_policy": late_policy_json(a),
            "score_policy": a.score_policy, "max_submissions_per_hour": a.max_submissions_per_hour,
            "submissions": len(mine[a.id]), "counting": _counting_json(mine[a.id], a, due),
        })
    return {"assignments": rows}
