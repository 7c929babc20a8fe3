"""The LMS panel against the real service: the whole API app (grader.api.app.create_app, as `grader serve` runs
it) on uvicorn over a fresh PostgreSQL database, driven in real Chromium, nothing stubbed. The instructor adds a
webhook endpoint and registers an LTI platform from the page (the real API's refusals shown beside their field
first); `grader webhooks list` and `grader lti list --json`, run as the operator runs them, then list what the
page made, and the secret the page showed once is the one stored. The roster sync says why it cannot run yet. A
TA sees both without the controls, and the API refuses the TA's forged change; the endpoint is deleted from the
page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from grader.courses.service import create_course, enroll
from grader.db import migrate
from grader.db.models import WebhookEndpoint
from grader.db.session import dispose_engines, session_scope
from grader.settings import get_settings
from grader.users.service import create_user
from tests.grader.web.contract_site import assert_accessible, assert_no_horizontal_scroll
from tests.grader.web.pages import pages_app, sign_in

HOOK = "http://127.0.0.1:9/grades-hook"  # never called: adding an endpoint sends nothing
PLATFORM = {"Issuer": "https://canvas.example.edu", "Client id": "10000000000042",
            "Platform JWKS URL": "https://canvas.example.edu/api/lti/security/jwks",
            "Auth (OIDC) URL": "javascript:alert(1)", "Token URL": "https://canvas.example.edu/login/oauth2/token"}


@dataclass
class Site:
    url: str
    env: dict[str, str]
    teacher: str
    ta: str


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threaded_server: type,
         new_postgres_database: Callable[[], AbstractContextManager[str]]) -> Iterator[Site]:
    with new_postgres_database() as database_url:
        env = {"GRADER_DATABASE_URL": database_url, "GRADER_DATA_DIR": str(tmp_path / "data")}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        migrate.upgrade(database_url)
        with session_scope(write=True) as session:
            course = create_course(session, "cs1", "TinyTorch spring")
            teacher, teacher_token = create_user(session, "teach@example.edu", "instructor")
            enroll(session, teacher, course, "instructor")
            ta, ta_token = create_user(session, "ta@example.edu", "student")
            enroll(session, ta, course, "ta")
        try:
            with threaded_server(pages_app()) as server:
                yield Site(server.url, {**os.environ, **env}, teacher_token, ta_token)
        finally:
            dispose_engines()
            get_settings.cache_clear()


def grader_cli(site: Site, *args: str) -> str:
    """`grader ARGS...` as its own process over the same database, as the operator types it."""
    done = subprocess.run([sys.executable, "-m", "grader", *args], env=site.env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_webhook_and_an_lti_platform_made_from_the_page(browser: Browser, site: Site, shots: Path,
                                                          axe_script: str) -> None:
    page, errors = sign_in(browser, site.url + "/instructor?course=cs1", site.teacher)
    expect(page.locator("#hook-list")).to_contain_text("No webhook endpoint yet.")
    expect(page.locator("#lti-platforms")).to_contain_text("No LMS registered for this course.")
    expect(page.get_by_label("Login URL (OIDC initiation)", exact=True)).to_have_value(site.url + "/lti/login")

    # The webhook: refused with the real service's words, then made; its secret shown once.
    page.get_by_label("Receiver URL").fill("https://user:pw@lms.example.edu/hook")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#hook-url-error")).to_have_text(
        "url must not hold a user name or password: the signature authenticates the sender")
    page.get_by_label("Receiver URL").fill(HOOK)
    page.locator("#hook-form").get_by_label("submission.failed").uncheck()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#hook-secret")).to_contain_text("It will not be shown again")
    secret = page.get_by_label("Secret", exact=True).input_value()
    expect(page.locator("#hook-list .lms-endpoint")).to_have_count(1)
    expect(page.locator("#hook-list .lms-endpoint")).to_contain_text("Status: active")

    # The platform: the auth URL refused beside its field, then registered.
    form = page.locator("#lti-form")
    for label, value in PLATFORM.items():
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_label("Deployment ids (one per line)").fill("1:abc\n2:def")
    form.get_by_role("button", name="Register platform").click()
    expect(page.locator("#lti-auth-url-error")).to_have_text(
        "the auth (OIDC) URL must be an http(s) URL of at most 1000 characters, not 'javascript:alert(1)'")
    form.get_by_label("Auth (OIDC) URL").fill("https://canvas.example.edu/api/lti/authorize_redirect")
    form.get_by_role("button", name="Register platform").click()
    expect(page.locator("#lti-platform-table tbody tr")).to_have_count(1)
    expect(page.locator("#lti-platform-table tbody tr")).to_contain_text("1:abc, 2:def")

    page.get_by_role("button", name="Sync roster from the LMS").click()
    expect(page.locator("#roster-sync-result")).to_contain_text(
        "Not synced: no LMS has launched course 'cs1' with a roster service yet")
    assert_no_horizontal_scroll(page)
    page.locator("#lms").screenshot(path=str(shots / "e2e-lms-panel-1280.png"))
    assert_accessible(page, axe_script)

    # What the operator's commands list: what the page made.
    hooks = grader_cli(site, "webhooks", "list", "cs1")
    assert hooks.strip().split("\t")[1:] == [HOOK, "submission.graded,grade.changed", "active"], hooks
    assert secret not in hooks
    with session_scope() as session:
        stored = session.scalars(select(WebhookEndpoint)).one()
        assert (stored.url, stored.secret) == (HOOK, secret)  # the secret shown once is the receiver's
    platforms = json.loads(grader_cli(site, "lti", "list", "--json"))["platforms"]
    assert [{k: p[k] for k in ("issuer", "client_id", "deployment_ids", "auth_url", "course")} for p in platforms] == [
        {"issuer": "https://canvas.example.edu", "client_id": "10000000000042", "deployment_ids": ["1:abc", "2:def"],
         "auth_url": "https://canvas.example.edu/api/lti/authorize_redirect", "course": "cs1"}]

    # A TA reads both, without controls; the API refuses a change the page does not offer.
    ta_page, ta_errors = sign_in(browser, site.url + "/instructor?course=cs1", site.ta)
    expect(ta_page.locator("#hook-list .lms-endpoint")).to_contain_text(HOOK)
    expect(ta_page.locator("#lti-platform-table tbody tr")).to_contain_text("10000000000042")
    assert ta_page.locator("#hook-form, #lti-form, #roster-sync").count() == 0
    assert ta_page.locator("#lms").get_by_role("button", name="Delete", exact=True).count() == 0
    forged = ta_page.evaluate("""async () => {
        const me = await (await fetch("/api/v1/me")).json();
        const r = await fetch("/api/v1/instructor/courses/cs1/webhooks", {method: "POST",
            headers: {"Content-Type": "application/json", "X-CSRF-Token": me.csrf_token},
            body: JSON.stringify({url: "https://attacker.example/hook"})});
        return r.status; }""")
    assert forged == 403
    assert ta_errors == []

    # Deleted from the page, behind its confirmation.
    page.get_by_role("button", name=f"Delete the endpoint {HOOK}").click()
    page.get_by_role("button", name="Yes, delete it").click()
    expect(page.locator("#hook-list")).to_contain_text("No webhook endpoint yet.")
    assert "no webhooks in cs1" in grader_cli(site, "webhooks", "list", "cs1")
    assert errors == []
