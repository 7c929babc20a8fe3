"""Who may see a course's dashboard: its staff (CourseRole.instructor or CourseRole.ta) and site admins.

A user who is staff nowhere (a student) gets Forbidden; staff asking about a course they do not teach get
NotFound, the same answer as for a course that does not exist, so the API does not tell outsiders which courses
(or submissions, or students) exist. TAs see, regrade and override exactly as instructors do here; changing a
course is grader.courses' business, not the dashboard's.

    course = instructor_course(session, user, "cs1")    # 403 / 404 as above
    submission = staff_submission(session, user, submission_id)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..courses.service import course_role, get_course
from ..db.models import Assignment, Course, CourseRole, Enrollment, Role, Submission, User
from ..errors import Forbidden, NotFound

STAFF_ROLES = frozenset({CourseRole.instructor, CourseRole.ta})


def is_staff_anywhere(session: Session, user: User) -> bool:
    """Instructors and admins by their site role; anyone else by a (not dropped) TA or instructor enrollment."""
    if user.role in (Role.instructor, Role.admin):
        return True
    found = session.scalar(select(Enrollment.id).where(
        Enrollment.user_id == user.id, Enrollment.role.in_([r.value for r in STAFF_ROLES]),
        Enrollment.dropped_at.is_(None)).limit(1))
    return found is not None


def require_staff(session: Session, user: User) -> None:
    if not is_staff_anywhere(session, user):
        raise Forbidden("the dashboard is for course staff (instructors and TAs)")


def staff_role(session: Session, user: User, course: Course) -> CourseRole | None:
    """The user's staff role in `course` (admins: instructor), or None for students, strangers and staff who
    were dropped from the course (they have no role in it any more)."""
    role = course_role(session, user, course)
    if role not in STAFF_ROLES:
        return None
    if user.role != Role.admin and session.scalar(select(Enrollment.dropped_at).where(
            Enrollment.user_id == user.id, Enrollment.course_id == course.id)) is not None:
        return None
    return role


def require_teaches(session: Session, user: User, course: Course) -> CourseRole:
    require_staff(session, user)
    role = staff_role(session, user, course)
    if role is None:
        # NotFound rather than Forbidden: another course's work is none of this user's business.
        raise NotFound(f"no course {course.slug!r}")
    return role


def instructor_course(session: Session, user: User, slug: str) -> Course:
    """The course `slug` if `user` is on its staff; the staff check comes first so a student always gets 403."""
    require_staff(session, user)
    course = get_course(session, slug)
    require_teaches(session, user, course)
    return course


def staff_courses(session: Session, user: User) -> list[tuple[Course, CourseRole]]:
    """The courses `user` is staff of (admins: every course), by slug, with their role in each."""
    query = select(Course).order_by(Course.slug).options(selectinload(Course.assignments))
    if user.role != Role.admin:
        query = query.where(Course.id.in_(select(Enrollment.course_id).where(Enrollment.user_id == user.id)))
    found = ((course, staff_role(session, user, course)) for course in session.scalars(query))
    return [(course, role) for course, role in found if role is not None]


def teaching_courses(session: Session, user: User) -> list[dict[str, Any]]:
    """The courses `user` is staff of, with their assignments: what the dashboard's course picker lists."""
    require_staff(session, user)
    return [{"slug": course.slug, "name": course.name, "role": role.value, "archived": course.archived_at is not None,
             "assignments": [assignment_json(a) for a in ordered(course.assignments)]}
            for course, role in staff_courses(session, user)]


def course_assignment(session: Session, course: Course, slug: str) -> Assignment:
    found = session.scalar(select(Assignment).where(Assignment.course_id == course.id, Assignment.slug == slug))
    if found is None:
        raise NotFound(f"no assignment {slug!r} in course {course.slug!r}")
    return found


def staff_submission(session: Session, user: User, submission_id: uuid.UUID | str) -> Submission:
    """The submission if `user` is staff of its course; NotFound for a malformed id, a missing one or another
    course's (the three look alike from outside)."""
    require_staff(session, user)
    try:
        key = submission_id if isinstance(submission_id, uuid.UUID) else uuid.UUID(str(submission_id))
    except ValueError:
        raise NotFound(f"no submission {submission_id}") from None
    submission = session.get(Submission, key)
    if submission is None or staff_role(session, user, submission.assignment.course) is None:
        raise NotFound(f"no submission {submission_id}")
    return submission


def ordered(assignments: Iterable[Assignment]) -> list[Assignment]:
    """By due date (undated last), then slug: the order of the table's columns and the CSV's."""
    return sorted(assignments, key=lambda a: (a.due_at is None, _naive(a.due_at), a.slug))


def _naive(moment: datetime | None) -> datetime:
    # SQLite hands back naive UTC datetimes, PostgreSQL aware ones; compare them alike.
    if moment is None:
        return datetime.min
    return moment.replace(tzinfo=None) if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def in_given_zone(moment: datetime | None, zone: str | None) -> str | None:
    """`moment` in ISO 8601 in the zone it was given in (an IANA name or an offset like +01:00; None: UTC), so
    2027-01-15T23:59:00+01:00 reads back as given. An unknown zone falls back to UTC rather than failing a page."""
    if moment is None:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    tz: tzinfo = UTC
    if zone:
        try:
            tz = ZoneInfo(zone)
        except (ValueError, OSError, ZoneInfoNotFoundError):
            try:
                tz = datetime.strptime(zone, "%z").tzinfo or UTC
            except ValueError:
                tz = UTC
    return moment.astimezone(tz).isoformat()


def assignment_json(a: Assignment) -> dict[str, Any]:
    return {"slug": a.slug, "title": a.title, "suites": list(a.suites), "score_policy": a.score_policy,
            "due_at": in_given_zone(a.due_at, a.due_time_zone), "due_time_zone": a.due_time_zone,
            "late_policy": dict(a.late_policy or {}), "archived": a.archived_at is not None}
