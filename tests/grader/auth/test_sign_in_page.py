"""The sign-in pages in a real browser (the system's Chromium, driven by Playwright) on a phone-sized screen:
labelled fields, a visible focus, errors announced (role=alert) and focused, and both ways in ending signed in."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from conftest import People, auth_app, free_port
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.orm import Session

from grader.auth import links
from grader.web.routes import router as web_router

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        yield chromium
        chromium.close()


@pytest.fixture
def site(db_session: Session) -> Iterator[str]:
    app: FastAPI = auth_app(db_session)
    app.include_router(web_router)  # the pages signing in lands on, and the stylesheet
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _fits(page: Page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"


def test_signing_in_with_a_token_on_a_phone(browser: Browser, site: str, people: People, tmp_path: Path) -> None:
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{site}/sign-in")
    _fits(page)
    assert page.locator("header .signin").is_hidden()  # the header's own token form is not shown here
    email = page.get_by_label("Your email address")
    email.focus()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    assert page.get_by_role("button", name="Email me a sign-in link").is_visible()
    page.screenshot(path=str(tmp_path / "sign-in-390.png"), full_page=True)

    page.get_by_label("Your API token").fill("tt_wrong")
    page.get_by_role("button", name="Sign in with this token").click()
    alert = page.get_by_role("alert")
    assert "invalid or revoked API token" in alert.inner_text()
    assert page.evaluate("document.activeElement.id") == "api-token"
    _fits(page)

    page.get_by_label("Your API token").fill(people.student_token)
    page.get_by_role("button", name="Sign in with this token").click()
    page.wait_for_url(f"{site}/")
    cookie = next(c for c in page.context.cookies() if c["name"] == "tt_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    page.close()


def test_the_link_page_names_who_and_signs_in_with_one_button(browser: Browser, site: str, people: People,
                                                              db_session: Session) -> None:
    _, token = links.issue_link(db_session, people.instructor)
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{site}/sign-in/link?token={token}")
    _fits(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in as prof@example.edu"
    assert not [c for c in page.context.cookies() if c["name"] == "tt_session"]  # looking signed nobody in
    page.get_by_role("button", name="Sign in as prof@example.edu").click()
    page.wait_for_url(f"{site}/instructor")
    assert [c for c in page.context.cookies() if c["name"] == "tt_session"]
    # Asking for a link from the page: the answer is the page, with the message as a status.
    page.goto(f"{site}/sign-in")
    page.get_by_label("Your email address").fill("nobody@example.edu")
    page.get_by_role("button", name="Email me a sign-in link").click()
    assert "ask your course staff" in page.get_by_role("status").first.inner_text()
    page.close()
