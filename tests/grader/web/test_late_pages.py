"""Late work and regrades on the pages, in real Chromium against a real server (uvicorn) over a real database:
the student sees how late a submission was and what it counts for; the instructor sees the late-adjusted grade
in the table and the lateness in the report, and a regrade's table shows the score change and the suite and
sandbox image it was graded with before and after."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.courses.service import create_assignment, create_course, enroll
from grader.db import migrate
from grader.db.models import Regrade, Submission, TestResult
from grader.db.session import dispose_engines, session_scope
from grader.settings import get_settings
from grader.users.service import create_user
from tests.grader.web.pages import pages_app, sign_in

DUE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADA_LATE = "2 days late, −20%: counts 60 of 100"
CY_LATE = "10 days late, past the 7-day limit: counts 0 of 100"



def graded(session: Session, user_id: int, assignment_id: int, score: float, handed_in: datetime) -> Submission:
    submission = Submission(
        assignment_id=assignment_id, user_id=user_id, archive_sha256="0" * 64, status="graded", score=score,
        max_score=100.0, created_at=handed_in, graded_at=handed_in + timedelta(minutes=2),
        suite_version="suite-1", sandbox_image="bwrap:1",
        priorities=[{"priority": 1, "name": "pipeline", "score": score, "max_score": 100.0}],
    )
    session.add(submission)
    session.flush()
    session.add(TestResult(submission_id=submission.id, suite="capstone", name="test_training_pipeline",
                           priority=1, outcome="passed", points=score, max_points=100.0))
    return submission


@dataclass
class Site:
    url: str
    teacher: str
    ada: str
    ada_submission: str


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threaded_server: type) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path / 'grader.db'}"
    monkeypatch.setenv("GRADER_DATABASE_URL", url)
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    migrate.upgrade(url)
    with session_scope(write=True) as session:
        course = create_course(session, "cs1", "TinyTorch spring")
        capstone = create_assignment(session, course, "capstone", "Capstone", due_at=DUE,
                                     late_policy={"penalty_per_day": 0.1, "max_late_days": 7})
        teacher, teacher_token = create_user(session, "teach@example.edu", "instructor")
        enroll(session, teacher, course)
        students = {}
        for name in ("ada", "bob", "cy"):
            students[name] = create_user(session, f"{name}@example.edu", "student")
            enroll(session, students[name][0], course)
        ada = graded(session, students["ada"][0].id, capstone.id, 75.0, DUE + timedelta(days=1, hours=23))
        graded(session, students["bob"][0].id, capstone.id, 50.0, DUE - timedelta(hours=1))
        graded(session, students["cy"][0].id, capstone.id, 90.0, DUE + timedelta(days=9, hours=1))
        ada_id = str(ada.id)
    try:
        with threaded_server(pages_app()) as server:
            yield Site(server.url, teacher_token, students["ada"][1], ada_id)
    finally:
        dispose_engines()
        get_settings.cache_clear()



def test_student_sees_how_late_and_what_it_counts_for(browser: Browser, site: Site, shots: Path) -> None:
    page, errors = sign_in(browser, site.url + "/", site.ada)
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(1)
    history.get_by_role("button", name="Show").click()
    expect(page.locator("#score")).to_have_text("75 / 100")  # the raw score: what the tests earned
    expect(page.locator("#late")).to_be_visible()
    expect(page.locator("#late")).to_have_text(ADA_LATE)
    page.screenshot(path=str(shots / "student-late.png"), full_page=True)
    assert errors == []


def _grade_again(submission_id: uuid.UUID) -> None:
    """What the worker's record_grade writes for a regrade: a new grade, a new suite and image, and the pending
    regrade row's new score, in one transaction."""
    with session_scope(write=True) as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        now = datetime.now(UTC)
        submission.score, submission.suite_version, submission.sandbox_image = 80.0, "suite-2", "bwrap:2"
        submission.graded_at = now
        for row in session.scalars(select(Regrade).where(Regrade.submission_id == submission_id,
                                                         Regrade.finished_at.is_(None))):
            row.new_score, row.new_max_score, row.finished_at = 80.0, 100.0, now


def test_instructor_sees_late_grades_and_a_regrade_with_its_versions(
        browser: Browser, site: Site, shots: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page, errors = sign_in(browser, site.url + "/instructor", site.teacher)
    grid = page.locator("#grades")
    expect(grid.locator("tbody tr")).to_have_count(3)
    ada_row = grid.get_by_role("row", name="ada@example.edu")
    expect(ada_row).to_contain_text("60 / 100")  # 75 less 20 %: the grade that counts
    expect(ada_row).to_contain_text("2d late")
    expect(grid.get_by_role("row", name="bob@example.edu")).to_contain_text("50 / 100")
    expect(grid.get_by_role("row", name="bob@example.edu")).not_to_contain_text("late")
    expect(grid.get_by_role("row", name="cy@example.edu")).to_contain_text("0 / 100")

    label = f"ada@example.edu, Capstone: 60 / 100, {ADA_LATE} (raw 75), open the report"
    ada_row.get_by_role("button", name=label).click()
    report = page.locator("#report")
    expect(report).to_contain_text("75 / 100")
    expect(report.locator(".late")).to_have_text(ADA_LATE)
    grid.get_by_role("row", name="cy@example.edu").get_by_role("button", name=re.compile("open the report")).click()
    expect(report.locator(".late")).to_have_text(CY_LATE)
    ada_row.get_by_role("button", name=re.compile("open the report")).click()
    expect(report).to_contain_text("ada@example.edu")

    monkeypatch.setattr("grader.submissions.requeue", _grade_again, raising=False)
    report.get_by_role("button", name="Regrade this submission").click()
    regrades = page.locator("#regrades")
    expect(regrades).to_contain_text("1 of 1 regraded; 1 score(s) changed.")
    row = regrades.locator("tbody tr")
    expect(row).to_have_class("changed")
    expect(row.locator("td").nth(0)).to_contain_text("ada@example.edu")  # by student (docs/course-api.md)
    expect(row.locator("td").nth(2)).to_have_text("75")
    expect(row.locator("td").nth(3)).to_have_text("80")
    expect(row.locator("td").nth(4)).to_have_text("+5")
    expect(row.locator("td").nth(5)).to_have_text("suite-1 → suite-2")
    expect(row.locator("td").nth(6)).to_have_text("bwrap:1 → bwrap:2")
    # The table refreshes once the batch is done: 80 less 20 % now counts.
    expect(ada_row).to_contain_text("64 / 100")
    page.screenshot(path=str(shots / "instructor-late-regrade.png"), full_page=True)
    assert errors == []
    print(f"screenshots: {shots}")
