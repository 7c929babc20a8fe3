"""A failed test's worked example on the pages, in real Chromium against a real server (uvicorn) over a real
database: the student's result and the instructor's report of one submission both show a compact
input / expected / got block under the diagnostic, as narrow as its column (long values wrap), and the raw
evidence no longer repeats it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Locator, expect

from capstone_tests.checks.example import make_example
from grader.courses.service import create_assignment, create_course, enroll
from grader.db import migrate
from grader.db.models import Submission, TestResult
from grader.db.session import dispose_engines, session_scope
from grader.settings import get_settings
from grader.users.service import create_user
from tests.grader.web.pages import pages_app, sign_in

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DIAGNOSTIC = "Module 02 activations: x.grad through ReLU (upstream gradient c) is wrong: largest difference 1.27"
# Wide rows (64 columns, values with many digits): only wrapping keeps the block inside its column.
X = np.linspace(-3.123456, 3.987654, 64 * 64).reshape(64, 64)
EXPECTED = X * (X > 0)
GOT = EXPECTED.copy()
GOT[37, 20] = 123456.789
EXAMPLE = make_example({"x": X, "c": np.ones((64, 64)), "note": "the upstream gradient " * 10}, EXPECTED, GOT,
                       (37, 20))



@dataclass
class Site:
    url: str
    teacher: str
    ada: str


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threaded_server: type) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path / 'grader.db'}"
    monkeypatch.setenv("GRADER_DATABASE_URL", url)
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    migrate.upgrade(url)
    with session_scope(write=True) as session:
        course = create_course(session, "cs1", "TinyTorch spring")
        assignment = create_assignment(session, course, "capstone", "Capstone")
        teacher, teacher_token = create_user(session, "teach@example.edu", "instructor")
        enroll(session, teacher, course)
        ada, ada_token = create_user(session, "ada@example.edu", "student")
        enroll(session, ada, course)
        submission = Submission(
            assignment_id=assignment.id, user_id=ada.id, archive_sha256="0" * 64, status="graded", score=1.0,
            max_score=2.0, created_at=T0, graded_at=T0 + timedelta(minutes=2), suite_version="suite-1",
            sandbox_image="bwrap:1", priorities=[{"priority": None, "name": "02_activations", "score": 1.0,
                                                  "max_score": 2.0}])
        session.add(submission)
        session.flush()
        session.add(TestResult(submission_id=submission.id, suite="02_activations", name="test_relu_values",
                               priority=None, outcome="passed", points=1.0, max_points=1.0))
        session.add(TestResult(submission_id=submission.id, suite="02_activations",
                               name="test_relu_sigmoid_gelu_softmax_gradients", priority=None, outcome="failed",
                               points=0.0, max_points=1.0, module=2, diagnostic=DIAGNOSTIC,
                               evidence={"expected": [0.0, 1.5], "got": [0.0, 2.1], "example": EXAMPLE}))
    try:
        with threaded_server(pages_app()) as server:
            yield Site(server.url, teacher_token, ada_token)
    finally:
        dispose_engines()
        get_settings.cache_clear()



def assert_example_block(block: Locator, container: Locator) -> None:
    """Input, expected and got, each at the row where they differ most, with nothing wider than its column."""
    expect(block).to_be_visible()
    labels = block.locator("dt")
    expect(labels).to_have_text(["input", "", "", "expected", "got"])
    values = block.locator("dd")
    expect(values.nth(0)).to_contain_text("x[37, 16:24] = [")
    expect(values.nth(0)).to_contain_text("shape (64, 64)")
    expect(values.nth(2)).to_contain_text('note = "the upstream gradient the upstream gradient')
    expect(values.nth(3)).to_contain_text("expected[37, 16:24] = [")
    expect(values.nth(4)).to_contain_text("got[37, 16:24] = [")
    expect(values.nth(4)).to_contain_text("1.02165, 123457, 1.02513")  # the wrong entry, to 6 digits
    widths = block.evaluate("b => ({block: b.getBoundingClientRect().right, scroll: b.scrollWidth, "
                            "client: b.clientWidth})")
    right = container.evaluate("c => c.getBoundingClientRect().right")
    assert widths["scroll"] <= widths["client"] and widths["block"] <= right + 0.5, widths


def test_student_sees_the_example_under_the_diagnostic(browser: Browser, site: Site, shots: Path) -> None:
    page, errors = sign_in(browser, site.url + "/", site.ada, width=420)  # a phone: the narrowest column
    page.locator("#history tbody tr").get_by_role("button", name="Show").click()
    failure = page.locator("#failures .failure")
    expect(failure).to_have_count(1)
    expect(failure.locator(".diagnostic")).to_contain_text("x.grad through ReLU")  # the diagnostic's "what"
    assert_example_block(failure.get_by_role("group", name="Example: input, expected, got"), failure)
    failure.get_by_text("Evidence").click()
    evidence = failure.locator("details pre")
    expect(evidence).to_contain_text('"expected"')
    expect(evidence).not_to_contain_text('"example"')  # shown once, as the block
    page.screenshot(path=str(shots / "student-example.png"), full_page=True)
    assert errors == []


def test_instructor_sees_the_example_in_the_report(browser: Browser, site: Site, shots: Path) -> None:
    page, errors = sign_in(browser, site.url + "/instructor", site.teacher, width=1000)
    ada_row = page.locator("#grades").get_by_role("row", name="ada@example.edu")
    ada_row.get_by_role("button", name=re.compile("open the report")).click()
    cell = page.locator("#report li.failure", has_text="test_relu_sigmoid_gelu_softmax_gradients")
    assert_example_block(cell.get_by_role("group", name="Example: input, expected, got"), page.locator("#report"))
    tests = page.locator("#report .test-groups").evaluate("t => t.getBoundingClientRect().right")
    assert tests <= page.locator("#report").evaluate("r => r.getBoundingClientRect().right")  # nothing wider
    expect(cell.locator(".pre-box pre")).not_to_contain_text('"example"')
    page.screenshot(path=str(shots / "instructor-example.png"), full_page=True)
    assert errors == []
    print(f"screenshots: {shots}")
