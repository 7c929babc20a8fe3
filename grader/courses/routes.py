"""The course routes (docs/course-api.md, "A student's assignments" and "Course administration"): one call of
grader.courses.admin each. GET /api/v1/instructor/courses itself is the dashboard's (grader.dashboard.routes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Response, UploadFile

from ..api.deps import CurrentUser, DbSession
from ..errors import BadUpload
from . import admin
from .assignments_view import my_assignments
from .roster_import import FORMATS, MAX_ROSTER_BYTES
from .schemas import AssignmentCreate, AssignmentEdit, CourseCreate, CourseEdit, ExtensionGrant, MemberAdd, MemberEdit

router = APIRouter(prefix="/api/v1", tags=["courses"])
COURSE = "/instructor/courses/{course}"



@router.get("/assignments")
def assignments(session: DbSession, user: CurrentUser) -> dict[str, Any]:
    return my_assignments(session, user)


@router.post("/instructor/courses", status_code=201)
def create_course(body: CourseCreate, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    return admin.create_course(session, user, body)


@router.patch(COURSE)
def edit_course(course: str, body: CourseEdit, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    return admin.edit_course(session, user, course, body)


@router.get(COURSE + "/assignments")
def course_assignments(course: str, session: DbSession, user: CurrentUser) -> list[dict[str, Any]]:
    return admin.list_assignments(session, user, course)


@router.post(COURSE + "/assignments", status_code=201)
def create_assignment(course: str, body: AssignmentCreate, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    return admin.create_assignment(session, user, course, body)


@router.patch(COURSE + "/assignments/{slug}")
def edit_assignment(course: str, slug: str, body: AssignmentEdit, session: DbSession,
                    user: CurrentUser) -> dict[str, Any]:
    return admin.edit_assignment(session, user, course, slug, body)


@router.get(COURSE + "/roster")
def roster(course: str, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    return admin.list_roster(session, user, course)


@router.post(COURSE + "/roster", status_code=201)
def add_member(course: str, body: MemberAdd, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    return admin.add_member(session, user, course, body)


@router.patch(COURSE + "/roster/{user_id}")
def edit_member(course: str, user_id: int, body: MemberEdit, session: DbSession,
                user: CurrentUser) -> dict[str, Any]:
    return admin.edit_member(session, user, course, user_id, body)


@router.post(COURSE + "/roster/import")
def import_roster(course: str, file: UploadFile, session: DbSession, user: CurrentUser,
                  format: Annotated[str, Form(description=", ".join(FORMATS))] = "canvas") -> dict[str, Any]:
    # Sync (a worker thread: the import writes to the database). One byte over the limit is enough to refuse:
    # the rest of the spooled upload is never read into memory.
    data = file.file.read(MAX_ROSTER_BYTES + 1)
    if len(data) > MAX_ROSTER_BYTES:
        raise BadUpload(f"the roster file is over {MAX_ROSTER_BYTES // (1024 * 1024)} MB; export only the student "
                        "columns, or split the file", status_code=413)
    return admin.import_roster(session, user, course, data, format)


@router.get(COURSE + "/assignments/{slug}/extensions")
def extensions(course: str, slug: str, session: DbSession, user: CurrentUser) -> list[dict[str, Any]]:
    return admin.list_extensions(session, user, course, slug)


@router.put(COURSE + "/assignments/{slug}/extensions/{user_id}")
def grant_extension(course: str, slug: str, user_id: int, body: ExtensionGrant, session: DbSession,
                    user: CurrentUser) -> dict[str, Any]:
    return admin.grant_extension(session, user, course, slug, user_id, body)


@router.delete(COURSE + "/assignments/{slug}/extensions/{user_id}", status_code=204)
def remove_extension(course: str, slug: str, user_id: int, session: DbSession, user: CurrentUser) -> Response:
    admin.remove_extension(session, user, course, slug, user_id)
    return Response(status_code=204)
