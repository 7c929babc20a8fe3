"""The similarity views against the real service: the whole API app on uvicorn over a fresh PostgreSQL database,
real comparisons (grader.similarity's task body) of a student who handed in our reference unchanged and one who
wrote their own, driven in real Chromium. The copier is at the top, matched to the built-in reference; the side
by side highlights the code in common; a review saved from the page is kept by the service. A student of the
course gets nothing of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from grader.bootstrap import prepare_database
from grader.courses.service import enroll, get_course
from grader.db import migrate
from grader.db.models import SimilarityPair
from grader.db.session import dispose_engines, session_scope
from grader.settings import get_settings
from grader.similarity.comparison import compare_counting
from grader.users.service import create_user
from tests.fixtures.similarity import build
from tests.grader.similarity.helpers import graded
from tests.grader.web.contract_site import assert_accessible
from tests.grader.web.pages import pages_app, sign_in


@dataclass
class Site:
    url: str
    teacher: str
    student: str


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threaded_server: type,
         new_postgres_database: Callable[[], AbstractContextManager[str]]) -> Iterator[Site]:
    with new_postgres_database() as database_url:
        monkeypatch.setenv("GRADER_DATABASE_URL", database_url)
        monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.delenv("GRADER_BROKER_URL", raising=False)
        get_settings.cache_clear()
        migrate.upgrade(database_url)
        prepare_database()
        with session_scope(write=True) as session:
            teacher, teacher_token = create_user(session, "teach@example.edu", "instructor")
            enroll(session, teacher, get_course(session, "default"), "instructor")
            copier, copier_token = create_user(session, "copier@uni.edu", "student")
            honest = create_user(session, "honest@uni.edu", "student")[0]
            copied = graded(session, copier, build.reference(tmp_path / "copy"), 100.0)
            own = graded(session, honest, build.honest(tmp_path / "own", 3), 70.0)
            ids = [copied.id, own.id]
        for submission_id in ids:
            compare_counting(submission_id)  # what the similarity task does once the grade is committed
        try:
            with threaded_server(pages_app()) as server:
                yield Site(server.url, teacher_token, copier_token)
        finally:
            dispose_engines()
            get_settings.cache_clear()


def test_the_copier_is_found_shown_side_by_side_and_reviewed(browser: Browser, site: Site, shots: Path,
                                                             axe_script: str) -> None:
    page, errors = sign_in(browser, site.url + "/instructor?course=default&assignment=capstone", site.teacher)
    expect(page.locator("#similarity")).to_be_visible(timeout=15_000)
    first = page.locator("#sim-pairs tbody tr").first
    expect(first).to_contain_text("copier@uni.edu")
    expect(first).to_contain_text("known solution")
    expect(first).not_to_contain_text("honest@uni.edu")
    page.screenshot(path=str(shots / "similarity-real-list.png"), full_page=True)

    first.locator("button.sim-open").click()
    expect(page.locator("#sim-pair")).to_be_visible()
    expect(page.locator("#sim-pair mark").first).to_be_visible(timeout=15_000)  # the code in common, highlighted
    page.get_by_label("flagged", exact=False).first.check()
    page.locator("#sim-note").fill("Handed in the reference unchanged; talk to them.")
    page.get_by_role("button", name="Save the review").click()
    expect(page.locator("#sim-pair")).to_contain_text("saved", ignore_case=True, timeout=10_000)
    assert_accessible(page, axe_script)
    page.screenshot(path=str(shots / "similarity-real-pair.png"), full_page=True)
    assert not errors, errors
    page.context.close()

    with session_scope() as session:
        [top] = session.scalars(select(SimilarityPair).order_by(SimilarityPair.score.desc()).limit(1))
        assert top.status == "flagged" and top.reviewed_by == "teach@example.edu"
        assert top.note == "Handed in the reference unchanged; talk to them."
        assert top.score >= 0.8

    # The copier, a student of the course, gets none of it: the section stays hidden, the API says 403.
    student, _ = sign_in(browser, site.url + "/instructor", site.student)
    expect(student.locator("#similarity")).to_be_hidden()
    answer = student.request.get(site.url + "/api/v1/instructor/courses/default/assignments/capstone/similarity")
    assert answer.status == 403
    student.context.close()
