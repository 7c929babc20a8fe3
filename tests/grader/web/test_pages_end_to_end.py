"""The whole service behind the pages, in real Chromium: `grader serve` (API + worker, embedded broker, a fresh
GRADER_DATA_DIR, a fresh PostgreSQL database) as a subprocess. Two students hand in through the student page
(one through the file input, one by dropping the archive on the drop zone), one the reference and one a broken
fixture, and each sees the right score (the broken one with its diagnostic); the instructor sees both in the
dashboard's table, opens the broken one's full report and regrades it."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from running_server import grader_env, grader_serve

from capstone_tests.rubric import load_rubric
from tests.fixtures.students import build
from tests.grader.submissions.submission_helpers import zip_package
from tests.grader.web.contract_app import sign_in_cookie

GRADING_TIMEOUT_MS = 300_000
BROKEN = "missing_spatial"
BROKEN_TEST = "test_cnn_architecture_integration"
BROKEN_DIAGNOSTIC = "module 09 (spatial) not found"


def expected_scores() -> tuple[float, float]:
    """(full marks, the broken fixture's score): the capstone rubric minus the one test it fails."""
    capstone = load_rubric()["capstone"]
    total = sum(t.points for t in capstone.tests)
    return total, total - sum(t.points for t in capstone.tests if t.name == BROKEN_TEST)


def fmt(x: float) -> str:
    return f"{round(x, 2):g}"  # as the pages print numbers (common.js fmt)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sandbox_ready: None,
            new_postgres_database: Callable[[], AbstractContextManager[str]]) -> Iterator[dict[str, str]]:
    """A running `grader serve`: its URL and the tokens of two students and an instructor."""
    data = tmp_path_factory.mktemp("grader-data")
    # PostgreSQL rather than the embedded SQLite: on SQLite the events stream (which this page reads) keeps
    # the request's write transaction open until grading ends, and so blocks the worker that would end it.
    with (new_postgres_database() as database_url,
          grader_serve(grader_env(GRADER_DATA_DIR=str(data), GRADER_DATABASE_URL=database_url),
                       data / "serve.log") as server):
        yield {
            "url": server.url,
            "ada": server.add_user("ada@example.edu", "student"),
            "bob": server.add_user("bob@example.edu", "student"),
            "teacher": server.add_user("teach@example.edu", "instructor"),
        }


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    built = tmp_path_factory.mktemp("students")
    fixture = next(f for f in build.FIXTURES if f.name == BROKEN)
    return {
        "reference": zip_package(build.build_reference(built), built / "reference.zip"),
        BROKEN: zip_package(build.build_fixture(fixture, built), built / f"{BROKEN}.zip"),
    }


def sign_in(page: Page, url: str, token: str) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A browser session as the /sign-in page makes one (POST /auth/token sets the cookie, docs/course-api.md).
    sign_in_cookie(page, url.split("/", 3)[0] + "//" + url.split("/", 3)[2], token)
    page.goto(url)
    return errors


DROP = """([name, b64]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type: "application/zip" }));
    const zone = document.getElementById("dropzone");
    zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
}"""


def hand_in(browser: Browser, service: dict[str, str], student: str, archive: Path, shots: Path,
            *, drop: bool = False) -> Page:
    """Upload `archive` as `student` through the file input, or by dropping it on the drop zone."""
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    errors = sign_in(page, service["url"] + "/", service[student])
    if drop:
        page.evaluate(DROP, [archive.name, base64.b64encode(archive.read_bytes()).decode()])
    else:
        page.locator("#file").set_input_files(str(archive))
    expect(page.locator("#progress-box")).to_be_visible()
    expect(page.locator("#result")).to_be_visible(timeout=GRADING_TIMEOUT_MS)
    expect(page.locator("#history tbody tr")).to_have_count(1)
    page.screenshot(path=str(shots / f"student-{student}.png"), full_page=True)
    assert errors == []
    return page


def test_students_hand_in_and_the_instructor_sees_both(browser: Browser, service: dict[str, str],
                                                       archives: dict[str, Path], shots: Path) -> None:
    full, broken_score = expected_scores()

    ada = hand_in(browser, service, "ada", archives["reference"], shots)
    expect(ada.locator("#score")).to_have_text(f"{fmt(full)} / {fmt(full)}")
    expect(ada.locator("#verdict")).to_have_text("Every test passed.")
    expect(ada.locator("#progress-label")).to_have_text("graded")

    bob = hand_in(browser, service, "bob", archives[BROKEN], shots, drop=True)
    expect(bob.locator("#score")).to_have_text(f"{fmt(broken_score)} / {fmt(full)}")
    failure = bob.locator("#failures li.failure")
    expect(failure).to_have_count(1)
    expect(failure).to_contain_text(BROKEN_TEST)
    expect(failure.locator(".diagnostic")).to_contain_text(BROKEN_DIAGNOSTIC)
    expect(bob.locator("#history tbody")).to_contain_text(f"{fmt(broken_score)} / {fmt(full)}")

    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    errors = sign_in(page, service["url"] + "/instructor", service["teacher"])
    grid = page.locator("#grades")
    expect(grid.get_by_role("row", name="ada@example.edu")).to_contain_text(f"{fmt(full)} / {fmt(full)}")
    expect(grid.get_by_role("row", name="bob@example.edu")).to_contain_text(f"{fmt(broken_score)} / {fmt(full)}")
    page.get_by_text("The same as a table").click()
    expect(page.locator("#modules-table")).to_contain_text(BROKEN_TEST)
    grid.get_by_role("row", name="bob@example.edu").get_by_role("button", name=re.compile("open the report")).click()
    expect(page.locator("#report")).to_contain_text(BROKEN_DIAGNOSTIC)
    page.screenshot(path=str(shots / "instructor.png"), full_page=True)

    # A regrade goes through the real worker again; the same package keeps the same score.
    page.get_by_role("button", name="Regrade this submission").click()
    expect(page.locator("#regrades")).to_contain_text("1 of 1 regraded; 0 score(s) changed.",
                                                      timeout=GRADING_TIMEOUT_MS)
    page.screenshot(path=str(shots / "instructor-regraded.png"), full_page=True)
    assert errors == []
    print(f"screenshots: {shots}")
