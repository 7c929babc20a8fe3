"""The gradebook CSV over HTTP (docs/lms.md, "Gradebook CSV"): one route for course staff, one service call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..api.deps import SessionDep, UserDep
from ..dashboard.routes import CSVResponse
from .csv_export import LAYOUTS, export_filename, staff_gradebook_csv

router = APIRouter(prefix="/api/v1/instructor", tags=["instructor"])


@router.get("/courses/{course}/export.csv", response_class=CSVResponse,
            responses={200: {"content": {"text/csv": {}},
                             "description": "one row per student in the LMS's gradebook layout (UTF-8, CRLF)"}})
def export_csv(course: str, session: SessionDep, user: UserDep,
               layout: Annotated[str, Query(alias="format", description=" | ".join(LAYOUTS))],
               assignment: Annotated[str | None, Query(description="one assignment's slug (default: all)")]
               = None) -> CSVResponse:
    # A string, not an enum: an unknown format is the service's 400 naming the choices, checked after the
    # staff check so a student learns nothing but 403.
    text = staff_gradebook_csv(session, user, course, layout, assignment)
    name = export_filename(course, layout, assignment)
    return CSVResponse(text, media_type="text/csv; charset=utf-8",
                       headers={"Content-Disposition": f'attachment; filename="{name}"'})
