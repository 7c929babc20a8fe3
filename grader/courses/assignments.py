"""Editing a course's assignments and how staff see them (the JSON of docs/course-api.md, "Course
administration"). Creating one is grader.courses.service.create_assignment.

    edit_assignment(session, assignment, due_at="2027-01-20T23:59:00+01:00", archived=False)
    assignment_json(assignment)      # due_at and opens_at answered in the assignment's own zone
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Assignment, Course
from ..errors import BadRequest, NotFound
from . import assignment_fields as fields
from .late import parse_late_policy
from .zones import as_utc, iso_in_zone, parse_zone

# The fields edit_assignment takes, each optional; None for a field that may be null means "clear it"
# only when it is passed explicitly (the route passes exactly the fields the request body set).
EDITABLE = ("title", "suites", "opens_at", "due_at", "due_time_zone", "late_policy", "score_policy",
            "max_submissions_per_hour", "points", "rubric_visibility", "edition", "archived")


def course_assignment(session: Session, course: Course, slug: str) -> Assignment:
    found = session.scalar(select(Assignment).where(Assignment.course_id == course.id, Assignment.slug == slug))
    if found is None:
        raise NotFound(f"no assignment {slug!r} in course {course.slug!r}")
    return found


def course_assignments(session: Session, course: Course) -> list[Assignment]:
    rows = session.scalars(select(Assignment).where(Assignment.course_id == course.id)).all()
    return sorted(rows, key=due_order)


def due_order(a: Assignment) -> tuple[bool, datetime, str]:
    return a.due_at is None, as_utc(a.due_at) if a.due_at else datetime.min.replace(tzinfo=UTC), a.slug


def edit_assignment(session: Session, assignment: Assignment, *, now: datetime | None = None,
                    **changes: Any) -> Assignment:
    """Change the given settings (each checked as on creation). A new due_at without a zone is read in the
    assignment's zone (or due_time_zone, when that changes too); a new due_time_zone alone keeps the moment
    and shows it in the new zone."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise BadRequest(f"unknown assignment field(s): {', '.join(unknown)}")
    if "due_at" in changes or "due_time_zone" in changes:
        zone = changes.get("due_time_zone", assignment.due_time_zone)
        if "due_at" in changes:
            # A due date without a zone is read in the assignment's (or the new) zone.
            due_at, zone = fields.due(changes["due_at"], changes.get("due_time_zone", assignment.due_time_zone))
            assignment.due_at = due_at
        elif zone is not None:
            zone = zone.strip()
            parse_zone(zone, "due_time_zone")
        assignment.due_time_zone = zone
    if "opens_at" in changes:
        assignment.opens_at = fields.moment(changes["opens_at"], assignment.due_time_zone, "opens_at")
    checks = {"title": fields.title, "suites": fields.suites, "late_policy": fields.late_policy,
              "score_policy": fields.score_policy, "max_submissions_per_hour": fields.per_hour,
              "points": fields.points, "rubric_visibility": fields.rubric_visibility, "edition": fields.edition}
    for name, check in checks.items():
        if name in changes:
            value = changes[name]
            if value is None and name in ("title", "suites", "score_policy"):
                raise BadRequest(f"{name} cannot be null")
            setattr(assignment, name, check(value))
    if changes.get("archived") is not None:
        assignment.archived_at = (assignment.archived_at or now or datetime.now(UTC)) if changes["archived"] \
            else None
    session.flush()
    return assignment


def late_policy_json(assignment: Assignment) -> dict[str, Any]:
    policy = parse_late_policy(assignment.late_policy)
    return {"penalty_per_day": policy.penalty_per_day, "max_late_days": policy.max_late_days}


def assignment_json(assignment: Assignment) -> dict[str, Any]:
    """An assignment as staff see it: every setting, times in its own zone."""
    zone = assignment.due_time_zone
    return {
        "course": assignment.course.slug, "slug": assignment.slug, "title": assignment.title,
        "suites": list(assignment.suites), "opens_at": iso_in_zone(assignment.opens_at, zone),
        "due_at": iso_in_zone(assignment.due_at, zone), "due_time_zone": zone,
        "late_policy": dict(assignment.late_policy or {}), "score_policy": assignment.score_policy,
        "max_submissions_per_hour": assignment.max_submissions_per_hour, "points": dict(assignment.points or {}),
        "rubric_visibility": dict(assignment.rubric_visibility or {}), "edition": assignment.edition,
        "archived": assignment.archived_at is not None,
    }


def course_json(course: Course, role: str, assignments: list[Assignment]) -> dict[str, Any]:
    return {"slug": course.slug, "name": course.name, "role": role, "archived": course.archived_at is not None,
            "assignments": [assignment_json(a) for a in assignments]}
