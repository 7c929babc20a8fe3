"""The instructor dashboard in real Chromium against a real server (uvicorn) serving the pages and the
dashboard's routes over a real database with graded submissions in it: the grade table, both charts, one
submission's report with its diagnostic, a regrade, and the CSV download."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from grader.courses.service import create_assignment, create_course, enroll
from grader.db import migrate
from grader.db.models import Regrade, Submission, TestResult
from grader.db.session import dispose_engines, session_scope
from grader.settings import get_settings
from grader.users.service import create_user
from tests.grader.web.pages import pages_app, sign_in

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TESTS = ("test_training_pipeline", "test_cnn_architecture", "test_convergence", "test_inference")



def graded(session: Session, user_id: int, assignment_id: int, failing: tuple[str, ...], minutes: int) -> Submission:
    points = {name: 0.0 if name in failing else 25.0 for name in TESTS}
    submission = Submission(
        assignment_id=assignment_id, user_id=user_id, archive_sha256="0" * 64, status="graded",
        score=sum(points.values()), max_score=100.0, created_at=T0 + timedelta(minutes=minutes),
        graded_at=T0 + timedelta(minutes=minutes + 2), suite_version="suite-1", sandbox_image="bwrap:1",
        priorities=[{"priority": 1, "name": "pipeline", "score": sum(points.values()), "max_score": 100.0}],
    )
    session.add(submission)
    session.flush()
    for name in TESTS:
        broken = name in failing
        session.add(TestResult(
            submission_id=submission.id, suite="capstone", name=name, priority=1,
            outcome="failed" if broken else "passed", points=points[name], max_points=25.0,
            module="spatial" if broken else None,
            diagnostic="tinytorch.core.spatial: Conv2d is missing (no module spatial)" if broken else None,
            evidence={"missing": "tinytorch.core.spatial"} if broken else {},
        ))
    return submission


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         threaded_server: type) -> Iterator[tuple[str, str, str]]:
    """(server URL, instructor token, the broken submission's id)."""
    url = f"sqlite:///{tmp_path / 'grader.db'}"
    monkeypatch.setenv("GRADER_DATABASE_URL", url)
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    migrate.upgrade(url)
    with session_scope(write=True) as session:
        course = create_course(session, "cs1", "TinyTorch spring")
        capstone = create_assignment(session, course, "capstone", "Capstone")
        teacher, token = create_user(session, "teach@example.edu", "instructor")
        enroll(session, teacher, course)
        ada, _ = create_user(session, "ada@example.edu", "student")
        bob, _ = create_user(session, "bob@example.edu", "student")
        enroll(session, ada, course)
        enroll(session, bob, course)
        graded(session, ada.id, capstone.id, (), 0)
        broken = graded(session, bob.id, capstone.id, ("test_cnn_architecture", "test_convergence"), 5)
        broken_id = str(broken.id)
    try:
        with threaded_server(pages_app()) as server:
            yield server.url, token, broken_id
    finally:
        dispose_engines()
        get_settings.cache_clear()


def test_dashboard_shows_table_charts_report_and_regrade(browser: Browser, site: tuple[str, str, str],
                                                         shots: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, token, broken_id = site
    page, errors = sign_in(browser, url + "/instructor", token)

    grid = page.locator("#grades")
    expect(grid.locator("tbody tr")).to_have_count(2)
    expect(grid.get_by_role("row", name="ada@example.edu")).to_contain_text("100 / 100")
    expect(grid.get_by_role("row", name="bob@example.edu")).to_contain_text("50 / 100")
    # What the class got wrong: the broken tests, in the table beside the chart.
    page.get_by_text("The same as a table").click()
    expect(page.locator("#modules-table")).to_contain_text("test_cnn_architecture")
    page.screenshot(path=str(shots / "instructor-dashboard.png"), full_page=True)

    grid.get_by_role("button", name="bob@example.edu, Capstone: 50 / 100, open the report").click()
    report = page.locator("#report")
    expect(report).to_be_visible()
    expect(report).to_contain_text("bob@example.edu")
    expect(report).to_contain_text("Conv2d is missing")
    expect(report.locator("li.test")).to_have_count(len(TESTS))
    page.screenshot(path=str(shots / "instructor-report.png"), full_page=True)

    # The requeue itself belongs to grader.submissions; here the regrade's bookkeeping is what is checked.
    requeued: list[uuid.UUID] = []
    monkeypatch.setattr("grader.submissions.requeue", requeued.append, raising=False)
    report.get_by_role("button", name="Regrade this submission").click()
    expect(page.locator("#regrades")).to_contain_text("0 of 1 regraded")
    assert [str(x) for x in requeued] == [broken_id]
    with session_scope() as session:
        assert session.query(Regrade).count() == 1

    with page.expect_download() as download:
        page.get_by_role("link", name="Download grades CSV").click()
    csv_text = Path(download.value.path()).read_text()
    # The columns are docs/course-api.md's (one row per student); the scores are what matters here.
    assert "bob@example.edu" in csv_text and "ada@example.edu" in csv_text and ",50" in csv_text
    assert errors == []
    print(f"screenshots: {shots}")
