"""The similarity routes (docs/similarity.md, "Contract"): course staff only; one service call each."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from pydantic import BaseModel

from ..api.deps import CurrentUser, DbSession
from ..courses.service import instructor_course, staff_course
from ..errors import BadUpload
from ..intake import IntakeLimits
from . import library, service
from .queue import compare_after_commit

router = APIRouter(prefix="/api/v1/instructor", tags=["similarity"])
LIST = "/courses/{course}/assignments/{assignment}/similarity"
KNOWN = "/courses/{course}/similarity/known"
BOILERPLATE = "/courses/{course}/similarity/boilerplate"


class ReviewIn(BaseModel):
    status: str
    note: str | None = None


@router.get(LIST)
def similarity_list(course: str, assignment: str, session: DbSession, user: CurrentUser,
                    min_score: Annotated[float, Query(ge=0, le=1)] = 0.0, status: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 200) -> dict[str, Any]:
    found, _ = staff_course(session, user, course)
    return service.report(session, found, service.course_assignment(session, found, assignment),
                          min_score=min_score, status=status, limit=limit)


@router.get(LIST + "/{pair_id}")
def similarity_pair(course: str, assignment: str, pair_id: int, session: DbSession,
                    user: CurrentUser) -> dict[str, Any]:
    found, _ = staff_course(session, user, course)
    pair = service.get_pair(session, service.course_assignment(session, found, assignment), pair_id)
    return service.pair_detail(session, pair)


@router.put(LIST + "/{pair_id}/review")
def similarity_review(course: str, assignment: str, pair_id: int, body: ReviewIn, session: DbSession,
                      user: CurrentUser) -> dict[str, Any]:
    found, _ = staff_course(session, user, course)
    pair = service.get_pair(session, service.course_assignment(session, found, assignment), pair_id)
    return service.review(session, pair, user, body.status, body.note)


def _add(course: str, file: UploadFile, label: str | None, kind: str, session: DbSession,
         user: CurrentUser) -> dict[str, Any]:
    found = instructor_course(session, user, course)
    scratch = Path(tempfile.mkdtemp(prefix="grader-similarity-upload-"))
    try:
        path = scratch / "upload"
        _save_capped(file, path)
        return library.source_json(library.add_source(session, found, path, label or file.filename, kind,
                                                      by=user.email))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _save_capped(file: UploadFile, path: Path) -> None:
    """The upload to `path`, refused (413) past intake's archive size before it fills the disk."""
    limit = IntakeLimits().max_archive_bytes
    written = 0
    with path.open("wb") as out:
        while chunk := file.file.read(1024 * 1024):
            written += len(chunk)
            if written > limit:
                raise BadUpload(f"the archive is over {limit // (1024 * 1024)} MiB", status_code=413)
            out.write(chunk)


@router.post(KNOWN, status_code=201)
def add_known(course: str, session: DbSession, user: CurrentUser, file: Annotated[UploadFile, File()],
              label: Annotated[str | None, Form()] = None) -> dict[str, Any]:
    return _add(course, file, label, library.KNOWN, session, user)


@router.post(BOILERPLATE, status_code=201)
def add_boilerplate(course: str, session: DbSession, user: CurrentUser, file: Annotated[UploadFile, File()],
                    label: Annotated[str | None, Form()] = None) -> dict[str, Any]:
    return _add(course, file, label, library.BOILERPLATE, session, user)


@router.get(KNOWN)
def list_known(course: str, session: DbSession, user: CurrentUser) -> list[dict[str, Any]]:
    found, _ = staff_course(session, user, course)
    library.reference(session)
    return [library.source_json(row) for row in library.course_sources(session, found.id, library.KNOWN)]


@router.get(BOILERPLATE)
def list_boilerplate(course: str, session: DbSession, user: CurrentUser) -> list[dict[str, Any]]:
    found, _ = staff_course(session, user, course)
    return [library.source_json(row) for row in library.course_sources(session, found.id, library.BOILERPLATE)]


@router.delete(KNOWN + "/{source_id}", status_code=204)
@router.delete(BOILERPLATE + "/{source_id}", status_code=204)
def remove_source(course: str, source_id: int, session: DbSession, user: CurrentUser) -> Response:
    found = instructor_course(session, user, course)
    library.remove_source(session, library.get_source(session, found.id, source_id))
    return Response(status_code=204)


@router.post(LIST + "/rescan", status_code=202)
def similarity_rescan(course: str, assignment: str, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    found = instructor_course(session, user, course)
    ids = service.rescan(session, service.course_assignment(session, found, assignment))
    for submission_id in ids:
        compare_after_commit(session, submission_id)
    return {"queued": len(ids)}
