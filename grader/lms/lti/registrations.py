"""Who may register a platform: an admin for the whole install, a course's instructor for their course."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ...courses.service import instructor_course, staff_course
from ...db.models import Course, Role, User
from ...errors import Forbidden
from .platforms import add_platform, list_platforms, platform_json


def _require_admin(user: User) -> None:
    if user.role != Role.admin.value:
        raise Forbidden("only an admin may register an LMS for the whole install (instructors: per course)")


def _slug(session: Session, course_id: int | None) -> str | None:
    course = session.get(Course, course_id) if course_id is not None else None
    return course.slug if course is not None else None


def admin_list(session: Session, user: User) -> dict[str, Any]:
    _require_admin(user)
    return {"platforms": [platform_json(p, _slug(session, p.course_id)) for p in list_platforms(session)]}


def admin_add(session: Session, user: User, fields: dict[str, Any]) -> dict[str, Any]:
    _require_admin(user)
    return platform_json(add_platform(session, **fields))


def course_list(session: Session, user: User, slug: str) -> dict[str, Any]:
    # The course's staff read (a TA sees which LMS is connected, as with webhooks); instructors change.
    course, _ = staff_course(session, user, slug)
    return {"platforms": [platform_json(p, course.slug) for p in list_platforms(session, course)]}


def course_add(session: Session, user: User, slug: str, fields: dict[str, Any]) -> dict[str, Any]:
    course = instructor_course(session, user, slug)
    return platform_json(add_platform(session, course=course, **fields), course.slug)
