"""What the page tests share: the app serving the pages and the APIs they call, and signing in with a token."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from playwright.sync_api import Browser, Page

from grader.dashboard.routes import router as dashboard_router
from grader.errors import GraderError
from grader.submissions.routes import router as submissions_router
from grader.web.routes import router as web_router


def pages_app() -> FastAPI:
    """The student and instructor pages with the submission and dashboard APIs, errors mapped as in the service."""
    app = FastAPI()
    for router in (web_router, submissions_router, dashboard_router):
        app.include_router(router)

    @app.exception_handler(GraderError)
    async def _grader_error(_request: Request, error: GraderError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)

    return app


def sign_in(browser: Browser, url: str, token: str, width: int = 1200) -> tuple[Page, list[str]]:
    """A new page at `url`, signed in with `token`, and the list the page's script errors are collected in."""
    page = browser.new_page(viewport={"width": width, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    return page, errors
