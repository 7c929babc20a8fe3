"""JSON routes of the instructor dashboard, under /api/v1/instructor (docs/course-api.md, "The instructor's
dashboard"): one service call each, for course staff (instructors and TAs; admins everywhere).

Errors are GraderErrors (401 not signed in, 403 not staff anywhere, 404 a course, student or submission the
user is not staff of, 400 a bad field, named); the app's exception handler turns them into `{"detail": ...}`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from ..api.deps import SessionDep, UserDep
from . import charts, export, history, overrides, regrades, reports, status, table
from .access import instructor_course, teaching_courses

router = APIRouter(prefix="/api/v1/instructor", tags=["instructor"])


class CSVResponse(PlainTextResponse):
    media_type = "text/csv"


class OverrideIn(BaseModel):
    # Strict: "12" or true is a malformed body (422); NaN, infinities and out-of-range numbers get a 400 from
    # the service naming the field, as does a blank or too long comment (no length limit here for that reason).
    score: float = Field(strict=True, description="0..the submission's max_score, a finite number")
    comment: str = Field(strict=True, description="why (required, at most 2000 characters; the student reads it)")


@router.get("/courses")
def courses(session: SessionDep, user: UserDep) -> list[dict[str, Any]]:
    return teaching_courses(session, user)


@router.get("/courses/{slug}/grades")
def grades(slug: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return table.grade_table(session, user, instructor_course(session, user, slug))


@router.get("/courses/{slug}/grades.csv", response_class=CSVResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "one row per student"}})
def grades_csv(slug: str, session: SessionDep, user: UserDep) -> CSVResponse:
    text = export.csv_export(session, user, instructor_course(session, user, slug))
    return CSVResponse(text, media_type="text/csv; charset=utf-8",
                       headers={"Content-Disposition": f'attachment; filename="{slug}-grades.csv"'})


@router.get("/courses/{slug}/students/{user_id}/submissions")
def student_submissions(slug: str, user_id: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return history.student_submissions(session, user, instructor_course(session, user, slug), user_id)


@router.get("/courses/{slug}/assignments/{assignment}/histogram")
def histogram(slug: str, assignment: str, session: SessionDep, user: UserDep, bins: int = 10) -> dict[str, Any]:
    return charts.score_histogram(session, user, instructor_course(session, user, slug), assignment, bins)


@router.get("/courses/{slug}/assignments/{assignment}/failures")
def failures(slug: str, assignment: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return charts.failure_rates(session, user, instructor_course(session, user, slug), assignment)


@router.get("/courses/{slug}/assignments/{assignment}/modules")
def modules(slug: str, assignment: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return charts.module_failures(session, user, instructor_course(session, user, slug), assignment)


@router.post("/courses/{slug}/assignments/{assignment}/regrade", status_code=202)
def regrade_assignment(slug: str, assignment: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return regrades.regrade_all(session, user, instructor_course(session, user, slug), assignment)


@router.get("/submissions/{submission_id}")
def submission(submission_id: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return reports.submission_report(session, user, submission_id)


@router.put("/submissions/{submission_id}/override")
def set_override(submission_id: str, body: OverrideIn, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return overrides.set_override(session, user, submission_id, score=body.score, comment=body.comment)


@router.delete("/submissions/{submission_id}/override")
def clear_override(submission_id: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return overrides.clear_override(session, user, submission_id)


@router.post("/submissions/{submission_id}/regrade", status_code=202)
def regrade_submission(submission_id: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return regrades.regrade_one(session, user, submission_id)


@router.get("/regrades/{batch}")
def regrade_batch(batch: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return regrades.regrade_batch(session, user, batch)


@router.get("/status")
def grading_status(session: SessionDep, user: UserDep) -> dict[str, Any]:
    return status.grading_status(session, user)
