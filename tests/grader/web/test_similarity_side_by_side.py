"""The similarity side-by-side view in real Chromium against the contract app (docs/similarity.md, its stand-in
tests/grader/web/contract_similarity.py): exactly the fragments' lines highlighted and drawn where their numbers
say, the navigation and a click on either side scrolling the other to the counterpart, at 1280 and 390 px; ten
256 KiB files a side as a few hundred nodes; 256 KiB of empty lines or of one line filled only near what shows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.grader.web.contract_similarity import HOSTILE_PATH, detail
from tests.grader.web.contract_site import DESKTOP, PHONE, assert_no_horizontal_scroll, shoot
from tests.grader.web.similarity_site import (
    FILLED_LINES,
    LINE_VISIBLE,
    SEGMENTS,
    VIEWPORTS,
    box,
    lines_of,
    open_pair,
    similarity_page,
)


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
