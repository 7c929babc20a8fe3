"""Courses, enrollments and assignments: pure functions over a Session (they flush; the caller commits).

    ensure_default_course(session)                       # fresh install: course "default" with "capstone"
    assignment = get_assignment(session, "capstone", user=student)
    course_role(session, student, assignment.course)     # "student", "instructor" or None
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager

from ..db.models import Assignment, Course, CourseRole, Enrollment, Role, ScorePolicy, User, Visibility
from ..errors import BadRequest, Conflict, NotFound
from .late import parse_late_policy

DEFAULT_COURSE_SLUG = "default"
DEFAULT_COURSE_NAME = "TinyTorch"
CAPSTONE_SLUG = "capstone"
CAPSTONE_TITLE = "TinyTorch capstone"

# Slugs appear in URLs and in the upload form's `assignment` field ("course/assignment").
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62})")


def _slug(value: str, what: str) -> str:
    if not _SLUG.fullmatch(value):
        raise BadRequest(f"{what} {value!r}: use 1-64 lower-case letters, digits, '-' or '_'")
    return value


def create_course(session: Session, slug: str, name: str, *, open_to_all_students: bool = False) -> Course:
    course = Course(slug=_slug(slug, "course slug"), name=name, open_to_all_students=open_to_all_students)
    taken = Conflict(f"a course with slug {slug!r} already exists")
    if session.scalar(select(Course.id).where(Course.slug == slug)) is not None:
        raise taken
    try:
        with session.begin_nested():  # a concurrent create of the same slug loses here, not the transaction
            session.add(course)
    except IntegrityError:
        raise taken from None
    return course


def create_assignment(
    session: Session,
    course: Course,
    slug: str,
    title: str,
    *,
    suites: Iterable[str] = ("capstone",),
    due_at: datetime | None = None,
    late_policy: dict[str, Any] | None = None,
    max_submissions_per_hour: int | None = None,
    score_policy: str = ScorePolicy.best.value,
    rubric_visibility: dict[str, str] | None = None,
    edition: str | None = None,
) -> Assignment:
    from capstone_tests.editions import EDITIONS  # the editions whose numbering diagnostics can speak
    from capstone_tests.registry import SUITES  # the graded suites, to refuse a name no worker could run

    suites = list(suites)
    unknown = [name for name in suites if name not in SUITES]
    if not suites or unknown:
        raise BadRequest(f"unknown suites {unknown}; known: {', '.join(SUITES)}" if unknown else "no suites given")
    if score_policy not in {p.value for p in ScorePolicy}:
        raise BadRequest(f"score policy must be best or latest, not {score_policy!r}")
    visibility = dict(rubric_visibility or {})
    bad = {test: v for test, v in visibility.items() if v not in {x.value for x in Visibility}}
    if bad:
        raise BadRequest(f"visibility must be visible, after_due_date or hidden: {bad}")
    if due_at is not None and due_at.tzinfo is None:
        raise BadRequest("due_at needs a time zone")
    if edition is not None and edition not in EDITIONS:
        raise BadRequest(f"unknown edition {edition!r}; known: {', '.join(EDITIONS)}")
    parse_late_policy(late_policy)  # refused here, not when the dashboard first applies it
    taken = Conflict(f"course {course.slug} already has an assignment {slug!r}")
    session.flush()  # the course's id, if it is new
    if session.scalar(select(Assignment.id).where(Assignment.course_id == course.id, Assignment.slug == slug)):
        raise taken
    # By course_id, not course=: a row refused by the database must not stay behind in course.assignments.
    assignment = Assignment(
        course_id=course.id, slug=_slug(slug, "assignment slug"), title=title, suites=suites, due_at=due_at,
        late_policy=dict(late_policy or {}), max_submissions_per_hour=max_submissions_per_hour,
        score_policy=score_policy, rubric_visibility=visibility, edition=edition,
    )
    try:
        with session.begin_nested():  # a concurrent create of the same slug loses here, not the transaction
            session.add(assignment)
    except IntegrityError:
        raise taken from None
    return assignment


def ensure_default_course(session: Session) -> Course | None:
    """On a fresh install (no course at all), create the default course, open to every student, with the
    `capstone` assignment. Idempotent. Returns the default course, or None if an admin has since removed it
    (it is not re-created behind their back once other courses exist)."""
    existing = session.scalar(select(Course).where(Course.slug == DEFAULT_COURSE_SLUG))
    if existing is not None or session.scalar(select(Course.id).limit(1)) is not None:
        return existing
    try:
        # The API and the workers may start together on a fresh install: whoever loses the race on the
        # unique slug rolls back its savepoint and reads the winner's course.
        with session.begin_nested():
            course = Course(slug=DEFAULT_COURSE_SLUG, name=DEFAULT_COURSE_NAME, open_to_all_students=True)
            session.add(course)
            session.add(Assignment(course=course, slug=CAPSTONE_SLUG, title=CAPSTONE_TITLE, suites=["capstone"]))
    except IntegrityError:
        return session.scalar(select(Course).where(Course.slug == DEFAULT_COURSE_SLUG))
    return course


def get_course(session: Session, slug: str) -> Course:
    course = session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        raise NotFound(f"no course {slug!r}")
    return course


def enroll(session: Session, user: User, course: Course, role: str | CourseRole | None = None) -> Enrollment:
    """Enroll `user` in `course` (default role: instructor for instructors, else student). Enrolling again
    changes the role rather than failing."""
    if role is None:
        role = CourseRole.instructor if user.role == Role.instructor else CourseRole.student
    try:
        course_role_ = CourseRole(role)
    except ValueError:
        raise BadRequest(f"course role must be student or instructor, not {role!r}") from None
    enrollment = session.scalar(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)
    )
    if enrollment is None:
        enrollment = Enrollment(user=user, course=course, role=course_role_.value)
        session.add(enrollment)
    else:
        enrollment.role = course_role_.value
    session.flush()
    return enrollment


def course_role(session: Session, user: User, course: Course) -> CourseRole | None:
    """What `user` may do in `course`: instructor (sees everyone's work), student (hands in, sees their own),
    or None. Admins are instructors everywhere; an open course admits every student-role user."""
    if user.role == Role.admin:
        return CourseRole.instructor
    enrolled = session.scalar(
        select(Enrollment.role).where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)
    )
    if enrolled is not None:
        return CourseRole(enrolled)
    if course.open_to_all_students and user.role == Role.student:
        return CourseRole.student
    return None


def courses_for(session: Session, user: User) -> Sequence[Course]:
    """The courses `user` has a role in, by slug."""
    courses = session.scalars(select(Course).order_by(Course.slug)).all()
    return [course for course in courses if course_role(session, user, course) is not None]


def get_assignment(
    session: Session, slug: str, *, course_slug: str | None = None, user: User | None = None
) -> Assignment:
    """The assignment named `slug` ("capstone") or `course/slug` ("cs329/capstone").

    Without a course, the slug must be unambiguous: among the courses `user` has a role in when a user is
    given, else among all courses. NotFound if there is none, Conflict (naming the choices) if several.
    """
    if course_slug is None and "/" in slug:
        course_slug, slug = slug.split("/", 1)
    # contains_eager: the course comes with the assignment (every upload asks for it), not in a query of its own.
    query = (select(Assignment).join(Course).options(contains_eager(Assignment.course))
             .where(Assignment.slug == slug).order_by(Course.slug))
    if course_slug is not None:
        query = query.where(Course.slug == course_slug)
    found = list(session.scalars(query).all())
    if user is not None:
        found = [a for a in found if course_role(session, user, a.course) is not None]
    where = f" in course {course_slug!r}" if course_slug is not None else ""
    if not found:
        raise NotFound(f"no assignment {slug!r}{where}")
    if len(found) > 1:
        choices = ", ".join(f"{a.course.slug}/{a.slug}" for a in found)
        raise Conflict(f"assignment {slug!r} exists in several courses; name one of: {choices}")
    return found[0]
