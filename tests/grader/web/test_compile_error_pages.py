"""Files that do not compile, on the pages, in real Chromium against a real server (uvicorn) over a real
database: the student hands in a package with two broken modules and sees them (file, line, text) at once,
while the submission is still queued, and again when opening it later; the instructor's report shows them.
No worker runs here: what the page shows comes from the upload's 202 and the stored row, not from a grading."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from grader.courses.service import create_assignment, create_course, enroll
from grader.db import migrate
from grader.db.session import dispose_engines, session_scope
from grader.settings import get_settings
from grader.users.service import create_user
from tests.fixtures import compile_errors
from tests.fixtures.compile_errors import PROBLEMS
from tests.grader.submissions.submission_helpers import zip_package
from tests.grader.web.pages import pages_app, sign_in


@dataclass
class Site:
    url: str
    teacher: str
    ada: str
    archive: Path


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threaded_server: type) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path / 'grader.db'}"
    monkeypatch.setenv("GRADER_DATABASE_URL", url)
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))  # the archives and the embedded broker
    monkeypatch.delenv("GRADER_BROKER_URL", raising=False)
    get_settings.cache_clear()
    migrate.upgrade(url)
    with session_scope(write=True) as session:
        course = create_course(session, "cs1", "TinyTorch spring")
        create_assignment(session, course, "capstone", "Capstone")
        teacher, teacher_token = create_user(session, "teach@example.edu", "instructor")
        ada, ada_token = create_user(session, "ada@example.edu", "student")
        enroll(session, teacher, course)
        enroll(session, ada, course)
    archive = zip_package(compile_errors.build(tmp_path), tmp_path / "broken.zip")
    try:
        with threaded_server(pages_app()) as server:
            yield Site(server.url, teacher_token, ada_token, archive)
    finally:
        dispose_engines()
        get_settings.cache_clear()



def expect_problems(box: object) -> None:
    from playwright.sync_api import Locator

    assert isinstance(box, Locator)
    expect(box).to_be_visible()
    expect(box.locator("h3")).to_have_text("2 files do not compile")
    items = box.locator("li")
    expect(items).to_have_count(2)
    for item, problem in zip((items.nth(0), items.nth(1)), PROBLEMS, strict=True):
        where = f"{problem['file']}, line {problem['line']}, column {problem['column']}"
        expect(item.locator("code")).to_have_text(where)
        expect(item).to_contain_text(f": {problem['message']}")
        expect(item.locator("pre")).to_have_text(str(problem["text"]))  # "[red]" as typed, as text


def test_the_student_sees_the_broken_files_at_once_and_the_instructor_in_the_report(
        browser: Browser, site: Site, shots: Path) -> None:
    page, errors = sign_in(browser, site.url + "/", site.ada)
    page.locator("#file").set_input_files(str(site.archive))
    expect_problems(page.locator("#compile-errors"))
    # Nothing has been graded: the problems came with the upload's 202.
    expect(page.locator("#progress-label")).to_have_text("queued")
    page.screenshot(path=str(shots / "student-compile-errors.png"), full_page=True)

    # Later, from the list of earlier submissions: the stored row says the same.
    later, later_errors = sign_in(browser, site.url + "/", site.ada)
    later.locator("#history tbody tr").get_by_role("button", name="Show").click()
    expect_problems(later.locator("#compile-errors"))

    dashboard, dashboard_errors = sign_in(browser, site.url + "/instructor", site.teacher)
    ada_row = dashboard.locator("#grades").get_by_role("row", name="ada@example.edu")
    ada_row.get_by_role("button", name=re.compile("open the report")).click()
    expect_problems(dashboard.locator("#report .compile-errors"))
    expect(dashboard.locator("#report-body")).not_to_contain_text("null")  # no absent part printed as "null"
    dashboard.screenshot(path=str(shots / "instructor-compile-errors.png"), full_page=True)
    assert errors == later_errors == dashboard_errors == []
