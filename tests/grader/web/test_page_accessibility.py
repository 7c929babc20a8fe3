"""Both pages against WCAG 2.2 AA in real Chromium: an axe-core scan (axe from npm, see conftest's axe_script)
with no serious or critical violation, in the states that show the most (a report with its diagnostics open, the
instructor's forms), at 1280 and 390 px; the contrast axe does not measure (the focus ring, field borders:
>= 3:1) computed from the styles; the pages work from the keyboard; screenshots of each state."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

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


def luminance(css: str) -> float:
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+", css)[:3])
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def open_details(page: Page) -> None:
    for summary in page.locator("details:not([open]) > summary").all():
        if summary.is_visible():
            summary.click()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_student_page_has_no_serious_violation(browser: Browser, contract: tuple, shots: Path, axe_script: str,
                                               viewport: dict[str, int]) -> None:
    url, _term = contract
    page, errors = open_page(browser, url + "/?submission=sub-ada-1", ADA, viewport)
    expect(page.locator("#score")).to_have_text("50 / 80")
    open_details(page)
    assert_no_horizontal_scroll(page)
    shoot(page, shots, f"student-{viewport['width']}")
    assert_accessible(page, axe_script)
    signed_out, _ = open_page(browser, url + "/", None, viewport)
    expect(signed_out.locator("#signed-out")).to_be_visible()
    assert_accessible(signed_out, axe_script)
    assert errors == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_instructor_page_has_no_serious_violation(browser: Browser, contract: tuple, shots: Path, axe_script: str,
                                                  viewport: dict[str, int]) -> None:
    url, _term = contract
    page, errors = open_page(browser, url + "/instructor", TEACHER, viewport)
    page.locator("#assignment").select_option("capstone")
    page.locator("#grades tbody tr", has_text="cy@example.edu").locator("td button").last.click()
    expect(page.locator("#report")).to_contain_text("cy@example.edu")
    page.get_by_role("button", name="All submissions of ada@example.edu").click()
    open_details(page)
    assert_no_horizontal_scroll(page)
    shoot(page, shots, f"instructor-{viewport['width']}")
    assert_accessible(page, axe_script)
    assert errors == []


def test_focus_ring_and_field_borders_reach_three_to_one(browser: Browser, contract: tuple) -> None:
    url, _term = contract
    page, errors = open_page(browser, url + "/instructor", TEACHER, DESKTOP)
    field = page.locator("#f-text")
    border = field.evaluate("e => getComputedStyle(e).borderTopColor")
    assert contrast(border, "rgb(255, 255, 255)") >= 3, border
    page.keyboard.press("Tab")  # the skip link, then into the page: the ring of whatever has the focus
    for _ in range(4):
        page.keyboard.press("Tab")
        ring = page.evaluate("() => { const s = getComputedStyle(document.activeElement); "
                             "return [s.outlineColor, s.outlineStyle, s.outlineWidth]; }")
        assert ring[1] != "none" and float(ring[2].rstrip("px")) >= 2, ring
        assert contrast(ring[0], "rgb(255, 255, 255)") >= 3, ring
    header = page.locator(".top").evaluate("e => getComputedStyle(e).backgroundColor")
    # On the dark header the ring's white halo is what shows: the halo against the header.
    assert contrast("rgb(255, 255, 255)", header) >= 3
    assert errors == []


def test_the_student_page_by_keyboard(browser: Browser, contract: tuple) -> None:
    url, _term = contract
    page, errors = open_page(browser, url + "/", ADA, PHONE)
    expect(page.locator("#history tbody tr")).to_have_count(4)
    page.locator("#assignment").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "file"  # the file input is reachable
    shows = page.get_by_role("button", name=re.compile("^Show the submission of"))
    shows.nth(2).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#score")).to_have_text("50 / 80")
    expect(page.locator("#announce")).to_contain_text("Graded: 50 of 80.")
    assert errors == []
