"""The whole LTI launch in real headless Chromium (the system's, driven by Playwright): the LMS (lti1p3platform
on loopback) sends the browser to the tool's login, the tool to the platform's auth endpoint, whose form posts
the id_token back; the browser lands signed in on the student's page. The tool is the whole app (`grader
serve`'s) on uvicorn over a real SQLite file."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from lti_platform import INSTRUCTOR, LtiPlatformServer, Person, free_port
from playwright.sync_api import sync_playwright

from grader.api.app import create_app
from grader.courses.service import create_assignment, create_course
from grader.db import migrate
from grader.db.session import dispose_engines, session_scope
from grader.lms.lti import platform_keys, service_token
from grader.lms.lti.platforms import add_platform
from grader.settings import get_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def tool_and_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, LtiPlatformServer]]:
    url = f"sqlite:///{tmp_path / 'grader.db'}"
    monkeypatch.setenv("GRADER_DATABASE_URL", url)
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GRADER_SWEEP_INTERVAL_S", "0")
    for name in ("GRADER_BROKER_URL", "GRADER_PUBLIC_URL", "GRADER_SESSION_COOKIE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    platform_keys.clear_cache()
    service_token.clear_cache()
    migrate.upgrade(url)
    port = free_port()
    tool = f"http://127.0.0.1:{port}"
    platform = LtiPlatformServer(tool_base=tool).start()
    with session_scope(write=True) as session:
        course = create_course(session, "cs329", "ML systems")
        create_assignment(session, course, "capstone", "Capstone")
        add_platform(session, course=course, **platform.registration_fields())
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        platform.trust_tool_keys(httpx.get(f"{tool}/lti/jwks", timeout=10).json())
        yield tool, platform
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        platform.stop()
        dispose_engines()
        get_settings.cache_clear()


def test_a_launch_in_chromium_lands_signed_in(tool_and_platform: tuple[str, LtiPlatformServer]) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    tool, platform = tool_and_platform
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for person, landing in ((Person("s-1", "ada@example.org", [], "Ada"), "/"),
                                    (Person("p-1", "prof@example.org", [INSTRUCTOR]), "/instructor?course=cs329")):
                platform.person = person
                platform.custom = {}
                context = chromium.new_context()
                page = context.new_page()
                page.goto(f"{tool}/lti/login?{urlencode(platform.login_params())}")
                page.wait_for_url(f"{tool}{landing}", timeout=15_000)
                me = page.request.get(f"{tool}/api/v1/me")
                assert me.ok, me.text()
                assert me.json()["email"] == person.email
                context.close()
        finally:
            chromium.close()


def test_a_link_naming_an_assignment_opens_the_page_on_it(tool_and_platform: tuple[str, LtiPlatformServer]) -> None:
    tool, platform = tool_and_platform
    platform.custom = {"assignment": "capstone"}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for person, landing, chosen in (
                    (Person("s-2", "bo@example.org", [], "Bo"), "/?assignment=cs329%2Fcapstone",
                     {"#assignment": "cs329/capstone"}),
                    (Person("p-2", "prof2@example.org", [INSTRUCTOR]), "/instructor?course=cs329&assignment=capstone",
                     {"#course": "cs329", "#assignment": "capstone"})):
                platform.person = person
                context = chromium.new_context()
                page = context.new_page()
                page.goto(f"{tool}/lti/login?{urlencode(platform.login_params())}")
                page.wait_for_url(f"{tool}{landing}", timeout=15_000)
                for selector, value in chosen.items():
                    page.wait_for_function("([s, v]) => document.querySelector(s).value === v", arg=[selector, value],
                                           timeout=15_000)
                context.close()
        finally:
            chromium.close()
