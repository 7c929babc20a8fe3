"""The whole LTI chain in real Chromium against the whole service, nothing stubbed: `grader serve` (API + its
worker, a fresh PostgreSQL database, the real sandbox) as a subprocess, and an LMS (lti1p3platform on loopback).
A student launches from the LMS with the AGS claim (a line item) and the custom parameter assignment=capstone,
lands signed in on the student page, hands in the reference package through the page's upload form; the worker
grades it; the page shows the score; the score reaches the platform's AGS scores endpoint (the student's `sub`,
the launch's line item, 100 of 100, Completed / FullyGraded). Then an instructor launch lands on /instructor
with the course. Both landings are photographed into the test's tmp folder."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from lti_platform import INSTRUCTOR, LEARNER, LtiPlatformServer, Person
from playwright.sync_api import expect, sync_playwright
from running_server import REPO, GraderProcess, grader_env, grader_serve

from capstone_tests.rubric import load_rubric
from tests.fixtures.students import build
from tests.grader.submissions.submission_helpers import zip_package

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
GRADING_TIMEOUT_MS = 300_000
SCORE_WAIT_S = 60
COURSE = "cs329"


def grader_cli(server: GraderProcess, *args: str) -> str:
    """`grader ARGS` with the server's settings (its database); its output, or the test fails with its stderr."""
    done = subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO, env=server.env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"grader {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("students")
    return zip_package(build.build_reference(built), built / "reference.zip")


@pytest.fixture
def service(tmp_path: Path, sandbox_ready: None,
            new_postgres_database: Callable[[], AbstractContextManager[str]]
            ) -> Iterator[tuple[GraderProcess, LtiPlatformServer]]:
    data = tmp_path / "grader-data"
    data.mkdir()
    with (new_postgres_database() as database_url,
          grader_serve(grader_env(GRADER_DATA_DIR=str(data), GRADER_DATABASE_URL=database_url),
                       data / "serve.log") as server):
        platform = LtiPlatformServer(tool_base=server.url).start()
        try:
            grader_cli(server, "courses", "add", COURSE, "--name", "ML systems")
            grader_cli(server, "assignments", "add", f"{COURSE}/capstone", "--title", "Capstone",
                       "--suites", "capstone")
            fields = platform.registration_fields()
            grader_cli(server, "lti", "add-platform", "--issuer", fields["issuer"], "--client-id",
                       fields["client_id"], "--deployment-id", fields["deployment_ids"][0], "--jwks-url",
                       fields["jwks_url"], "--auth-url", fields["auth_url"], "--token-url", fields["token_url"],
                       "--course", COURSE)
            platform.trust_tool_keys(httpx.get(f"{server.url}/lti/jwks", timeout=10).json())
            yield server, platform
        finally:
            platform.stop()


def wait_for_graded(platform: LtiPlatformServer) -> list[dict[str, object]]:
    """Every score the platform got, once the last is a grade."""
    deadline = time.monotonic() + SCORE_WAIT_S
    while not platform.scores or platform.scores[-1].get("gradingProgress") != "FullyGraded":
        assert time.monotonic() < deadline, f"the platform got {platform.scores} within {SCORE_WAIT_S} s"
        time.sleep(0.2)
    return list(platform.scores)


def test_launch_hand_in_grade_and_score_back_in_chromium(
        service: tuple[GraderProcess, LtiPlatformServer], reference: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    server, platform = service
    tool = server.url
    full = sum(t.points for t in load_rubric()["capstone"].tests)
    student = Person("lms-student-7", "ada@example.org", [LEARNER], "Ada Lovelace")
    platform.person = student
    platform.custom = {"assignment": "capstone"}
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{tool}/lti/login?{urlencode(platform.login_params())}")
            page.wait_for_url(f"{tool}/?assignment={COURSE}%2Fcapstone", timeout=15_000)  # the link's assignment
            expect(page.locator("#assignment")).to_have_value(f"{COURSE}/capstone")
            expect(page.locator("#whoami")).to_contain_text(student.email or "")
            page.screenshot(path=str(shots / "lti-student-landing.png"), full_page=True)

            page.locator("#assignment").select_option(f"{COURSE}/capstone")
            page.locator("#file").set_input_files(str(reference))
            expect(page.locator("#result")).to_be_visible(timeout=GRADING_TIMEOUT_MS)
            expect(page.locator("#score")).to_have_text(f"{full:g} / {full:g}")
            page.screenshot(path=str(shots / "lti-student-graded.png"), full_page=True)
            assert not errors, errors

            # The grade goes back to the LMS on the launch's line item. The upload was sent as Submitted/Pending
            # first, unless the grade superseded it before its send: then the grade alone.
            scores = wait_for_graded(platform)
            *pending, score = scores
            assert len(pending) <= 1, scores
            for early in pending:
                assert (early["activityProgress"], early["gradingProgress"]) == ("Submitted", "Pending")
                assert "scoreGiven" not in early and early["userId"] == student.sub
            assert score["item"] == "1" and score["query"] == {"type": "graded"}  # platform.lineitem_url()
            assert score["userId"] == student.sub
            assert score["scoreGiven"] == full == 100.0
            assert score["scoreMaximum"] == full
            assert score["activityProgress"] == "Completed"
            assert score["gradingProgress"] == "FullyGraded"
            assert "timestamp" in score
            context.close()

            # An instructor of the LMS course launches the same link: the instructor page, with the course.
            platform.person = Person("lms-prof-1", "prof@example.org", [INSTRUCTOR], "Grace Hopper")
            staff = chromium.new_context(viewport={"width": 1280, "height": 900})
            teacher = staff.new_page()
            teacher.goto(f"{tool}/lti/login?{urlencode(platform.login_params())}")
            teacher.wait_for_url(f"{tool}/instructor?course={COURSE}&assignment=capstone", timeout=15_000)
            expect(teacher.locator("#course")).to_have_value(COURSE)
            expect(teacher.locator("#course option:checked")).to_contain_text(COURSE)
            expect(teacher.locator("#roster tbody")).to_contain_text(student.email or "")  # enrolled by the launch
            expect(teacher.locator("#assignment-table tbody tr td").first).to_have_text("capstone")  # its suites
            expect(teacher.locator("#grades tbody tr", has_text=student.email or "")).to_contain_text(
                f"{full:g} / {full:g}")
            teacher.screenshot(path=str(shots / "lti-instructor-landing.png"), full_page=True)
            staff.close()
        finally:
            chromium.close()
    assert platform.scores == scores, platform.scores  # nothing sent twice meanwhile
    print(f"screenshots: {shots}")
