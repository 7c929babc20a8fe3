"""JSON routes of the instructor dashboard, under /api/v1/instructor: one service call each.

Errors are GraderErrors (401 no token, 403 a student, 404 a course or submission the instructor does not
teach); the app's exception handler turns them into `{"detail": ...}`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from ..api.deps import SessionDep, UserDep
from . import service

router = APIRouter(prefix="/api/v1/instructor", tags=["instructor"])


@router.get("/courses")
def courses(session: SessionDep, user: UserDep) -> list[dict[str, Any]]:
    return service.teaching_courses(session, user)


@router.get("/courses/{slug}/grades")
def grades(slug: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return service.grade_table(session, user, service.instructor_course(session, user, slug))


@router.get("/courses/{slug}/grades.csv", response_class=PlainTextResponse)
def grades_csv(slug: str, session: SessionDep, user: UserDep) -> PlainTextResponse:
    text = service.csv_export(session, user, service.instructor_course(session, user, slug))
    return PlainTextResponse(text, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{slug}-grades.csv"'})


@router.get("/courses/{slug}/assignments/{assignment}/histogram")
def histogram(slug: str, assignment: str, session: SessionDep, user: UserDep, bins: int = 10) -> dict[str, Any]:
    return service.score_histogram(session, user, service.instructor_course(session, user, slug), assignment, bins)


@router.get("/courses/{slug}/assignments/{assignment}/failures")
def failures(slug: str, assignment: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return service.failure_rates(session, user, service.instructor_course(session, user, slug), assignment)


@router.post("/courses/{slug}/assignments/{assignment}/regrade", status_code=202)
def regrade_assignment(slug: str, assignment: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return service.regrade_all(session, user, service.instructor_course(session, user, slug), assignment)


@router.get("/submissions/{submission_id}")
def submission(submission_id: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return service.submission_report(session, user, submission_id)


@router.post("/submissions/{submission_id}/regrade", status_code=202)
def regrade_submission(submission_id: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return service.regrade_one(session, user, submission_id)


@router.get("/regrades/{batch}")
def regrade_batch(batch: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return service.regrade_batch(session, user, batch)
