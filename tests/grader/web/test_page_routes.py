"""The page routes alone: both shells render with their scripts, static files are served by name only."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from grader.errors import GraderError
from grader.web.routes import router


def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)

    @app.exception_handler(GraderError)
    async def _grader_error(_request: Request, error: GraderError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code)

    return TestClient(app)


def test_pages_render_with_their_scripts() -> None:
    with client() as http:
        student = http.get("/")
        assert student.status_code == 200 and student.headers["content-type"].startswith("text/html")
        assert '<script src="/static/student.js?v=' in student.text and 'id="file"' in student.text
        instructor = http.get("/instructor")
        assert '<script src="/static/instructor.js?v=' in instructor.text and 'id="grades"' in instructor.text


def test_static_files_by_name_only() -> None:
    with client() as http:
        css = http.get("/static/app.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert http.get("/static/common.js").headers["content-type"].startswith("text/javascript")
        assert http.get("/static/nope.js").status_code == 404
        assert http.get("/static/..%2Froutes.py").status_code == 404
