"""A course term through the two pages, against the whole service: `grader serve` (API + worker, embedded
broker, a fresh GRADER_DATA_DIR and PostgreSQL database) as a subprocess, driven in real Chromium, nothing
stubbed. The instructor creates the course and its assignment (due in Europe/Zurich), adds a student and copies
her sign-in link; the student signs in with it, sees the assignment, hands in the reference package, follows
the grading live, sees every test pass with a reproduce line, downloads what she sent; the instructor sees the
grade, overrides it with a comment (both scores shown), and the student sees the override.

Needs the merged backend of docs/course-api.md (sign-in, courses, roster, dashboard routes, built on other
branches): marked `needs_course_backend`, never skipped."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from running_server import grader_env, grader_serve

from capstone_tests.rubric import load_rubric
from tests.fixtures.students import build
from tests.grader.submissions.submission_helpers import zip_package
from tests.grader.web.contract_app import sign_in_cookie
from tests.grader.web.contract_site import DESKTOP, PHONE, assert_no_horizontal_scroll, shoot

pytestmark = pytest.mark.needs_course_backend
GRADING_TIMEOUT_MS = 300_000


def fmt(x: float) -> str:
    return f"{round(x, 2):g}"  # as the pages print numbers (common.js fmt)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sandbox_ready: None,
            new_postgres_database: Callable[[], AbstractContextManager[str]]) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("grader-data")
    with (new_postgres_database() as database_url,
          grader_serve(grader_env(GRADER_DATA_DIR=str(data), GRADER_DATABASE_URL=database_url),
                       data / "serve.log") as server):
        yield {"url": server.url, "teacher": server.add_user("teach@example.edu", "instructor")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("students")
    return zip_package(build.build_reference(built), built / "reference.zip")


def test_a_course_term_through_both_pages(browser: Browser, service: dict[str, str], reference: Path,
                                          shots: Path) -> None:
    url = service["url"]
    full = sum(t.points for t in load_rubric()["capstone"].tests)

    # The instructor sets the course up.
    staff = browser.new_context(viewport=DESKTOP, accept_downloads=True)  # type: ignore[arg-type]
    teacher = staff.new_page()
    teacher_errors: list[str] = []
    teacher.on("pageerror", lambda error: teacher_errors.append(str(error)))
    sign_in_cookie(teacher, url, service["teacher"])
    teacher.goto(url + "/instructor")
    teacher.get_by_text("Create a course").click()
    teacher.locator("#course-slug").fill("cs1")
    teacher.locator("#course-name").fill("TinyTorch spring 2027")
    teacher.get_by_role("button", name="Create course").click()
    expect(teacher.locator("#course")).to_have_value("cs1")
    teacher.get_by_text("Create an assignment").click()
    teacher.locator("#a-slug").fill("capstone")
    teacher.locator("#a-title").fill("Final capstone")
    teacher.locator("#a-suites").select_option(["capstone"])
    teacher.locator("#a-due").fill("2099-01-15T23:59")
    teacher.locator("#a-zone").select_option("Europe/Zurich")
    teacher.locator("#a-penalty").fill("10")
    teacher.locator("#a-maxdays").fill("7")
    teacher.get_by_role("button", name="Create assignment").click()
    expect(teacher.locator("#assignment-table")).to_contain_text("2099-01-15 23:59 Europe/Zurich")
    teacher.locator("#add-email").fill("ada@example.edu")
    teacher.locator("#add-name").fill("Ada Lovelace")
    teacher.get_by_role("button", name="Add", exact=True).click()
    expect(teacher.locator("#roster tbody")).to_contain_text("ada@example.edu")
    teacher.get_by_role("button", name="Copy a sign-in link for ada@example.edu").click()
    link = teacher.get_by_label("Sign-in link for ada@example.edu", exact=True).input_value()
    assert "/sign-in/link?token=" in link

    # The student signs in with the link (a button on the link's page: a GET never signs in).
    ada_context = browser.new_context(viewport=PHONE, accept_downloads=True)  # type: ignore[arg-type]
    ada = ada_context.new_page()
    ada_errors: list[str] = []
    ada.on("pageerror", lambda error: ada_errors.append(str(error)))
    ada.goto(link)
    ada.get_by_role("button", name=re.compile("Sign in as ada@example.edu")).click()
    ada.wait_for_url(url + "/")
    expect(ada.locator("#whoami")).to_contain_text("ada@example.edu")
    card = ada.locator("li.assignment", has_text="Final capstone")
    expect(card.locator(".due")).to_contain_text("(2099-01-15 23:59 Europe/Zurich)")
    expect(card.locator(".late-policy")).to_have_text(
        "Late work loses 10% per day late, up to 7 days; after that it counts 0.")
    ada.locator("#assignment").select_option("cs1/capstone")
    ada.locator("#file").set_input_files(str(reference))
    expect(ada.locator("#progress-box")).to_be_visible()
    ada.wait_for_url(re.compile(r"\?submission="))
    ada.reload()  # the grading is followed again from the URL
    expect(ada.locator("#result")).to_be_visible(timeout=GRADING_TIMEOUT_MS)
    expect(ada.locator("#score")).to_have_text(f"{fmt(full)} / {fmt(full)}")
    expect(ada.locator("#verdict")).to_have_text("Every test passed.")
    expect(ada.locator("#announce")).to_contain_text(f"Graded: {fmt(full)} of {fmt(full)}.")
    expect(ada.get_by_label("Command that reproduces this grade")).to_have_value(re.compile(r"^pytest capstone_tests"))
    with ada.expect_download() as info:
        ada.locator("#download a").click()
    assert Path(info.value.path()).read_bytes() == reference.read_bytes()
    expect(ada.locator("#history tbody tr").first).to_contain_text("reference.zip")
    expect(ada.locator("#history tbody tr").first).to_contain_text("counts")
    assert_no_horizontal_scroll(ada)
    shoot(ada, shots, "e2e-student-graded-390")

    # The instructor sees it, and overrides it.
    teacher.get_by_role("button", name="Refresh").click()
    row = teacher.locator("#grades tbody tr", has_text="ada@example.edu")
    expect(row).to_contain_text(f"{fmt(full)} / {fmt(full)}")
    row.get_by_role("button", name=re.compile("open the report")).click()
    teacher.locator("#override-score").fill(str(full - 1))
    teacher.locator("#override-comment").fill("one point off: copied the README")
    teacher.get_by_role("button", name="Set score").click()
    expect(teacher.locator("#report .override-score")).to_have_text(fmt(full - 1))
    expect(teacher.locator("#report .auto-score")).to_have_text(f"{fmt(full)} / {fmt(full)}")
    expect(row).to_contain_text(f"{fmt(full - 1)} / {fmt(full)}")
    shoot(teacher, shots, "e2e-instructor-1280")

    ada.reload()
    expect(ada.locator("#override")).to_contain_text("one point off: copied the README")
    assert teacher_errors == ada_errors == []
    print(f"screenshots: {shots}")
