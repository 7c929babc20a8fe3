"""What the similarity page tests share (test_similarity_page.py, test_similarity_side_by_side.py): opening the
instructor page on an assignment's similar pairs, opening a pair, and reading the side-by-side view's boxes."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.grader.web.contract_site import DESKTOP, PHONE, TEACHER, open_page

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
