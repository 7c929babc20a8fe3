"""The instructor page in real Chromium against the contract app (docs/course-api.md): create a course and an
assignment (suites, a due date in a chosen zone, late and score policy, a per-hour limit), edit it, import a
roster, add and drop a student, copy a sign-in link, grant an extension; the grade table sorted, searched and
filtered; one student's submissions; a report with a score override beside the automatic score; a regrade by
student; what the class got wrong by module, as a chart and as a table; the stuck gradings."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.grader.web.contract_site import DESKTOP, PHONE, TEACHER, assert_no_horizontal_scroll, open_page, shoot


def body_of(term: object, method: str, path: str) -> object:
    return next(body for m, p, body in reversed(term.requests) if m == method and p == path)  # type: ignore[attr-defined]


def test_create_a_course_and_an_assignment_then_edit_it(browser: Browser, contract: tuple, shots: Path) -> None:
    url, term = contract
    page, errors = open_page(browser, url + "/instructor", TEACHER, DESKTOP)
    expect(page.locator("#ops")).to_contain_text("2 gradings stuck")
    page.get_by_text("Create a course").click()
    page.get_by_label("Short name (slug)").first.fill("cs2")
    page.get_by_label("Name", exact=True).first.fill("TinyTorch autumn")
    page.get_by_role("button", name="Create course").click()
    expect(page.locator("#course")).to_have_value("cs2")  # the new course is picked

    page.locator("#course").select_option("cs1")
    page.get_by_text("Create an assignment").click()
    page.locator("#a-slug").fill("attention")
    page.locator("#a-title").fill("Attention")
    page.locator("#a-suites").select_option(["12_attention", "13_transformers"])
    page.locator("#a-due").fill("2027-01-15T23:59")
    page.locator("#a-zone").select_option("Europe/Zurich")
    page.locator("#a-penalty").fill("10")
    page.locator("#a-maxdays").fill("3")
    page.locator("#a-policy").select_option("latest")
    page.locator("#a-limit").fill("4")
    page.get_by_role("button", name="Create assignment").click()
    expect(page.locator("#assignment-table")).to_contain_text("Attention")
    sent = body_of(term, "POST", "/api/v1/instructor/courses/cs1/assignments")
    assert sent == {"slug": "attention", "title": "Attention", "suites": ["12_attention", "13_transformers"],
                    "opens_at": None, "due_at": "2027-01-15T23:59:00+01:00", "due_time_zone": "Europe/Zurich",
                    "late_policy": {"penalty_per_day": 0.1, "max_late_days": 3}, "score_policy": "latest",
                    "max_submissions_per_hour": 4}
    # Summer time in Zurich: the offset follows the date.
    page.get_by_role("button", name="Edit Attention").click()
    expect(page.locator("#a-due")).to_have_value("2027-01-15T23:59")
    expect(page.locator("#a-zone")).to_have_value("Europe/Zurich")
    page.locator("#a-due").fill("2027-07-01T12:00")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#assignment-table")).to_contain_text("2027-07-01 12:00 Europe/Zurich")
    edited = body_of(term, "PATCH", "/api/v1/instructor/courses/cs1/assignments/attention")
    assert edited["due_at"] == "2027-07-01T12:00:00+02:00" and "slug" not in edited  # type: ignore[index]
    shoot(page, shots, "instructor-assignments-1280")
    assert errors == []


def test_roster_import_add_drop_link_and_extension(browser: Browser, contract: tuple, shots: Path,
                                                   tmp_path: Path) -> None:
    url, term = contract
    page, errors = open_page(browser, url + "/instructor", TEACHER, PHONE)
    roster = page.locator("#roster tbody tr")
    expect(roster).to_have_count(5)
    csv = tmp_path / "roster.csv"
    csv.write_text("email,name\nnew@example.edu,New\nnot-an-address,Bad\nother@example.edu,Other\n")
    page.locator("#import-file").set_input_files(str(csv))
    page.locator("#import-format").select_option("moodle")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-result")).to_contain_text("2 added, 1 updated, 1 skipped.")
    expect(page.locator("#import-result li")).to_have_text("line 3: no email address in 'not-an-address'")
    assert body_of(term, "POST", "import") == {"format": "moodle"}

    page.locator("#add-email").fill("eve@example.edu")
    page.locator("#add-name").fill("Eve")
    page.locator("#add-section").fill("C")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(roster.filter(has_text="eve@example.edu")).to_contain_text("C")

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Drop dee@example.edu").click()
    expect(roster.filter(has_text="dee@example.edu")).to_contain_text("dropped")
    expect(page.locator("#grades")).not_to_contain_text("dee@example.edu")

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy a sign-in link for ada@example.edu").click()
    expect(page.get_by_label("Sign-in link for ada@example.edu", exact=True)).to_have_value(
        "http://testserver/sign-in/link?token=link-11")
    assert page.evaluate("navigator.clipboard.readText()") == "http://testserver/sign-in/link?token=link-11"

    page.locator("#ext-student").select_option(label="Bob Barker (bob@example.edu)")
    page.locator("#ext-assignment").select_option("capstone")
    page.locator("#ext-due").fill("2027-01-20T23:59")
    page.locator("#ext-reason").fill("flu")
    page.get_by_role("button", name="Grant").click()
    expect(page.locator("#extensions")).to_contain_text("bob@example.edu: due")
    assert body_of(term, "PUT", "/api/v1/instructor/courses/cs1/assignments/capstone/extensions/12") == {
        "due_at": "2027-01-20T23:59:00+01:00", "reason": "flu"}
    page.get_by_role("button", name="Remove the extension of bob@example.edu").click()
    expect(page.locator("#extensions")).to_have_text("No extension for this assignment.")
    assert ("DELETE", "/api/v1/instructor/courses/cs1/assignments/capstone/extensions/12", None) in term.requests
    assert_no_horizontal_scroll(page)
    shoot(page, shots, "instructor-roster-390")
    assert errors == []


def names(page: Page) -> list[str]:
    return page.locator("#grades tbody th").evaluate_all(
        "cells => cells.map(c => c.querySelector('button').textContent)")


def test_grade_table_sorts_searches_and_filters(browser: Browser, contract: tuple) -> None:
    url, _term = contract
    page, errors = open_page(browser, url + "/instructor", TEACHER, DESKTOP)
    page.locator("#assignment").select_option("capstone")
    expect(page.locator("#grades tbody tr")).to_have_count(4)
    assert names(page) == ["Ada Lovelace", "Bob Barker", "cy@example.edu", "Dee Dee"]
    header = page.locator("#grades thead th", has_text="Capstone")
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert names(page) == ["Dee Dee", "cy@example.edu", "Ada Lovelace", "Bob Barker"]
    page.keyboard.press("Enter")  # the header button keeps the focus: sorting again by keyboard
    expect(header).to_have_attribute("aria-sort", "descending")
    assert names(page) == ["Bob Barker", "Ada Lovelace", "cy@example.edu", "Dee Dee"]
    expect(page.locator("#grades thead th", has_text="Student")).to_have_attribute("aria-sort", "none")

    page.locator("#f-text").fill(["section", "b"][1])  # "b": Bob's name and both section-B rows
    expect(page.locator("#grades tbody tr")).to_have_count(2)
    page.locator("#f-text").fill("")
    page.locator("#f-min").fill("50")
    expect(page.locator("#grade-count")).to_have_text("2 of 4 students shown")
    page.locator("#f-min").fill("")
    page.locator("#f-late").select_option("late")
    assert names(page) == ["Bob Barker"]
    page.locator("#f-late").select_option("")
    page.locator("#f-test").select_option("capstone::test_cnn_architecture")
    assert sorted(names(page)) == ["Ada Lovelace", "cy@example.edu"]
    page.locator("#f-test").select_option("")
    page.locator("#f-status").select_option("none")
    assert names(page) == ["Dee Dee"]
    expect(page.locator("#csv")).to_have_attribute("href", "/api/v1/instructor/courses/cs1/grades.csv")
    with page.expect_download() as info:
        page.locator("#csv").click()
    assert Path(info.value.path()).read_text().startswith("email,capstone")
    assert errors == []


def test_drill_down_report_override_regrade_and_chart(browser: Browser, contract: tuple, shots: Path) -> None:
    url, term = contract
    for viewport, name in ((DESKTOP, "1280"), (PHONE, "390")):
        page, errors = open_page(browser, url + "/instructor", TEACHER, viewport)
        page.locator("#assignment").select_option("capstone")
        page.get_by_role("button", name="All submissions of ada@example.edu").click()
        subs = page.locator("#student-submissions tbody tr")
        expect(subs).to_have_count(4)
        expect(subs.filter(has_text="ada-first.zip")).to_contain_text("counts")
        assert page.locator("#student-submissions img").count() == 0  # a hostile file name stays text
        expect(subs.filter(has_text="ada-first.zip").get_by_role("link", name="Download")).to_have_attribute(
            "href", "/api/v1/submissions/sub-ada-1/upload")
        subs.filter(has_text="ada-first.zip").get_by_role("button", name="Report").click()
        report = page.locator("#report")
        expect(report.locator(".auto-score")).to_have_text("50 / 80")
        failure = report.locator("li.failure", has_text="test_autograd_chain_rule")
        failure.get_by_text("Evidence").click()
        failure.get_by_text("Output").click()
        expect(report).not_to_contain_text("null")
        assert_no_horizontal_scroll(page)  # an opened diagnostic wraps; raw evidence scrolls in its own box
        page.locator("#override-score").fill("65")
        page.locator("#override-comment").fill("partial credit for the chain rule")
        page.get_by_role("button", name="Set score").click()
        expect(report.locator(".override-score")).to_have_text("65")
        expect(report.locator(".auto-score")).to_have_text("50 / 80")  # both shown
        expect(report.locator(".override-note")).to_contain_text("partial credit for the chain rule")
        ada_row = page.locator("#grades tbody tr", has_text="ada@example.edu")
        expect(ada_row).to_contain_text("65 / 80 set by staff; automatic 50")  # both, in the table too
        page.get_by_role("button", name="Remove override").click()
        expect(report.locator(".override-score")).to_have_count(0)
        report.get_by_role("button", name="Regrade this submission").click()
        regrades = page.locator("#regrades tbody tr")
        expect(regrades).to_have_class("changed")
        expect(regrades.locator("td").nth(0)).to_have_text("cy@example.edu")
        expect(regrades.locator("td").nth(5)).to_have_text("suite-7 → suite-8")
        expect(page.locator("#announce")).to_have_text("Regrade finished: 1 regraded, 1 score(s) changed.")

        chart = page.locator("#modules-chart figure")
        expect(chart.locator("figcaption")).to_contain_text("Share of 3 student(s)")
        expect(chart.locator(".bar-label")).to_have_text(["05 autograd", "09 spatial"])
        page.get_by_text("The same as a table").click()
        expect(page.locator("#modules-table tbody tr").first.locator("th, td")).to_have_text(
            ["05 autograd", "2", "66.67%", "capstone::test_autograd_chain_rule"])
        expect(page.locator("#priority-table tbody tr").nth(1).locator("th, td").nth(2)).to_have_text("5 / 15")
        assert_no_horizontal_scroll(page)
        shoot(page, shots, f"instructor-report-{name}")
        assert errors == []
    assert ("DELETE", "/api/v1/instructor/submissions/sub-ada-1/override", None) in term.requests


def test_regrade_a_whole_assignment(browser: Browser, contract: tuple) -> None:
    url, term = contract
    page, errors = open_page(browser, url + "/instructor", TEACHER, PHONE)
    page.locator("#assignment").select_option("capstone")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Regrade the assignment").click()
    expect(page.locator("#regrades")).to_contain_text("1 of 1 regraded; 1 score(s) changed.")
    assert ("POST", "/api/v1/instructor/courses/cs1/assignments/capstone/regrade", None) in term.requests
    assert_no_horizontal_scroll(page)
    assert errors == []


def test_signed_out_instructor_page_links_to_sign_in(browser: Browser, contract: tuple) -> None:
    url, _term = contract
    page, errors = open_page(browser, url + "/instructor", None, PHONE)
    expect(page.locator("#whoami").get_by_role("link", name="Sign in")).to_have_attribute("href", "/sign-in")
    expect(page.locator("#dash")).to_be_hidden()
    assert_no_horizontal_scroll(page)
    assert errors == []
