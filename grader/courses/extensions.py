"""Extensions: one student's own due date for one assignment. Lateness is counted from it (courses.counting).

    grant_extension(session, assignment, student, "2027-01-20T23:59:00+01:00", reason="ill", by=instructor)
    extension_due(session, assignment, student)      # the student's due date (UTC), or None
    extension_dues(session, assignment)              # {user_id: due_at} for a whole class at once
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Assignment, Enrollment, Extension, User
from ..errors import BadRequest, NotFound
from . import assignment_fields as fields
from .zones import as_utc, iso_in_zone

MAX_REASON = 1000


def extension_due(session: Session, assignment: Assignment, user: User) -> datetime | None:
    """`user`'s own due date for `assignment` (aware, UTC), or None when they have no extension."""
    due = session.scalar(select(Extension.due_at).where(Extension.assignment_id == assignment.id,
                                                         Extension.user_id == user.id))
    return None if due is None else as_utc(due)


def extension_dues(session: Session, assignment: Assignment) -> dict[int, datetime]:
    """Every extension of `assignment`, by user id (one query for a grade table)."""
    rows = session.execute(select(Extension.user_id, Extension.due_at)
                           .where(Extension.assignment_id == assignment.id)).all()
    return {user_id: as_utc(due) for user_id, due in rows}


def _enrolled(session: Session, assignment: Assignment, user: User) -> None:
    if session.scalar(select(Enrollment.id).where(Enrollment.course_id == assignment.course_id,
                                                  Enrollment.user_id == user.id)) is None \
            and not assignment.course.open_to_all_students:
        raise NotFound(f"{user.email} is not on the roster of course {assignment.course.slug}")


def grant_extension(session: Session, assignment: Assignment, user: User, due_at: datetime | str,
                    *, reason: str | None = None, by: User | None = None) -> Extension:
    """Give `user` their own due date for `assignment`, replacing any earlier extension. A due date without a
    zone is read in the assignment's zone."""
    _enrolled(session, assignment, user)
    due = fields.moment(due_at, assignment.due_time_zone, "due_at")
    if due is None:
        raise BadRequest("an extension needs a due_at")
    if reason is not None and len(reason) > MAX_REASON:
        raise BadRequest(f"reason: at most {MAX_REASON} characters")
    extension = session.scalar(select(Extension).where(Extension.assignment_id == assignment.id,
                                                       Extension.user_id == user.id))
    if extension is None:
        extension = Extension(assignment_id=assignment.id, user_id=user.id, due_at=due)
        session.add(extension)
    extension.due_at = due
    extension.reason = reason
    extension.granted_by_id = by.id if by is not None else None
    session.flush()
    return extension


def remove_extension(session: Session, assignment: Assignment, user: User) -> None:
    """Take back `user`'s extension: the assignment's due date applies again. NotFound when there is none."""
    extension = session.scalar(select(Extension).where(Extension.assignment_id == assignment.id,
                                                       Extension.user_id == user.id))
    if extension is None:
        raise NotFound(f"{user.email} has no extension for {assignment.slug}")
    session.delete(extension)
    session.flush()


def extension_json(assignment: Assignment, extension: Extension, email: str) -> dict[str, Any]:
    return {"user_id": extension.user_id, "email": email,
            "due_at": iso_in_zone(extension.due_at, assignment.due_time_zone), "reason": extension.reason}


def list_extensions(session: Session, assignment: Assignment) -> list[dict[str, Any]]:
    rows = session.execute(select(Extension, User.email).join(User, User.id == Extension.user_id)
                           .where(Extension.assignment_id == assignment.id).order_by(User.email)).all()
    return [extension_json(assignment, extension, email) for extension, email in rows]
