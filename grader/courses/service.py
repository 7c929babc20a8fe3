"""Courses, enrollments and assignments: pure functions over a Session (they flush; the caller commits).

    ensure_default_course(session)                       # fresh install: course "default" with "capstone"
    assignment = get_assignment(session, "capstone", user=student)
    course_role(session, student, assignment.course)     # "student", "ta", "instructor" or None
    check_accepts_submissions(session, assignment, student, now)   # the upload's gate: archived, not open yet
    require_instructor(session, user, course)            # Forbidden for TAs and students, NotFound for others
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, selectinload

from ..db.models import Assignment, Course, CourseRole, Enrollment, Role, ScorePolicy, User
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from . import assignment_fields as fields
from .zones import as_utc, iso_in_zone

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
    course = Course(slug=_slug(slug, "course slug"), name=course_name(name), open_to_all_students=open_to_all_students)
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
    opens_at: datetime | str | None = None,
    due_at: datetime | str | None = None,
    due_time_zone: str | None = None,
    late_policy: dict[str, Any] | None = None,
    max_submissions_per_hour: int | None = None,
    score_policy: str = ScorePolicy.best.value,
    points: dict[str, Any] | None = None,
    rubric_visibility: dict[str, str] | None = None,
    edition: str | None = None,
) -> Assignment:
    """A new assignment of `course`; every setting checked (BadRequest naming the field), Conflict if the slug
    is taken. due_at is stored in UTC, due_time_zone as given (else the due date's own offset)."""
    due, zone = fields.due(due_at, due_time_zone)
    values = dict(
        title=fields.title(title), suites=fields.suites(suites), due_at=due, due_time_zone=zone,
        opens_at=fields.moment(opens_at, zone, "opens_at"), late_policy=fields.late_policy(late_policy),
        max_submissions_per_hour=fields.per_hour(max_submissions_per_hour),
        score_policy=fields.score_policy(score_policy), points=fields.points(points),
        rubric_visibility=fields.rubric_visibility(rubric_visibility), edition=fields.edition(edition),
    )
    slug = _slug(slug, "assignment slug")
    taken = Conflict(f"course {course.slug} already has an assignment {slug!r}")
    session.flush()  # the course's id, if it is new
    if session.scalar(select(Assignment.id).where(Assignment.course_id == course.id, Assignment.slug == slug)):
        raise taken
    # By course_id, not course=: a row refused by the database must not stay behind in course.assignments.
    assignment = Assignment(course_id=course.id, slug=slug, **values)
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
    changes the role rather than failing, and takes back a drop."""
    if role is None:
        role = CourseRole.instructor if user.role == Role.instructor else CourseRole.student
    course_role_ = parse_course_role(role)
    enrollment = session.scalar(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)
    )
    if enrollment is None:
        enrollment = Enrollment(user=user, course=course, role=course_role_.value)
        session.add(enrollment)
    else:
        enrollment.role = course_role_.value
        enrollment.dropped_at = None
    session.flush()
    return enrollment


def parse_course_role(role: str | CourseRole) -> CourseRole:
    try:
        return CourseRole(role)
    except ValueError:
        raise BadRequest(f"course role must be student, ta or instructor, not {role!r}") from None


def course_role(session: Session, user: User, course: Course) -> CourseRole | None:
    """What `user` may do in `course`: instructor (everything), ta (course staff: sees and grades the work, changes
    nothing of the course), student (hands in, sees their own), or None. Admins are instructors everywhere; an
    open course admits every student-role user, except one dropped from it."""
    if user.role == Role.admin:
        return CourseRole.instructor
    enrolled = session.execute(
        select(Enrollment.role, Enrollment.dropped_at)
        .where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)
    ).first()
    if enrolled is not None:
        return None if enrolled.dropped_at is not None else CourseRole(enrolled.role)
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


# --- who may change what ----------------------------------------------------------------------------------------

def staff_course(session: Session, user: User, slug: str) -> tuple[Course, CourseRole]:
    """The course `slug` and `user`'s staff role in it (ta or instructor). NotFound when `user` has no role there
    (another course is none of their business), Forbidden for a student of it."""
    course = get_course(session, slug)
    role = course_role(session, user, course)
    if role is None:
        raise NotFound(f"no course {slug!r}")
    if role == CourseRole.student:
        raise Forbidden(f"only the staff of course {slug} may do this")
    return course, role


def instructor_course(session: Session, user: User, slug: str) -> Course:
    """The course `slug` if `user` may change it (its instructor, or an admin): Forbidden for a TA or student."""
    course, role = staff_course(session, user, slug)
    if role != CourseRole.instructor:
        raise Forbidden(f"only an instructor of course {slug} may change it, its assignments or its staff")
    return course


def require_may_create_courses(user: User) -> None:
    if user.role not in (Role.instructor, Role.admin):
        raise Forbidden("only instructors may create courses")


# --- course and submission gates ----------------------------------------------------------------------------------

def course_name(value: str) -> str:
    text = value.strip()
    if not text or len(text) > 200:
        raise BadRequest("course name must be 1-200 characters")
    return text


def edit_course(session: Session, course: Course, *, name: str | None = None, archived: bool | None = None,
                now: datetime | None = None) -> Course:
    """Rename and/or archive (True) or restore (False) a course. Archiving keeps everything; students stop
    seeing it and it takes no new submissions."""
    if name is not None:
        course.name = course_name(name)
    if archived is not None:
        course.archived_at = (course.archived_at or now or datetime.now(UTC)) if archived else None
    session.flush()
    return course


def check_accepts_submissions(session: Session, assignment: Assignment, user: User,
                              now: datetime | None = None) -> None:
    """Forbidden (saying why) when `user` may not hand in to `assignment` now: its course or itself is archived,
    `user` was dropped from the course, or it does not open yet (staff may try it out before it opens)."""
    now = now or datetime.now(UTC)
    course = assignment.course
    if course.archived_at is not None:
        raise Forbidden(f"course {course.slug} is archived: it takes no new submissions")
    if assignment.archived_at is not None:
        raise Forbidden(f"assignment {course.slug}/{assignment.slug} is archived: it takes no new submissions")
    role = course_role(session, user, course)
    if role is None:
        dropped = session.scalar(select(Enrollment.dropped_at).where(
            Enrollment.user_id == user.id, Enrollment.course_id == course.id))
        raise Forbidden(f"you are no longer enrolled in course {course.slug}" if dropped is not None
                        else f"you are not enrolled in course {course.slug}")
    if role == CourseRole.student and assignment.opens_at is not None and as_utc(now) < as_utc(assignment.opens_at):
        opens = iso_in_zone(assignment.opens_at, assignment.due_time_zone)
        raise Forbidden(f"assignment {course.slug}/{assignment.slug} opens at {opens}; submit after that")


def list_courses(session: Session) -> Sequence[Course]:
    """Every course, by slug, with its assignments and enrollments (the CLI's listing)."""
    return session.scalars(select(Course).order_by(Course.slug)
                           .options(selectinload(Course.assignments), selectinload(Course.enrollments))).all()
