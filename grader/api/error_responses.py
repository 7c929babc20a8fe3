"""Errors to HTTP responses: the app's one set of exception handlers.

- A GraderError becomes its status, `{"detail": ...}` and its headers (Retry-After on 429 and 503).
- An outage of the grader's own (grader.errors.infrastructure_error: the database not answering, a full disk, no
  file descriptors left) becomes that 503, wherever it was raised, even when a framework wrapped it into a 400.
- Anything else stays a 500: it is a bug, and the traceback is logged.

A browser that navigated to the URL (it asks for text/html, not JSON) gets the same sentence as a small page.
"""

from __future__ import annotations

import html
import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import Counter
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import GraderError, ServiceUnavailable, TooManyRequests, infrastructure_error
from ..submissions.service import RejectedUpload
from . import health

log = logging.getLogger(__name__)
UNAVAILABLE = Counter("grader_http_unavailable", "Requests answered 503 because of an outage, by reason", ["reason"])

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>{title}</h1><p>{detail}</p></main></body></html>
"""


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GraderError, _grader_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_exception)  # type: ignore[arg-type]
    # Raised from anywhere below a route: a session that cannot connect, a temporary file that cannot be made.
    app.add_exception_handler(SQLAlchemyError, _maybe_outage)
    app.add_exception_handler(OSError, _maybe_outage)


async def _grader_error(request: Request, error: GraderError) -> Response:
    if isinstance(error, RejectedUpload):
        health.UPLOADS_REJECTED.labels(reason=error.reason).inc()
    elif isinstance(error, TooManyRequests):
        health.UPLOADS_REJECTED.labels(reason="rate_limited").inc()
    elif isinstance(error, ServiceUnavailable):
        UNAVAILABLE.labels(reason=error.reason).inc()
    if _wants_page(request):
        title = f"{error.status_code}: {'unavailable, try again' if error.status_code == 503 else 'not done'}"
        page = PAGE.format(title=html.escape(title), detail=html.escape(error.detail))
        return HTMLResponse(page, status_code=error.status_code, headers=error.headers)
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    # One {"detail": "<text>"} shape for every 4xx, naming what is missing (e.g. the file field); /openapi.json
    # declares this body for 422 (grader.api.openapi), not FastAPI's list of validation errors.
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
    return JSONResponse({"detail": problems or "invalid request"}, status_code=422)


async def _http_exception(request: Request, error: Exception) -> Response:
    # FastAPI answers 400 "There was an error parsing the body" for anything raised while it reads a form,
    # including ENOSPC or EMFILE while it spools the upload to a temporary file: that is ours, not the student's.
    outage = infrastructure_error(error)
    if outage is not None:
        return await _outage(request, outage, error)
    assert isinstance(error, StarletteHTTPException)
    return await http_exception_handler(request, error)


async def _maybe_outage(request: Request, error: Exception) -> Response:
    outage = infrastructure_error(error)
    if outage is None:
        raise error  # a bug: Starlette's error middleware logs it and answers 500
    return await _outage(request, outage, error)


async def _outage(request: Request, outage: ServiceUnavailable, cause: BaseException) -> Response:
    # One line, not a traceback: during an outage every request says the same thing.
    log.warning("%s %s answered 503 (%s): %s: %s", request.method, request.url.path, outage.reason,
                type(cause).__name__, str(cause).strip().splitlines()[0] if str(cause).strip() else "")
    return await _grader_error(request, outage)


def _wants_page(request: Request) -> bool:
    # The pages' scripts (fetch) and API clients accept */* or JSON; a browser navigating asks for text/html.
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept
