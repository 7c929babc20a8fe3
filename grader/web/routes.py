"""The pages and their static files. Thin: the pages hold no data; their scripts fetch it from the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from ..errors import NotFound

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

# Served by name from this list only: a path parameter never reaches the filesystem unchecked.
_STATIC_FILES = {path.name: path for path in STATIC.iterdir() if path.is_file()}
_MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}

router = APIRouter(include_in_schema=False)


def _asset_version() -> str:
    # Part of every static URL, so a browser never mixes a new page with an old cached script.
    return str(max(int(path.stat().st_mtime) for path in _STATIC_FILES.values()))


def _suites() -> list[str]:
    from capstone_tests.registry import SUITES  # the graded suites: the only names an assignment may use

    return list(SUITES)


@router.get("/", response_class=HTMLResponse)
def student_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "student.html", {"version": _asset_version()})


@router.get("/instructor", response_class=HTMLResponse)
def instructor_page(request: Request) -> HTMLResponse:
    # The suite names are the product's, not course data: the assignment form offers them as its choices.
    return templates.TemplateResponse(request, "instructor.html", {"version": _asset_version(), "suites": _suites()})


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    path = _STATIC_FILES.get(name)
    if path is None:
        raise NotFound(f"no static file {name!r}")
    return FileResponse(path, media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                        headers={"Cache-Control": "public, max-age=3600"})
