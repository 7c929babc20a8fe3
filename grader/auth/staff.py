"""Who counts as course staff for signing in: where a new session lands, and the links staff may copy for a
member of their course."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..courses.service import course_role, get_course
from ..db.models import Enrollment, Role, SignInLink, User
from ..errors import Forbidden, NotFound
from .links import issue_link

# The course roles of staff. Strings, so a role added to CourseRole later ("ta") compares as well.
STAFF_ROLES = ("instructor", "ta")


def is_staff(session: Session, user: User) -> bool:
    """An instructor or admin of the site, or instructor or TA of some course (not dropped)."""
    if user.role in (Role.instructor, Role.admin):
        return True
    staff_enrollment = select(Enrollment.id).where(
        Enrollment.user_id == user.id, Enrollment.role.in_(STAFF_ROLES), Enrollment.dropped_at.is_(None))
    return session.scalar(staff_enrollment.limit(1)) is not None


def landing_path(session: Session, user: User) -> str:
    """Where a browser goes once signed in: the instructor's page for staff, the student's page otherwise."""
    return "/instructor" if is_staff(session, user) else "/"


def _member_role(session: Session, user: User, course_id: int, role: str | None) -> str | None:
    # course_role says what the user may do; a dropped enrollment means no role, whatever it says.
    dropped = session.scalar(select(Enrollment.dropped_at).where(
        Enrollment.user_id == user.id, Enrollment.course_id == course_id))
    return None if dropped is not None else role


def staff_sign_in_link(session: Session, staff: User, course_slug: str, user_id: int,
                       now: datetime | None = None) -> tuple[SignInLink, str]:
    """A sign-in link for member `user_id` of course `course_slug`, made by `staff` (its instructor or TA).

    NotFound for a course `staff` has no role in, or a user who is not a member of it; Forbidden for a student of
    the course, and for a target who is staff anywhere: a link signs in as the whole account, so a TA must not be
    able to become an instructor, nor anyone a member with more rights elsewhere (`grader users link` on the
    server does that)."""
    course = get_course(session, course_slug)
    role = _member_role(session, staff, course.id, course_role(session, staff, course))
    if role is None:
        raise NotFound(f"no course {course_slug!r}")
    if role not in STAFF_ROLES:
        raise Forbidden("only the course's instructors and TAs can make sign-in links")
    target = session.get(User, user_id)
    if target is None or _member_role(session, target, course.id, course_role(session, target, course)) is None:
        raise NotFound(f"no member with id {user_id} in course {course_slug!r}")
    if is_staff(session, target):
        raise Forbidden("sign-in links for course staff are not made here: they ask for one by email, or the "
                        "operator runs `grader users link EMAIL`")
    return issue_link(session, target, now)
