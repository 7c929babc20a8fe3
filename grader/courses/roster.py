"""A course's roster: add one member (a new user is created), change their role or section, drop them (their
work stays; re-adding takes the drop back), list everyone. CSV imports: grader.courses.roster_import.

    enrollment, created = add_member(session, course, "ada@uni.edu", name="Ada Lovelace", section="S1")
    update_member(session, course, user_id, role="ta", dropped=False)
    roster_json(session, course)          # {"members": [...]}, docs/course-api.md
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.models import Assignment, Course, CourseRole, Enrollment, Role, Submission, User
from ..errors import BadRequest, Conflict, NotFound
from ..users.service import normalize_email
from .service import parse_course_role

MAX_NAME = 200
MAX_SECTION = 100


def _text(value: str | None, limit: int, what: str) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())  # one line, single spaces: a roster's name is shown in tables
    if len(text) > limit:
        raise BadRequest(f"{what} is longer than {limit} characters: {text[:40]!r}...")
    return text or None


@dataclass(frozen=True)
class NewMember:
    """One roster line, checked: a normalized address, one-line name/section/SIS id, and the role if given."""

    email: str
    name: str | None = None
    role: CourseRole | None = None
    section: str | None = None
    sis_id: str | None = None


def checked_member(email: str, *, name: str | None = None, role: str | CourseRole | None = None,
                   section: str | None = None, sis_id: str | None = None) -> NewMember:
    """BadRequest naming the problem with any of these, before anything is written."""
    return NewMember(normalize_email(email), _text(name, MAX_NAME, "name"),
                     parse_course_role(role) if role is not None else None,
                     _text(section, MAX_SECTION, "section"), _text(sis_id, MAX_SECTION, "SIS id"))


@dataclass
class RosterIndex:
    """The users and the course's enrollments a batch of roster lines may touch, loaded in two queries (an import
    of a class would otherwise make a query or three per line)."""

    course: Course
    users: dict[str, User] = field(default_factory=dict)
    enrollments: dict[int, Enrollment] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, course: Course, emails: list[str]) -> RosterIndex:
        index = cls(course)
        for start in range(0, len(emails), 500):  # bounded IN lists
            chunk = emails[start:start + 500]
            index.users.update((u.email, u) for u in session.scalars(select(User).where(User.email.in_(chunk))))
        index.enrollments = {e.user_id: e for e in session.scalars(
            select(Enrollment).where(Enrollment.course_id == course.id))}
        return index


def enroll_member(session: Session, index: RosterIndex, new: NewMember) -> tuple[Enrollment, bool]:
    """Enroll one checked line (no flush: the caller flushes a batch once). The user is created when new, with
    no API token (`grader users token`, or a sign-in link): an instructor's site role is instructor, anyone
    else's student. Already enrolled: name, section and SIS id refreshed, the role changed only when given, a
    drop taken back. Returns the enrollment and whether it is new."""
    course_role = new.role or CourseRole.student
    user = index.users.get(new.email)
    if user is None:
        site_role = Role.instructor if course_role == CourseRole.instructor else Role.student
        user = User(email=new.email, role=site_role.value)
        session.add(user)
        index.users[new.email] = user
    if new.name:
        user.name = new.name
    enrollment = index.enrollments.get(user.id) if user.id is not None else None
    created = enrollment is None
    if enrollment is None:
        enrollment = Enrollment(user=user, course_id=index.course.id, role=course_role.value)
        session.add(enrollment)
    elif new.role is not None:
        enrollment.role = new.role.value
    enrollment.dropped_at = None
    if new.section is not None:
        enrollment.section = new.section
    if new.sis_id is not None:
        enrollment.sis_id = new.sis_id
    return enrollment, created


def flush_roster(session: Session) -> None:
    """Write a batch of enrollments; a concurrent change of the same rows is a Conflict, not a 500."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("someone else changed these users or this roster at the same moment: try again") from None


def add_member(session: Session, course: Course, email: str, *, name: str | None = None,
               role: str | CourseRole | None = None, section: str | None = None,
               sis_id: str | None = None) -> tuple[Enrollment, bool]:
    """Enroll `email` in `course` as `role` (default: student), as enroll_member. Returns the enrollment and
    whether it is new."""
    new = checked_member(email, name=name, role=role, section=section, sis_id=sis_id)
    session.flush()  # the course's id, if it is new
    enrollment, created = enroll_member(session, RosterIndex.load(session, course, [new.email]), new)
    flush_roster(session)
    return enrollment, created


def member(session: Session, course: Course, user_id: int) -> Enrollment:
    enrollment = session.scalar(select(Enrollment).where(Enrollment.user_id == user_id,
                                                         Enrollment.course_id == course.id))
    if enrollment is None:
        raise NotFound(f"user {user_id} is not on the roster of course {course.slug}")
    return enrollment


def member_by_email(session: Session, course: Course, email: str) -> Enrollment:
    address = normalize_email(email)
    user_id = session.scalar(select(User.id).where(User.email == address))
    if user_id is None:
        raise NotFound(f"{address} is not on the roster of course {course.slug}")
    try:
        return member(session, course, user_id)
    except NotFound:
        raise NotFound(f"{address} is not on the roster of course {course.slug}") from None


def update_member(session: Session, course: Course, user_id: int, *, role: str | None = None,
                  section: str | None = None, dropped: bool | None = None,
                  now: datetime | None = None) -> Enrollment:
    """Change a member's role or section, drop them (dropped=True; their submissions stay) or take it back."""
    enrollment = member(session, course, user_id)
    if role is not None:
        enrollment.role = parse_course_role(role).value
    if section is not None:
        enrollment.section = _text(section, MAX_SECTION, "section")
    if dropped is not None:
        enrollment.dropped_at = (enrollment.dropped_at or now or datetime.now(UTC)) if dropped else None
    session.flush()
    return enrollment


def drop_member(session: Session, course: Course, email: str, now: datetime | None = None) -> Enrollment:
    enrollment = member_by_email(session, course, email)
    return update_member(session, course, enrollment.user_id, dropped=True, now=now)


def member_json(enrollment: Enrollment, last_submission_at: datetime | None = None) -> dict[str, Any]:
    user = enrollment.user
    last = last_submission_at.replace(tzinfo=UTC) if last_submission_at and last_submission_at.tzinfo is None \
        else last_submission_at
    return {"user_id": user.id, "email": user.email, "name": user.name, "role": enrollment.role,
            "section": enrollment.section, "sis_id": enrollment.sis_id, "dropped": enrollment.dropped_at is not None,
            "last_submission_at": last.isoformat() if last else None}


def roster_json(session: Session, course: Course) -> dict[str, Any]:
    """Everyone enrolled (dropped members too, marked), by email, with when each last handed in."""
    enrollments = session.scalars(select(Enrollment).join(User).where(Enrollment.course_id == course.id)
                                  .order_by(User.email)).all()
    last = dict(session.execute(
        select(Submission.user_id, func.max(Submission.created_at)).join(Assignment)
        .where(Assignment.course_id == course.id).group_by(Submission.user_id)).all())
    return {"members": [member_json(e, last.get(e.user_id)) for e in enrollments]}
