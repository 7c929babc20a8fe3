"""The instructor page's similarity views in real Chromium against the contract app (docs/similarity.md, its
stand-in tests/grader/web/contract_similarity.py): the list sorted by score with both shares, filtered by the
API; a review that is saved (with the CSRF header) and still there after a reload; errors in words; hostile text
shown as text; known solutions listed, uploaded and deleted; no serious axe violation at 1280 and 390 px; and
nothing of it for a student. The side-by-side view's own tests: test_similarity_side_by_side.py."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.grader.web.contract_similarity import HOSTILE_LABEL, HOSTILE_LINE, HOSTILE_NOTE, HOSTILE_PATH, NOTE_MAX
from tests.grader.web.contract_site import (
    ADA,
    PHONE,
    assert_accessible,
    assert_no_horizontal_scroll,
    open_page,
    shoot,
)
from tests.grader.web.similarity_site import (
    LIST,
    MARKUP,
    SEGMENTS,
    VIEWPORTS,
    box,
    open_pair,
    pair_ids,
    similarity_page,
)


def test_the_list_is_sorted_shows_both_shares_and_filters_through_the_api(browser: Browser, contract: tuple,
                                                                           shots: Path) -> None:
    url, _term = contract
    page, errors = similarity_page(browser, url)
    rows = page.locator("#sim-pairs tbody tr")
    expect(rows).to_have_count(5)
    assert pair_ids(page) == ["17", "21", "23", "22", "24"]  # by score; the tie at 34%: the newer comparison first
    expect(rows.locator(".sim-score")).to_have_text(["95%", "81%", "34%", "34%", "15%"])
    expect(rows.locator(".sim-shares .sim-cell")).to_have_text(
        ["95% / 41%380 lines", "62% / 81%324 lines", "20% / 34%136 lines", "34% / 30%136 lines", "12% / 15%60 lines"])
    first = rows.nth(0)
    expect(first.locator("td").nth(1)).to_have_text("Ada Lovelaceada@example.edu")
    expect(first.locator("td").nth(2)).to_have_text("known solution tinytorch_reference")
    expect(first.locator(".sim-files li")).to_have_text(["tinytorch/core/tensor.py 99%",
                                                         f"{HOSTILE_PATH} ↔ tinytorch/core/autograd.py 90%",
                                                         "tinytorch/core/layers.py 70%", "and 1 more"])
    expect(rows.nth(1).locator("td").nth(2)).to_have_text("cy@example.edu")  # no name: the email
    expect(rows.locator(".sim-status")).to_have_text(["not reviewed", "flagged", "not reviewed", "cleared",
                                                      "not reviewed"])
    expect(page.locator("#sim-counts")).to_have_text(
        "4 counting submissions compared, 1 waiting to be compared (the list fills in as they are). "
        "Engine: copydetect 0.5.0 (k=25, window=1).")
    expect(page.locator("#sim-list-msg")).to_have_text("5 pairs.")
    page.locator("#similarity").screenshot(path=str(shots / "similarity-list-1280.png"))

    # The filters go to the API (its limit applies to what is left), not over the rows already shown.
    with page.expect_request(lambda r: LIST in r.url and "status=flagged" in r.url) as sent:
        page.locator("#sim-status").select_option("flagged")
    assert "min_score" not in sent.value.url
    expect(rows).to_have_count(1)
    assert pair_ids(page) == ["21"]
    page.locator("#sim-status").select_option("")
    with page.expect_request(lambda r: LIST in r.url and "min_score=0.34" in r.url):
        page.locator("#sim-min").fill("34")
    expect(rows).to_have_count(4)
    expect(page.locator("#sim-list-msg")).to_have_text("4 pairs match the filters.")
    page.locator("#sim-min").fill("50")
    expect(rows).to_have_count(2)
    assert pair_ids(page) == ["17", "21"]
    page.locator("#sim-status").select_option("cleared")
    expect(page.locator("#sim-list-msg")).to_have_text("No pair matches the filters.")
    expect(rows).to_have_count(0)
    page.locator("#sim-min").fill("150")
    expect(page.locator("#sim-list-msg")).to_have_text("The minimum score is a percentage from 0 to 100.")
    expect(page.locator("#sim-list-msg")).to_have_class("sim-msg error")
    page.locator("#sim-min").fill("")
    page.locator("#sim-status").select_option("")
    expect(rows).to_have_count(5)

    page.locator("#assignment").select_option("autograd")  # another assignment: its own list and counts
    expect(page.locator("#sim-title")).to_have_text("Similarity: Autograd")
    assert pair_ids(page) == ["40", "41"]
    expect(page.locator("#sim-counts")).to_contain_text("2 counting submissions compared, none waiting.")
    assert errors == []


def test_a_review_is_saved_with_the_csrf_header_and_survives_a_reload(browser: Browser, contract: tuple) -> None:
    url, term = contract
    page, errors = similarity_page(browser, url)
    open_pair(page, 24)
    expect(page.locator("#sim-reviewed")).to_have_text("Not reviewed yet.")
    expect(page.get_by_label("not reviewed", exact=True)).to_be_checked()
    page.get_by_label("flagged", exact=True).check()
    page.get_by_label("Note for the course staff").fill("  Same losses.py as Bob's; ask both.  ")
    csrf = next(iter(term.sessions.values()))["csrf"]
    with page.expect_request(lambda r: r.method == "PUT") as sent:
        page.get_by_role("button", name="Save the review").click()
    assert sent.value.headers.get("x-csrf-token") == csrf
    expect(page.locator("#sim-review-msg")).to_have_text("Review saved: flagged.")
    expect(page.locator("#sim-reviewed")).to_contain_text("Last reviewed by teach@example.edu on")
    sent_body = {"status": "flagged", "note": "Same losses.py as Bob's; ask both."}  # the note trimmed
    assert ("PUT", LIST + "/24/review", sent_body) in term.requests
    row = page.locator('#sim-pairs tr[data-pair="24"]')
    expect(row.locator(".sim-status")).to_have_text("flagged")  # the list follows
    expect(row.locator(".sim-note")).to_have_text("Same losses.py as Bob's; ask both.")
    page.get_by_role("button", name="Close the side-by-side view").click()  # the list was drawn anew meanwhile
    assert page.evaluate("document.activeElement.closest('tr').dataset.pair") == "24"

    page.reload()
    page.locator("#assignment").select_option("capstone")
    expect(row.locator(".sim-status")).to_have_text("flagged")
    open_pair(page, 24)
    expect(page.get_by_label("flagged", exact=True)).to_be_checked()
    expect(page.get_by_label("Note for the course staff")).to_have_value("Same losses.py as Bob's; ask both.")
    page.get_by_label("cleared", exact=True).check()  # and back: cleared, the note emptied
    page.get_by_label("Note for the course staff").fill("")
    page.get_by_role("button", name="Save the review").click()
    expect(row.locator(".sim-status")).to_have_text("cleared")
    assert term.similarity.pairs[24]["status"] == "cleared" and term.similarity.pairs[24]["note"] is None
    assert errors == []


def test_errors_from_the_api_are_shown_in_words(browser: Browser, contract: tuple) -> None:
    url, term = contract
    page, errors = similarity_page(browser, url)
    open_pair(page, 24)
    page.get_by_label("flagged", exact=True).check()
    page.get_by_label("Note for the course staff").fill("x" * (NOTE_MAX + 1))
    page.get_by_role("button", name="Save the review").click()
    message = page.locator("#sim-review-msg")
    expect(message).to_have_text("The review was not saved: the note has 2001 characters; at most 2000 (HTTP 400)")
    expect(message).to_have_class("sim-msg error")
    assert term.similarity.pairs[24]["status"] == "unreviewed"

    del term.similarity.pairs[22]  # compared again since the list was drawn: that pair is gone
    open_button = page.locator('#sim-pairs tr[data-pair="22"] button.sim-open')
    open_button.click()
    expect(page.locator("#sim-list-msg")).to_have_text("Could not open the pair: no pair 22 in capstone (HTTP 404)")
    expect(page.locator("#sim-pair-title")).to_contain_text("Bob Barker")  # the open pair stays as it was
    assert errors == []


def test_hostile_text_from_the_api_stays_text(browser: Browser, contract: tuple) -> None:
    url, _term = contract
    page, errors = similarity_page(browser, url)
    expect(page.locator('#sim-pairs tr[data-pair="21"] .sim-note')).to_have_text(HOSTILE_NOTE)
    expect(page.locator('#sim-pairs tr[data-pair="23"] td').nth(2)).to_have_text("known solution " + HOSTILE_LABEL)
    expect(page.locator("#sim-known-table tbody th").nth(1)).to_have_text(HOSTILE_LABEL)
    open_pair(page, 21)
    expect(page.get_by_label("Note for the course staff")).to_have_value(HOSTILE_NOTE)
    page.locator('#sim-pairs tr[data-pair="17"] button.sim-open').click()
    expect(page.locator("#sim-pair-title")).to_contain_text("tinytorch_reference")
    for side in ("a", "b"):
        third = box(page, side).evaluate(SEGMENTS)[0]["text"].split("\n")[2]
        assert third == HOSTILE_LINE
    page.locator("#sim-file-a").select_option("1")
    expect(page.locator("#sim-file-a option:checked")).to_have_text(HOSTILE_PATH)
    page.get_by_label("Note for the course staff").fill(HOSTILE_NOTE + " </textarea><img src=x onerror=alert(1)>")
    page.get_by_role("button", name="Save the review").click()
    expect(page.locator('#sim-pairs tr[data-pair="17"] .sim-note')).to_have_text(
        HOSTILE_NOTE + " </textarea><img src=x onerror=alert(1)>")
    assert page.locator(MARKUP).count() == 0
    assert page.evaluate("window.pwned") is None
    assert errors == []


def test_known_solutions_are_listed_uploaded_and_deleted(browser: Browser, contract: tuple, tmp_path: Path) -> None:
    url, term = contract
    page, errors = similarity_page(browser, url)
    rows = page.locator("#sim-known-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("tinytorch_reference built in")
    expect(rows.nth(0).get_by_role("button")).to_have_count(0)  # the built-in reference cannot be deleted

    archive = tmp_path / "fall-2026.zip"
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as z:
        z.writestr("tinytorch/core/tensor.py", "class Tensor:\n    pass\n")
    archive.write_bytes(data.getvalue())
    page.get_by_label("Label").fill("fall-2026 solutions")
    page.locator("#sim-known-file").set_input_files(str(archive))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#sim-known-msg")).to_have_text("Added “fall-2026 solutions” (7 files).")
    expect(rows).to_have_count(3)
    assert ("POST", "known", {"label": "fall-2026 solutions", "filename": "fall-2026.zip"}) in term.requests

    notes = tmp_path / "notes.txt"
    notes.write_text("not an archive")
    page.get_by_label("Label").fill("notes")
    page.locator("#sim-known-file").set_input_files(str(notes))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#sim-known-msg")).to_have_text(
        "The known solution was not added: 'notes.txt' is not a zip, tar.gz or tar archive holding tinytorch/ "
        "(HTTP 400)")
    expect(rows).to_have_count(3)

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete the known solution " + HOSTILE_LABEL).click()
    expect(rows).to_have_count(2)
    expect(page.locator("#sim-known-msg")).to_have_text(f"Deleted the known solution “{HOSTILE_LABEL}”.")
    assert ("DELETE", "/api/v1/instructor/courses/cs1/similarity/known/2", None) in term.requests
    assert errors == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_similarity_views_have_no_serious_violation(browser: Browser, contract: tuple, shots: Path, axe_script: str,
                                                    viewport: dict[str, int]) -> None:
    url, _term = contract
    page, errors = similarity_page(browser, url, viewport)
    page.locator("#sim-known").scroll_into_view_if_needed()
    assert_no_horizontal_scroll(page)
    page.locator("#similarity").screenshot(path=str(shots / f"similarity-list-{viewport['width']}.png"))
    assert_accessible(page, axe_script)
    open_pair(page, 21)
    page.get_by_text("All 6 matches").click()
    page.get_by_role("button", name="Next match").click()
    assert_no_horizontal_scroll(page)
    shoot(page, shots, f"similarity-{viewport['width']}")
    assert_accessible(page, axe_script)
    assert errors == []


def test_a_student_sees_none_of_it(browser: Browser, contract: tuple) -> None:
    url, term = contract
    page, errors = open_page(browser, url + "/instructor", ADA, PHONE)
    expect(page.locator("#message")).to_contain_text("course staff only (HTTP 403)")
    for part in ("#similarity", "#sim-pair", "#sim-known"):
        expect(page.locator(part)).to_be_hidden()
    expect(page.locator("#sim-pairs tbody tr")).to_have_count(0)
    assert not any("similarity" in path for _m, path, _b in term.requests)  # the page never even asked
    answer = page.evaluate("url => fetch(url, {credentials: 'same-origin'}).then(r => r.status)", LIST)
    assert answer == 403  # and the API itself refuses (the contract: 403 for a student)
    student, student_errors = open_page(browser, url + "/", ADA, PHONE)
    expect(student.locator("#assignments li.assignment").first).to_be_visible()
    assert student.locator("#similarity, #sim-pair, #sim-known, script[src*=similarity]").count() == 0
    assert errors == [] and student_errors == []


def test_a_teaching_assistant_sees_known_solutions_but_cannot_change_them(browser: Browser, contract: tuple) -> None:
    url, term = contract
    term.courses[0]["role"] = "ta"  # a TA of the course: reads and reviews; adding and deleting is the instructors'
    page, errors = similarity_page(browser, url)
    expect(page.locator("#sim-known-table tbody tr")).to_have_count(2)
    expect(page.locator("#sim-known-form")).to_be_hidden()
    expect(page.locator("#sim-known-table button")).to_have_count(0)
    open_pair(page, 24)
    expect(page.get_by_role("button", name="Save the review")).to_be_visible()
    assert errors == []
