"""The instructor page's similarity views in real Chromium against the contract app (docs/similarity.md, its
stand-in tests/grader/web/contract_similarity.py): the list sorted by score with both shares, filtered by the
API; a pair side by side with exactly the fragments' lines highlighted and the navigation scrolling each side;
a review that is saved (with the CSRF header) and still there after a reload; errors in words; hostile text
shown as text; ten 256 KiB files a side rendered as a few hundred nodes; known solutions listed, uploaded and
deleted; no serious axe violation at 1280 and 390 px; and nothing of it for a student."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.grader.web.contract_similarity import (
    HOSTILE_LABEL,
    HOSTILE_LINE,
    HOSTILE_NOTE,
    HOSTILE_PATH,
    NOTE_MAX,
    detail,
)
from tests.grader.web.contract_site import (
    ADA,
    DESKTOP,
    PHONE,
    TEACHER,
    assert_accessible,
    assert_no_horizontal_scroll,
    open_page,
    shoot,
)

VIEWPORTS = [pytest.param(DESKTOP, id="1280"), pytest.param(PHONE, id="390")]
LIST = "/api/v1/instructor/courses/cs1/assignments/capstone/similarity"
MARKUP = "#similarity img, #similarity script, #similarity b, #sim-pair img, #sim-pair script, #sim-known b"

# Each run of lines of a side: its range, whether (and for which fragments) it is highlighted, whether all its
# blocks hold their text, that text and its line numbers, where it sits in its scrolling box, and whether any
# block's text is taller than the block (its height is fixed before the text is there).
SEGMENTS = """box => [...box.querySelectorAll('.sim-seg')].map(s => {
    const chunks = [...s.querySelectorAll('.sim-chunk')];
    return {from: +s.dataset.from, to: +s.dataset.to, hit: s.classList.contains('sim-hit'),
        current: s.classList.contains('sim-current'), frags: s.dataset.frags || '',
        filled: chunks.every(c => c.classList.contains('sim-filled')),
        text: [...s.querySelectorAll('.sim-text')].map(t => t.textContent).join('\\n'),
        numbers: [...s.querySelectorAll('.sim-ln')].map(t => t.textContent).join('\\n'),
        marked: s.querySelector('.sim-text mark') !== null, top: s.offsetTop,
        lh: parseFloat(getComputedStyle(box).getPropertyValue('--sim-lh')),
        textLh: chunks[0].firstChild ? parseFloat(getComputedStyle(chunks[0].lastChild).lineHeight) : null,
        overflow: Math.max(...chunks.map(c => c.lastChild ? c.lastChild.offsetHeight - c.offsetHeight : 0))};
})"""
# Whether a line of a side is inside the visible part of that side's box.
LINE_VISIBLE = """([side, line]) => {
    const box = document.querySelector('.sim-box[data-side="' + side + '"]');
    const seg = [...box.querySelectorAll('.sim-seg')].find(s => +s.dataset.from <= line && line <= +s.dataset.to);
    const lh = parseFloat(getComputedStyle(box).getPropertyValue('--sim-lh'));
    const y = seg.offsetTop + (line - seg.dataset.from) * lh;
    return y >= box.scrollTop && y + lh <= box.scrollTop + box.clientHeight + 1; }"""
# How many lines of a side hold their text now.
FILLED_LINES = """box => [...box.querySelectorAll('.sim-chunk.sim-filled')]
    .reduce((n, c) => n + (+c.dataset.to) - (+c.dataset.from) + 1, 0)"""


def similarity_page(browser: Browser, url: str, viewport: dict[str, int] = DESKTOP,
                    assignment: str = "capstone") -> tuple[Page, list[str]]:
    page, errors = open_page(browser, url + "/instructor", TEACHER, viewport)
    page.locator("#assignment").select_option(assignment)
    expect(page.locator("#sim-title")).to_have_text("Similarity: " + assignment.capitalize())
    return page, errors


def pair_ids(page: Page) -> list[str]:
    return page.locator("#sim-pairs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.pair)")


def open_pair(page: Page, pair_id: int) -> None:
    page.locator(f'#sim-pairs tr[data-pair="{pair_id}"] button.sim-open').click()
    expect(page.locator("#sim-pair")).to_be_visible()


def lines_of(text: str) -> list[str]:
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def box(page: Page, side: str) -> Any:
    return page.locator(f'.sim-box[data-side="{side}"]')


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


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_side_by_side_highlights_exactly_the_fragments_and_navigates(browser: Browser, contract: tuple, shots: Path,
                                                                     viewport: dict[str, int]) -> None:
    url, term = contract
    page, errors = similarity_page(browser, url, viewport)
    open_pair(page, 17)
    expected = detail(term.similarity.pairs[17])
    where = page.locator(".sim-where")
    expect(where).to_have_text("Match 1 of 6: A tinytorch/core/tensor.py, lines 6–25; "
                               "B tinytorch/core/tensor.py, lines 10–29.")
    expect(page.get_by_role("button", name="Previous match")).to_be_disabled()

    for side in ("a", "b"):  # a small file: near enough to what shows to hold all its text
        expect(box(page, side).locator(".sim-chunk:not(.sim-filled)")).to_have_count(0)
    for side in ("a", "b"):
        file = expected["sides"][side][0]
        lines = lines_of(file["text"])
        frags = [(f[side + "_start"], f[side + "_end"]) for f in expected["fragments"]
                 if f[side + "_path"] == file["path"]]
        segs = box(page, side).evaluate(SEGMENTS)
        # The blocks cover the file once, in order; highlighted are exactly the lines some fragment covers.
        assert [s["from"] for s in segs] == [1] + [s["to"] + 1 for s in segs[:-1]] and segs[-1]["to"] == len(lines)
        highlighted = {n for s in segs if s["hit"] for n in range(s["from"], s["to"] + 1)}
        assert highlighted == {n for start, end in frags for n in range(start, end + 1)}, side
        for s in segs:
            assert s["text"] == "\n".join(lines[s["from"] - 1:s["to"]])
            assert s["numbers"] == "\n".join(str(n) for n in range(s["from"], s["to"] + 1))
            assert s["marked"] == s["hit"] and s["textLh"] == s["lh"] == 18
            assert abs(s["top"] - (s["from"] - 1) * s["lh"]) <= 1, s  # drawn where its line numbers say
            assert s["overflow"] <= 0, s
    overlap = next(s for s in box(page, "a").evaluate(SEGMENTS) if s["from"] == 6)
    assert overlap["to"] == 15 and overlap["frags"] == "0 1"  # A's lines 6-15 are in two fragments
    current = [(s["from"], s["to"]) for s in box(page, "b").evaluate(SEGMENTS) if s["current"]]
    assert current == [(10, 29)]

    # Next: side B jumps to lines 50-59, side A stays on lines 6-15.
    page.get_by_role("button", name="Next match").click()
    expect(where).to_contain_text("Match 2 of 6")
    assert page.evaluate(LINE_VISIBLE, ["b", 50]) and page.evaluate(LINE_VISIBLE, ["a", 6])
    assert [(s["from"], s["to"]) for s in box(page, "b").evaluate(SEGMENTS) if s["current"]] == [(50, 59)]
    shoot(page, shots, f"similarity-pair-{viewport['width']}")
    page.locator("#sim-pair").screenshot(path=str(shots / f"similarity-side-by-side-{viewport['width']}.png"))
    page.get_by_role("button", name="Next match").click()
    page.get_by_role("button", name="Next match").click()  # the fourth match is in the second file
    expect(where).to_contain_text(f"Match 4 of 6: A {HOSTILE_PATH}, lines 6–25; B tinytorch/core/autograd.py")
    expect(page.locator("#sim-file-a option:checked")).to_have_text(HOSTILE_PATH)
    expect(page.locator("#sim-file-b option:checked")).to_have_text("tinytorch/core/autograd.py")
    page.get_by_role("button", name="Next match").click()
    page.get_by_role("button", name="Next match").click()
    expect(page.get_by_role("button", name="Next match")).to_be_disabled()

    # A click on a highlighted block on one side brings its counterpart into view on the other.
    page.locator("#sim-file-a").select_option("0")
    page.locator("#sim-file-b").select_option("0")
    box(page, "b").evaluate("b => { b.scrollTop = b.scrollHeight; }")
    box(page, "a").locator('.sim-hit[data-from="34"]').click()
    expect(where).to_contain_text("Match 3 of 6: A tinytorch/core/tensor.py, lines 34–48; "
                                  "B tinytorch/core/tensor.py, lines 33–47.")
    assert page.evaluate(LINE_VISIBLE, ["b", 33])
    box(page, "a").locator('.sim-hit[data-from="6"]').click()  # two matches there: the first, then the other
    expect(where).to_contain_text("Match 1 of 6")
    assert page.evaluate(LINE_VISIBLE, ["b", 10])
    box(page, "a").locator('.sim-hit[data-from="6"]').click()
    expect(where).to_contain_text("Match 2 of 6")
    assert page.evaluate(LINE_VISIBLE, ["b", 50])
    box(page, "a").evaluate("a => { a.scrollTop = a.scrollHeight; }")
    box(page, "b").locator('.sim-hit[data-from="33"]').click()  # and from side B back to side A
    expect(where).to_contain_text("Match 3 of 6")
    assert page.evaluate(LINE_VISIBLE, ["a", 34])

    box(page, "a").evaluate("b => { b.scrollTop = 0; }")
    box(page, "a").focus()  # each side scrolls from the keyboard too
    page.keyboard.press("PageDown")
    page.wait_for_function("() => document.querySelector('.sim-box[data-side=a]').scrollTop > 0")

    a_box, b_box = box(page, "a").bounding_box(), box(page, "b").bounding_box()
    assert a_box and b_box
    if viewport["width"] < 700:  # a phone: one side above the other, each as wide as the screen allows
        assert b_box["y"] >= a_box["y"] + a_box["height"] and a_box["width"] > 300
    else:
        assert b_box["y"] == a_box["y"] and b_box["x"] > a_box["x"] + a_box["width"]
    assert_no_horizontal_scroll(page)
    page.get_by_role("button", name="Close the side-by-side view").click()
    expect(page.locator("#sim-pair")).to_be_hidden()
    assert page.evaluate("document.activeElement.classList.contains('sim-open')")  # back where the reader was
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


def test_ten_files_of_256_kib_a_side_render_as_few_nodes(browser: Browser, contract: tuple, shots: Path) -> None:
    url, term = contract
    page, errors = similarity_page(browser, url, DESKTOP, "autograd")
    sides = detail(term.similarity.pairs[40])["sides"]
    assert len(sides["a"]) == 10
    assert all(256 * 1024 - 100 < len(f["text"]) <= 256 * 1024 for f in sides["a"] + sides["b"])
    started = time.monotonic()
    open_pair(page, 40)
    expect(page.locator(".sim-where")).to_contain_text("Match 1 of 300")
    opened_s = time.monotonic() - started
    # One file a side in the page at a time, a few nodes per run of lines, never an element per line.
    counts = page.evaluate("""() => ({files: document.querySelectorAll('.sim-box .sim-file').length,
        nodes: document.querySelectorAll('.sim-box *').length,
        lines: document.querySelector('.sim-box[data-side="a"] .sim-seg:last-child').dataset.to})""")
    # 30 fragments a file: 61 runs a side, the runs' 73 blocks, the filled ones with 2 or 3 nodes more.
    assert counts["files"] == 2 and counts["nodes"] <= 2 * (61 + 73 * 4) and int(counts["lines"]) > 4000, counts
    page.get_by_text("All 300 matches").click()
    started = time.monotonic()
    page.locator(".sim-frag-list li").last.get_by_role("button").click()
    expect(page.locator(".sim-where")).to_contain_text("Match 300 of 300: A tinytorch/core/big_9.py, lines 4061–4100")
    jumped_s = time.monotonic() - started
    assert page.evaluate(LINE_VISIBLE, ["a", 4061]) and page.evaluate(LINE_VISIBLE, ["b", 4081])
    expect(box(page, "a").locator('.sim-seg[data-from="4061"] .sim-chunk')).to_have_class("sim-chunk sim-filled")
    page.locator("#sim-pair").screenshot(path=str(shots / "similarity-large-1280.png"))
    print(f"\nten 256 KiB files a side: opened in {opened_s:.2f} s, jumped to another file in {jumped_s:.2f} s")
    assert errors == []


def test_256_kib_of_empty_lines_or_of_one_line_fills_only_what_shows(browser: Browser, contract: tuple) -> None:
    url, _term = contract
    page, errors = similarity_page(browser, url, PHONE, "autograd")
    open_pair(page, 41)
    where = page.locator(".sim-where")
    expect(where).to_contain_text("Match 1 of 31: A tinytorch/blank.py, lines 1–21")
    a = box(page, "a")
    assert a.evaluate("b => b.querySelector('.sim-seg:last-child').dataset.to") == "262143"
    expect(a.locator(".sim-chunk.sim-filled").first).to_be_visible()
    assert 0 < a.evaluate(FILLED_LINES) <= 1200  # of 262,143 lines: the blocks near what shows
    page.get_by_text("All 31 matches").click()
    page.locator(".sim-frag-list li").nth(29).get_by_role("button").click()
    expect(where).to_contain_text("Match 30 of 31: A tinytorch/blank.py, lines 232001–232021")
    assert page.evaluate(LINE_VISIBLE, ["a", 232001]) and page.evaluate(LINE_VISIBLE, ["b", 232006])
    expect(a.locator('.sim-seg[data-from="232001"] .sim-chunk')).to_have_class("sim-chunk sim-filled")
    assert 0 < a.evaluate(FILLED_LINES) <= 1200  # what was filled near the top was emptied again
    page.get_by_role("button", name="Next match").click()
    expect(where).to_contain_text("Match 31 of 31: A tinytorch/one_line.py, line 1; B tinytorch/one_line.py, line 1.")
    expect(a.locator(".sim-hit mark")).to_have_count(1)
    assert len(a.locator(".sim-hit mark").text_content() or "") == 256 * 1024 - 1
    assert_no_horizontal_scroll(page)  # the long line scrolls inside its box, never the page
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
