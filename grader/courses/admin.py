"""What the course routes do, one function per route: check who is asking, do it, answer the contract's JSON
(docs/course-api.md, "Course administration"). Instructors change; TAs read (a change is Forbidden); students
and strangers get 403 and 404. The CLI is the operator's and calls the service functions underneath directly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..db.models import CourseRole, User
from ..errors import BadRequest, NotFound
from ..lms.rule_changes import scores_may_change
from . import assignments as assignment_service
from . import extensions, roster, roster_import, service
from .assignments import assignment_json, course_assignment, course_assignments, course_json
from .schemas import AssignmentCreate, AssignmentEdit, CourseCreate, CourseEdit, ExtensionGrant, MemberAdd, MemberEdit


def create_course(session: Session, user: User, body: CourseCreate) -> dict[str, Any]:
    """A new course; its creator is enrolled as its instructor."""
    service.require_may_create_courses(user)
    course = service.create_course(session, body.slug, body.name)
    service.enroll(session, user, course, CourseRole.instructor)
    return course_json(course, CourseRole.instructor.value, [])


def edit_course(session: Session, user: User, slug: str, body: CourseEdit) -> dict[str, Any]:
    course = service.instructor_course(session, user, slug)
    service.edit_course(session, course, **body.given())
    return course_json(course, CourseRole.instructor.value, course_assignments(session, course))


def list_assignments(session: Session, user: User, slug: str) -> list[dict[str, Any]]:
    course, _ = service.staff_course(session, user, slug)
    return [assignment_json(a) for a in course_assignments(session, course)]


def create_assignment(session: Session, user: User, slug: str, body: AssignmentCreate) -> dict[str, Any]:
    course = service.instructor_course(session, user, slug)
    fields = {key: value for key, value in body.given().items() if value is not None}
    assignment = service.create_assignment(session, course, fields.pop("slug"), fields.pop("title"), **fields)
    return assignment_json(assignment)


def edit_assignment(session: Session, user: User, slug: str, assignment_slug: str,
                    body: AssignmentEdit) -> dict[str, Any]:
    course = service.instructor_course(session, user, slug)
    assignment = course_assignment(session, course, assignment_slug)
    changes = body.given()
    with scores_may_change(session, assignment, fields=changes):  # the LMS hears of scores a rule moved
        assignment_service.edit_assignment(session, assignment, **changes)
    return assignment_json(assignment)


def list_roster(session: Session, user: User, slug: str) -> dict[str, Any]:
    course, _ = service.staff_course(session, user, slug)
    return roster.roster_json(session, course)


def add_member(session: Session, user: User, slug: str, body: MemberAdd) -> dict[str, Any]:
    course = service.instructor_course(session, user, slug)
    enrollment, _ = roster.add_member(session, course, body.email, name=body.name, role=body.role,
                                      section=body.section)
    return roster.member_json(enrollment)


def edit_member(session: Session, user: User, slug: str, user_id: int, body: MemberEdit) -> dict[str, Any]:
    course = service.instructor_course(session, user, slug)
    if user_id == user.id and (body.role not in (None, CourseRole.instructor.value) or body.dropped):
        # A course must not lose its instructor by a slip of the one changing it.
        raise BadRequest("you cannot drop yourself or give up your own instructor role: ask another instructor")
    return roster.member_json(roster.update_member(session, course, user_id, **body.given()))


def import_roster(session: Session, user: User, slug: str, data: bytes, format_: str) -> dict[str, Any]:
    course = service.instructor_course(session, user, slug)
    return roster_import.import_roster(session, course, data, format_).as_json()


def _student(session: Session, user_id: int) -> User:
    found = session.get(User, user_id)
    if found is None:
        raise NotFound(f"no user {user_id}")
    return found


def list_extensions(session: Session, user: User, slug: str, assignment_slug: str) -> list[dict[str, Any]]:
    course, _ = service.staff_course(session, user, slug)
    return extensions.list_extensions(session, course_assignment(session, course, assignment_slug))


def grant_extension(session: Session, user: User, slug: str, assignment_slug: str, user_id: int,
                    body: ExtensionGrant) -> dict[str, Any]:
    course = service.instructor_course(session, user, slug)
    assignment = course_assignment(session, course, assignment_slug)
    student = _student(session, user_id)
    with scores_may_change(session, assignment, [student]):
        extension = extensions.grant_extension(session, assignment, student, body.due_at, reason=body.reason,
                                               by=user)
    return extensions.extension_json(assignment, extension, student.email)


def remove_extension(session: Session, user: User, slug: str, assignment_slug: str, user_id: int) -> None:
    course = service.instructor_course(session, user, slug)
    assignment = course_assignment(session, course, assignment_slug)
    student = _student(session, user_id)
    with scores_may_change(session, assignment, [student]):
        extensions.remove_extension(session, assignment, student)
