"""A course term through the two pages, against the whole service: `grader serve` (API + worker, embedded
broker, a fresh GRADER_DATA_DIR and PostgreSQL database) as a subprocess, driven in real Chromium, nothing
stubbed. The instructor creates the course and its assignment (due in Europe/Zurich) with the forms, imports a
30-student Canvas roster and copies a student's sign-in link; she signs in with it, sees the assignment and its
deadline, hands in the reference package, follows the grading live, reloads mid-grading and sees it resume,
sees every test pass with a reproduce line, downloads what she sent. A classmate hands in a broken package.
The instructor sorts and filters the grade table, opens the classmate's report with its diagnostic (the page
stays within the viewport), overrides a score with a comment (both scores shown), downloads the CSV; the
student sees the override. Both pages are scanned with axe-core and photographed at 1280x900 and 390x844."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect
from running_server import grader_env, grader_serve

from capstone_tests.rubric import load_rubric
from tests.fixtures.students import build
from tests.grader.submissions.submission_helpers import zip_package
from tests.grader.web.contract_app import sign_in_cookie
from tests.grader.web.contract_site import DESKTOP, PHONE, assert_accessible, assert_no_horizontal_scroll, shoot

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
        yield {"url": server.url, "teacher": server.add_user("teach@example.edu", "instructor"),
               "env": server.env}  # type: ignore[dict-item]


BROKEN = "optimizer_memoryview"  # SGD.step reads .data of a numpy array: the optimizer tests fail, diagnosed
CLASS_SIZE = 30


def canvas_roster(folder: Path) -> Path:
    """A Canvas gradebook export of 30 students (its "Points Possible" row included), Ada and Bob among them."""
    lines = ["Student,ID,SIS User ID,SIS Login ID,Section", "    Points Possible,,,,"]
    people = [("Lovelace, Ada", "ada@example.edu"), ("Babbage, Bob", "bob@example.edu")]
    people += [(f"Student{n:02d}, Sam", f"sam{n:02d}@example.edu") for n in range(3, CLASS_SIZE + 1)]
    for number, (name, email) in enumerate(people, start=101):
        lines.append(f'"{name}",{number},sis{number},{email},S{1 + number % 2}')
    path = folder / "canvas-roster.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def hand_in(url: str, token: str, archive: Path, assignment: str) -> str:
    """An upload with the API as curl makes it (the classmate's); its id."""
    answer = httpx.post(f"{url}/api/v1/submissions", headers={"Authorization": f"Bearer {token}"},
                        data={"assignment": assignment}, files={"file": (archive.name, archive.read_bytes())},
                        timeout=60)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def user_token(url_env: dict[str, str], email: str) -> str:
    """An API token for a user the roster import made (`grader users token`, with the server's settings)."""
    done = subprocess.run([sys.executable, "-m", "grader", "users", "token", email], env=url_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("broken")
    return zip_package(build.build_fixture(build.FIXTURES_BY_NAME[BROKEN], built), built / "broken.zip")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("students")
    return zip_package(build.build_reference(built), built / "reference.zip")


def test_a_course_term_through_both_pages(browser: Browser, service: dict[str, str], reference: Path,
                                          broken: Path, shots: Path, axe_script: str, tmp_path: Path) -> None:
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
    teacher.locator("#import-file").set_input_files(str(canvas_roster(tmp_path)))
    teacher.locator("#import-format").select_option("canvas")
    teacher.get_by_role("button", name="Import", exact=True).click()
    expect(teacher.locator("#import-result")).to_contain_text(f"{CLASS_SIZE} added, 0 updated")
    expect(teacher.locator("#roster tbody tr")).to_have_count(CLASS_SIZE + 1)  # and the instructor
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
    expect(ada.locator("#progress-box")).to_be_visible()  # resumed, not lost, while it still grades
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
    shoot(ada, shots, "e2e-student-graded-390x844")
    assert_accessible(ada, axe_script)
    ada.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    shoot(ada, shots, "e2e-student-graded-1280x900")
    ada.set_viewport_size(PHONE)  # type: ignore[arg-type]

    # A classmate hands in a broken package with curl.
    bob_token = user_token(service["env"], "bob@example.edu")  # type: ignore[arg-type]
    hand_in(url, bob_token, broken, "cs1/capstone")

    # The instructor sorts, filters, reads the classmate's diagnostic, overrides Ada's grade.
    teacher.get_by_role("button", name="Refresh").click()
    row = teacher.locator("#grades tbody tr", has_text="ada@example.edu")
    expect(row).to_contain_text(f"{fmt(full)} / {fmt(full)}")
    bob_row = teacher.locator("#grades tbody tr", has_text="bob@example.edu")
    for _ in range(GRADING_TIMEOUT_MS // 2000):  # the classmate's grading finishes on its own
        if "graded" in (bob_row.text_content() or "") or "/ " in (bob_row.text_content() or ""):
            break
        teacher.wait_for_timeout(2000)
        teacher.get_by_role("button", name="Refresh").click()
    expect(bob_row).not_to_contain_text(f"{fmt(full)} / {fmt(full)}")
    expect(teacher.locator("#grades tbody tr")).to_have_count(CLASS_SIZE)
    sort_by_score = teacher.locator("#grades thead button.sort").filter(has_text="capstone").first
    sort_by_score.click()
    sort_by_score.click()  # descending: the best first
    expect(teacher.locator("#grades thead th[aria-sort='descending']")).to_have_count(1)
    expect(teacher.locator("#grades tbody tr").first).to_contain_text("ada@example.edu")
    teacher.locator("#f-status").select_option("graded")
    expect(teacher.locator("#grades tbody tr")).to_have_count(2)
    teacher.locator("#f-text").fill("bob")
    expect(teacher.locator("#grades tbody tr")).to_have_count(1)
    bob_row.get_by_role("button", name=re.compile("open the report")).click()
    expect(teacher.locator("#report")).to_contain_text("module 06 optimizers")
    expect(teacher.locator("#report")).to_contain_text("bob@example.edu")
    expect(teacher.locator("#report")).to_contain_text("memoryview")
    expect(teacher.locator("#report")).not_to_contain_text("null")
    assert_no_horizontal_scroll(teacher)
    shoot(teacher, shots, "e2e-instructor-diagnostic-1280x900")
    teacher.locator("#f-text").fill("")
    teacher.locator("#f-status").select_option("")
    row.get_by_role("button", name=re.compile("open the report")).click()
    expect(teacher.locator("#report")).to_contain_text("ada@example.edu")  # her report, not the one open before
    teacher.locator("#override-score").fill(str(full - 1))
    teacher.locator("#override-comment").fill("one point off: copied the README")
    teacher.get_by_role("button", name="Set score").click()
    expect(teacher.locator("#report .override-score")).to_have_text(fmt(full - 1))
    expect(teacher.locator("#report .auto-score")).to_have_text(f"{fmt(full)} / {fmt(full)}")
    expect(row).to_contain_text(f"{fmt(full - 1)} / {fmt(full)}")
    shoot(teacher, shots, "e2e-instructor-1280x900")
    assert_accessible(teacher, axe_script)
    with teacher.expect_download() as info:
        teacher.locator("#csv").click()
    csv_text = Path(info.value.path()).read_text()
    assert "ada@example.edu" in csv_text and "bob@example.edu" in csv_text and "P1" in csv_text.splitlines()[0]
    teacher.set_viewport_size(PHONE)  # type: ignore[arg-type]
    assert_no_horizontal_scroll(teacher)
    shoot(teacher, shots, "e2e-instructor-390x844")

    ada.reload()
    expect(ada.locator("#override")).to_contain_text("one point off: copied the README")
    assert teacher_errors == ada_errors == []
    print(f"screenshots: {shots}")
