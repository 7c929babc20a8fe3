"""The instructor page's LMS panel (docs/pages.md "LMS panel") in real Chromium against the contract app's LMS
routes (contract_lms.py): a webhook endpoint added (the API's refusals beside the field; the secret shown once,
copied, gone after), the endpoints' status (disabled by a 410), each delivery's attempts, a redelivery, a delete
behind a confirmation; the tool's LTI values with copy buttons, a platform registered (refusals beside their
field), the registered platforms, the roster sync's result; a TA reads without controls; hostile text from the
API (a receiver's answer, a URL, a skipped member's name holding markup) shown as text, never run; axe-core and
no sideways scroll at 1280 and 390 px."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.grader.web.contract_lms import HOSTILE_EXCERPT, HOSTILE_URL
from tests.grader.web.contract_site import (
    DESKTOP,
    PHONE,
    TEACHER,
    assert_accessible,
    assert_no_horizontal_scroll,
    open_page,
    shoot,
)

HOOK = "https://lms.example.edu/hooks/grades"


def requests_to(term: object, method: str, path: str) -> list[object]:
    return [body for m, p, body in term.requests if m == method and p == path]  # type: ignore[attr-defined]


def lms_page(browser: Browser, url: str, viewport: dict[str, int] = DESKTOP) -> tuple[Page, list[str]]:
    page, errors = open_page(browser, url + "/instructor", TEACHER, viewport)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    expect(page.locator("#hook-list .lms-endpoint")).to_have_count(2)
    return page, errors


def clipboard(page: Page) -> str:
    return str(page.evaluate("navigator.clipboard.readText()"))


def assert_nothing_ran(page: Page) -> None:
    """The hostile values carried <script> and <img onerror>: none became an element, none ran."""
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#lms script, #lms img").count() == 0
    assert page.locator("#lms a").count() == 0  # no URL from the API becomes a link


def test_add_a_webhook_its_secret_once_and_the_refusals_in_words(browser: Browser, contract: tuple,
                                                                   shots: Path) -> None:
    url, term = contract
    page, errors = lms_page(browser, url)
    form = page.locator("#hook-form")
    form.get_by_label("Receiver URL").fill("ftp://lms.example.edu/hook")
    form.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#hook-url-error")).to_contain_text("url must be http:// or https://, not ftp")
    expect(page.locator("#hook-url")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#hook-url")).to_be_focused()
    for kind in ("submission.graded", "submission.failed", "grade.changed"):
        form.get_by_label(kind).uncheck()
    form.get_by_label("Receiver URL").fill("https://lms.example.edu/new-hook")
    form.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#hook-events-error")).to_have_text("Choose at least one event to send.")
    expect(page.locator("#hook-url-error")).to_be_hidden()

    form.get_by_label("submission.graded").check()
    form.get_by_label("grade.changed").check()
    form.get_by_role("button", name="Add endpoint").click()  # the stand-in answers 403 without the CSRF header
    secret_box = page.locator("#hook-secret")
    expect(secret_box).to_contain_text("It will not be shown again")
    secret = page.get_by_label("Secret", exact=True).input_value()
    assert secret.startswith("whsec_")
    assert requests_to(term, "POST", "/api/v1/instructor/courses/cs1/webhooks")[-1] == {
        "url": "https://lms.example.edu/new-hook", "events": ["submission.graded", "grade.changed"]}
    expect(page.locator("#hook-list .lms-endpoint")).to_have_count(3)
    expect(page.locator("#hook-list")).to_contain_text("https://lms.example.edu/new-hook")
    secret_box.get_by_role("button", name="Copy the secret").click()
    assert clipboard(page) == secret
    shoot(page, shots, "lms-secret-once-1280")
    secret_box.get_by_role("button", name="I have copied it").click()
    expect(secret_box).to_be_empty()
    assert secret not in page.content()
    page.reload()  # and no listing ever carries it again
    expect(page.locator("#hook-list .lms-endpoint")).to_have_count(3)
    assert secret not in page.content()
    assert errors == []


def test_endpoints_status_deliveries_redeliver_and_delete(browser: Browser, contract: tuple, shots: Path) -> None:
    url, term = contract
    page, errors = lms_page(browser, url)
    hooks = page.locator("#hook-list .lms-endpoint")
    active, gone = hooks.nth(0), hooks.nth(1)
    expect(active).to_contain_text("Status: active")
    expect(gone).to_contain_text("disabled since")
    expect(gone).to_contain_text("the receiver answered 410 Gone")
    expect(gone.locator("h4")).to_have_text(HOSTILE_URL)  # a URL full of markup, as text

    active.get_by_text("Latest deliveries").click()
    deliveries = active.locator(".delivery")
    expect(deliveries).to_have_count(10)
    retried = deliveries.filter(has_text="delivered").first
    expect(retried.locator("tr.attempt")).to_have_count(2)  # every attempt: the 503, then the 200
    expect(retried.locator("tr.attempt").nth(0)).to_contain_text("503")
    expect(retried.locator("tr.attempt").nth(0)).to_contain_text("41 ms")
    expect(retried.locator("tr.attempt").nth(0)).to_contain_text("busy, try later")
    expect(retried.locator("tr.attempt").nth(1)).to_contain_text('{"ok": true}')
    expect(deliveries.nth(0)).to_contain_text("ReadTimeout: no answer within 10 s")
    expect(deliveries.nth(0)).to_contain_text("next try")
    expect(deliveries.nth(1).locator("pre.excerpt")).to_have_text(HOSTILE_EXCERPT)
    active.get_by_role("button", name="Show all 28 deliveries").click()
    expect(deliveries).to_have_count(28)
    assert_nothing_ran(page)

    deliveries.nth(1).get_by_role("button", name="Redeliver submission.graded delivery 102").click()
    expect(page.locator("#message")).to_contain_text("again now")
    assert requests_to(term, "POST", "/api/v1/instructor/webhook-deliveries/102/redeliver") == [None]
    expect(deliveries.nth(1)).to_contain_text("pending")
    gone.get_by_text("Latest deliveries").click()
    expect(gone.get_by_role("button", name=re.compile("^Redeliver"))).to_be_disabled()  # the API would say 409
    shoot(page, shots, "lms-deliveries-1280")

    active.get_by_role("button", name=f"Delete the endpoint {HOOK}").click()
    active.get_by_role("button", name="Cancel").click()
    assert requests_to(term, "DELETE", "/api/v1/instructor/courses/cs1/webhooks/1") == []
    active.get_by_role("button", name=f"Delete the endpoint {HOOK}").click()
    expect(active.locator(".confirm")).to_contain_text("and its delivery log?")
    active.get_by_role("button", name="Yes, delete it").click()
    expect(hooks).to_have_count(1)
    assert requests_to(term, "DELETE", "/api/v1/instructor/courses/cs1/webhooks/1") == [None]
    expect(page.locator("#hook-list")).not_to_contain_text(HOOK)
    assert errors == []


def test_lti_values_registration_refusals_platforms_and_roster_sync(browser: Browser, contract: tuple,
                                                                    shots: Path) -> None:
    url, term = contract
    page, errors = lms_page(browser, url)
    expect(page.get_by_label("Login URL (OIDC initiation)", exact=True)).to_have_value(url + "/lti/login")
    expect(page.get_by_label("Launch / target link URL", exact=True)).to_have_value(url + "/lti/launch")
    expect(page.get_by_label("Public JWKS URL", exact=True)).to_have_value(url + "/lti/jwks")
    expect(page.get_by_label("Scopes", exact=True)).to_contain_text("https://purl.imsglobal.org/spec/lti-ags/scope/score")
    expect(page.get_by_label("Scopes", exact=True)).to_contain_text("contextmembership.readonly")
    page.get_by_role("button", name="Copy the Public JWKS URL").click()
    assert clipboard(page) == url + "/lti/jwks"
    page.get_by_role("button", name="Copy the Scopes").click()
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem" in clipboard(page).splitlines()

    platforms = page.locator("#lti-platform-table tbody tr")
    expect(platforms).to_have_count(1)
    expect(platforms.first).to_contain_text("onerror=window.__pwned=4>")  # a hostile stored URL, as text

    form = page.locator("#lti-form")
    fields = {"Issuer": "https://canvas.example.edu", "Client id": "10000000000042",
              "Platform JWKS URL": "file:///etc/passwd", "Auth (OIDC) URL": "https://canvas.example.edu/auth",
              "Token URL": "https://canvas.example.edu/token"}
    for label, value in fields.items():
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_role("button", name="Register platform").click()
    expect(page.locator("#lti-deployment-ids-error")).to_contain_text("At least one deployment id")
    form.get_by_label("Deployment ids (one per line)").fill("1:abc\n\n7:xyz\n")
    form.get_by_role("button", name="Register platform").click()
    expect(page.locator("#lti-jwks-url-error")).to_contain_text(
        "the JWKS URL must be an http(s) URL of at most 1000 characters, not 'file:///etc/passwd'")
    expect(page.locator("#lti-jwks-url")).to_be_focused()
    form.get_by_label("Platform JWKS URL").fill("https://canvas.example.edu/jwks")
    form.get_by_role("button", name="Register platform").click()
    expect(page.locator("#lti-issuer-error")).to_contain_text("is registered already (registration 1)")
    expect(page.locator("#lti-issuer-error")).not_to_contain_text("HTTP 409")
    expect(page.locator("#lti-jwks-url-error")).to_be_hidden()
    form.get_by_label("Deployment ids (one per line)").fill("\n".join(f"{n}:d" for n in range(51)))
    form.get_by_role("button", name="Register platform").click()  # the request model's 422, beside its field
    expect(page.locator("#lti-deployment-ids-error")).to_contain_text("at most 50")
    shoot(page, shots, "lms-lti-refusals-1280")

    form.get_by_label("Deployment ids (one per line)").fill("1:abc\n7:xyz")
    form.get_by_label("Client id").fill("10000000000099")
    form.get_by_role("button", name="Register platform").click()
    expect(platforms).to_have_count(2)
    expect(platforms.nth(1)).to_contain_text("10000000000099")
    expect(platforms.nth(1)).to_contain_text("1:abc, 7:xyz")
    sent = requests_to(term, "POST", "/api/v1/instructor/courses/cs1/lti/platforms")
    assert sent[-1] == {"issuer": "https://canvas.example.edu", "client_id": "10000000000099",
                        "deployment_ids": ["1:abc", "7:xyz"], "jwks_url": "https://canvas.example.edu/jwks",
                        "auth_url": "https://canvas.example.edu/auth", "token_url": "https://canvas.example.edu/token"}
    expect(form.get_by_label("Issuer")).to_have_value("")  # the form is emptied for the next one

    page.get_by_role("button", name="Sync roster from the LMS").click()
    result = page.locator("#roster-sync-result")
    expect(result).to_contain_text("3 enrolled, 1 dropped, 2 skipped.")
    expect(result.locator("li")).to_have_text(["Sam Noemail: the LMS shares no email address for this person",
                                               re.compile(r"^<b>Root</b>: ada@root\.example is site staff")])
    assert result.locator("b").count() == 0
    assert_nothing_ran(page)
    shoot(page, shots, "lms-lti-1280")
    assert errors == []


def test_a_ta_reads_the_panel_without_its_controls(browser: Browser, contract: tuple, shots: Path) -> None:
    url, term = contract
    term.courses[0]["role"] = "ta"  # the course listing's role of the reader: what the page decides on
    page, errors = lms_page(browser, url)
    panel = page.locator("#lms")
    expect(panel).to_contain_text("You are a TA in this course")
    expect(page.locator("#lti-platform-table tbody tr")).to_have_count(1)
    expect(page.get_by_label("Login URL (OIDC initiation)", exact=True)).to_have_value(url + "/lti/login")
    page.locator("#hook-list .lms-endpoint").first.get_by_text("Latest deliveries").click()
    expect(page.locator("#hook-list .delivery").first).to_be_visible()
    for control in ("#hook-form", "#lti-form", "#roster-sync"):
        assert panel.locator(control).count() == 0, control
    assert panel.get_by_role("button", name=re.compile("^(Delete|Redeliver|Yes, delete)")).count() == 0
    expect(panel).to_contain_text("An instructor syncs the roster from the LMS.")
    shoot(page, shots, "lms-ta-1280")
    assert errors == []


@pytest.mark.parametrize("viewport", [pytest.param(DESKTOP, id="1280"), pytest.param(PHONE, id="390")])
def test_the_panel_has_no_serious_violation_and_fits(browser: Browser, contract: tuple, shots: Path,
                                                     axe_script: str, viewport: dict[str, int]) -> None:
    url, _term = contract
    page, errors = lms_page(browser, url, viewport)
    page.locator("#hook-url").fill("https://lms.example.edu/another")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#hook-secret")).to_contain_text("It will not be shown again")
    for endpoint in page.locator("#hook-list .lms-endpoint").all()[:2]:
        endpoint.get_by_text("Latest deliveries").click()
    expect(page.locator("#hook-list .delivery").first).to_be_visible()
    page.get_by_role("button", name=f"Delete the endpoint {HOOK}").click()
    page.get_by_role("button", name="Register platform").click()  # the deployment ids' refusal shown
    expect(page.locator("#lti-deployment-ids-error")).to_be_visible()
    page.get_by_role("button", name="Sync roster from the LMS").click()
    expect(page.locator("#roster-sync-result")).to_contain_text("skipped")
    assert_no_horizontal_scroll(page)
    page.locator("#lms").screenshot(path=str(shots / f"lms-panel-{viewport['width']}.png"))
    shoot(page, shots, f"lms-page-{viewport['width']}")
    assert_accessible(page, axe_script)
    assert errors == []
