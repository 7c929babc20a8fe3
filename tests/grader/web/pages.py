"""What the page tests over a real database share: the service's app (grader.api.app.create_app: the pages, the
sign-in routes and every API they call, errors mapped as in the service) and a signed-in browser session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from playwright.sync_api import Browser, Page

from grader.api.app import create_app
from tests.grader.web.contract_app import sign_in_cookie


@asynccontextmanager
async def _no_background(_app: FastAPI) -> AsyncIterator[None]:
    yield


def pages_app() -> FastAPI:
    """The whole API app, as `grader serve` runs it (the pages need /api/v1/me and the session routes), without
    its background sweeper (the regrade tests decide themselves when a grading finishes)."""
    app = create_app()
    app.router.lifespan_context = _no_background
    return app


def sign_in(browser: Browser, url: str, token: str, width: int = 1200) -> tuple[Page, list[str]]:
    """A new page at `url` in its own browser context, signed in as the /sign-in page signs in with an API token
    (POST /auth/token sets the session cookie), and the list the page's script errors are collected in."""
    context = browser.new_context(viewport={"width": width, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_cookie(page, url.split("/", 3)[0] + "//" + url.split("/", 3)[2], token)
    page.goto(url)
    return page, errors
