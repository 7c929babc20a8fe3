"""The student page in real Chromium against the contract app (docs/course-api.md): signed out it links to
/sign-in; signed in it lists the assignments (due date in two zones, late policy in words, which submission
counts), hands in through a <select>ed assignment with the CSRF header, follows the grading live and picks it
up again after a reload, shows a report by priority with where/what/hint, says a failed or delayed grading
honestly, and rotates the student's own API token. Every state fits a 390 px phone."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.grader.web.contract_data import DELAYED, HOSTILE_NAME, LONG_DIAGNOSTIC
from tests.grader.web.contract_site import ADA, DESKTOP, PHONE, assert_no_horizontal_scroll, open_page, shoot


def test_signed_out_shows_a_sign_in_link(browser: Browser, contract: tuple, shots: Path) -> None:
    url, _term = contract
    page, errors = open_page(browser, url + "/", None, PHONE)
    link = page.locator("#whoami").get_by_role("link", name="Sign in")
    expect(link).to_have_attribute("href", "/sign-in")
    expect(page.locator("#signed-out")).to_be_visible()
    expect(page.locator("#upload-form")).to_be_hidden()
    assert page.locator("input[type=password], #token").count() == 0  # no token field any more
    shoot(page, shots, "student-signed-out-390")
    assert errors == []


def test_assignments_say_when_how_late_and_what_counts(browser: Browser, contract: tuple, shots: Path) -> None:
    url, _term = contract
    page, errors = open_page(browser, url + "/", ADA, DESKTOP)
    capstone = page.locator("li.assignment", has_text="Capstone")
    expect(capstone.locator(".due")).to_contain_text("your time (2027-01-15 23:59 Europe/Zurich)")
    expect(capstone.locator(".late-policy")).to_have_text(
        "Late work loses 10% per day late, up to 7 days; after that it counts 0.")
    expect(capstone.locator(".score-policy")).to_have_text("your best submission counts")
    expect(capstone.locator(".standing")).to_contain_text("counts 50 / 80")
    autograd = page.locator("li.assignment", has_text="Autograd")
    expect(autograd.locator(".due")).to_contain_text("Extended to")
    expect(autograd.locator(".due")).to_contain_text("2027-01-12 23:59 +05:30")
    expect(autograd.locator(".late-policy")).to_have_text("No late work: after the due date a submission counts 0.")
    expect(autograd.locator(".score-policy")).to_contain_text("your latest submission counts; at most 5 submissions")
    expect(page.locator("#status-banner")).to_contain_text("Grading is delayed.")
    options = page.locator("#assignment option")
    expect(options).to_have_count(2)
    assert page.locator("#assignment").evaluate("e => e.tagName") == "SELECT"
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(4)
    expect(history.filter(has_text="ada-first.zip")).to_contain_text("counts")
    expect(history.filter(has_text="ada-second")).not_to_contain_text("counts")
    expect(history.filter(has_text="ada-second").locator(".filename")).to_have_text(HOSTILE_NAME)
    assert page.locator("#history img").count() == 0 and page.evaluate("window.pwned") is None
    shoot(page, shots, "student-assignments-1280")
    assert errors == []


def test_upload_progress_resumes_after_a_reload(browser: Browser, contract: tuple, shots: Path,
                                                tmp_path: Path) -> None:
    url, term = contract
    term.grading_s = 4.0
    archive = tmp_path / "broken-package.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    page, errors = open_page(browser, url + "/", ADA, PHONE)
    page.locator("#assignment").select_option("cs1/capstone")
    page.locator("#file").set_input_files(str(archive))
    expect(page.locator("#progress-box")).to_be_visible()
    page.wait_for_url("**/?submission=sub-new-*")
    sent = next(body for method, path, body in term.requests if path == "/api/v1/submissions" and body)
    assert sent == {"assignment": "cs1/capstone"}  # the select's choice, with the CSRF header
    expect(page.locator("#progress-label")).to_contain_text("running")  # live, from the event stream
    page.reload()  # the watched id is in the URL: the page follows the same grading again
    expect(page.locator("#progress-label")).to_have_text("graded", timeout=15_000)
    expect(page.locator("#score")).to_have_text("50 / 80")
    expect(page.locator("#announce")).to_have_text("Graded: 50 of 80. 2 of 6 tests did not pass.")
    expect(page.locator("#verdict")).not_to_contain_text("Every test passed")
    expect(page.locator("#result-meta")).to_contain_text("broken-package.zip")
    download = page.locator("#download a")
    with page.expect_download() as info:
        download.click()
    assert Path(info.value.path()).read_bytes() == archive.read_bytes()  # one's own upload, as sent
    assert_no_horizontal_scroll(page)
    shoot(page, shots, "student-after-upload-390")
    assert errors == []


def test_the_report_by_priority_failures_first_with_where_what_hint(browser: Browser, contract: tuple,
                                                                    shots: Path) -> None:
    url, _term = contract
    for viewport, name in ((DESKTOP, "1280"), (PHONE, "390")):
        page, errors = open_page(browser, url + "/?submission=sub-ada-1", ADA, viewport)
        expect(page.locator("#score")).to_have_text("50 / 80")
        groups = page.locator(".test-group > h4")
        expect(groups).to_have_text(["P2 1 of 1 failed", "P3 1 of 2 failed", "P1 all 2 passed",
                                     "14_profiling all 1 passed"])
        p3 = page.locator(".test-group", has=page.locator("h4", has_text="P3")).locator("li.test")
        expect(p3.nth(0)).to_have_class("test failure")  # failures first inside a group
        failure = page.locator("li.failure", has_text="test_autograd_chain_rule")
        expect(failure.locator(".where")).to_have_text(
            "module 05 autograd · tinytorch/core/autograd.py · backward() · line 142")
        expect(failure.locator(".what")).to_have_text(LONG_DIAGNOSTIC)
        expect(failure.locator(".hint")).to_contain_text("Accumulate into .grad")
        expect(failure.get_by_role("group", name="Example: input, expected, got")).to_be_visible()
        no_file = page.locator("li.failure", has_text="test_cnn_architecture")
        expect(no_file.locator(".where")).to_have_text("module 09 spatial")  # absent parts left out
        expect(no_file.locator(".hint")).to_have_count(0)
        failure.get_by_text("Evidence").click()
        failure.get_by_text("Output").click()
        expect(page.locator("#result")).not_to_contain_text("null")
        reproduce = page.get_by_label("Command that reproduces this grade")
        expect(reproduce).to_have_value("pytest capstone_tests --tinytorch . --seed 1234 --suite-version suite-7 -q")
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.get_by_role("button", name="Copy the reproduce command").click()
        assert page.evaluate("navigator.clipboard.readText()") == reproduce.input_value()
        assert_no_horizontal_scroll(page)
        shoot(page, shots, f"student-report-{name}")
        assert errors == []


def test_a_failed_and_a_delayed_grading_are_said_honestly(browser: Browser, contract: tuple, shots: Path) -> None:
    url, _term = contract
    page, errors = open_page(browser, url + "/", ADA, PHONE)
    page.locator("#history tbody tr", has_text="ada-second").get_by_role("button", name="Show").click()
    expect(page.locator("#verdict")).to_have_text(
        "Grading failed: the sandbox could not start. This is not your fault; resubmitting is safe.")
    expect(page.locator("#score")).to_have_text("not graded")
    expect(page.locator("#result")).not_to_contain_text("Every test passed")
    assert "submission=sub-ada-2" in page.url
    expect(page.locator("#result-meta")).to_contain_text(HOSTILE_NAME)
    assert page.evaluate("window.pwned") is None
    page.locator("#history tbody tr", has_text="ada-third.tar.gz").get_by_role("button", name="Show").click()
    expect(page.locator("#delayed")).to_have_text(DELAYED)
    expect(page.locator("#progress-label")).to_have_text("queued")
    expect(page.locator("#result")).to_be_hidden()
    assert_no_horizontal_scroll(page)
    shoot(page, shots, "student-delayed-390")
    page.reload()  # still watched after a reload
    expect(page.locator("#delayed")).to_have_text(DELAYED)
    assert errors == []


def test_every_test_passed_only_when_all_ran_and_passed(browser: Browser, contract: tuple) -> None:
    url, _term = contract
    page, errors = open_page(browser, url + "/?submission=sub-ada-4", ADA, DESKTOP)
    expect(page.locator("#verdict")).to_have_text("Every test passed.")
    expect(page.locator("#announce")).to_contain_text("Graded: 15 of 15.")
    assert errors == []


def test_the_own_api_token_is_rotated_and_shown_once(browser: Browser, contract: tuple, shots: Path) -> None:
    url, _term = contract
    page, errors = open_page(browser, url + "/", ADA, PHONE)
    expect(page.locator("#token-now")).to_contain_text("Your token starts tt_ada_…")
    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_request("**/api/v1/me/token") as sent:
        page.get_by_role("button", name="Make a new token").click()
    csrf = page.evaluate("fetch('/api/v1/me').then(r => r.json()).then(me => me.csrf_token)")
    assert sent.value.headers.get("x-csrf-token") == csrf and "authorization" not in sent.value.headers
    token = page.get_by_label("Your new API token")
    expect(token).to_have_value(__import__("re").compile(r"^tt_[0-9a-f]{32}$"))
    expect(page.locator("#new-token")).to_contain_text("shown only once")
    expect(page.get_by_role("button", name="Copy the new token")).to_be_visible()
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0  # nothing kept in the browser
    assert_no_horizontal_scroll(page)
    shoot(page, shots, "student-token-390")
    page.reload()
    expect(page.get_by_label("Your new API token")).to_have_count(0)  # once
    assert errors == []
