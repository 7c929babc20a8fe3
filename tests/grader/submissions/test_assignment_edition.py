"""An assignment may state the course edition it follows: the service grades its submissions in that edition's
module numbers and names, whatever the package's file names say; without one, the edition is seen from them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from submission_helpers import new_user, zip_package

from grader.courses.service import create_assignment, create_course, enroll
from grader.db.session import session_scope
from grader.errors import BadRequest
from grader.submissions.tasks import claim, grade_stored
from tests.fixtures.students.build import FIXTURES_BY_NAME, build_fixture

BROKEN = "test_broadcast_gradient"  # what the broken autograd of the fixture fails in the 05 suite


@pytest.fixture(scope="module")
def current_edition_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("packages")
    root = build_fixture(FIXTURES_BY_NAME["current_edition_broken_autograd"], built)
    return zip_package(root, built / "current.zip")


def graded_diagnostic(client: TestClient, isolated_url: str, archive: Path, edition: str | None) -> tuple[str, str]:
    """(the report's edition, the broken test's diagnostic) for `archive` handed in to an assignment stating
    `edition`, graded by the worker's own code."""
    slug = f"ag-{edition or 'none'}"
    with session_scope(isolated_url, write=True) as session:
        course = create_course(session, f"c-{uuid.uuid4().hex[:8]}", "Editions")
        create_assignment(session, course, slug, "Autograd", suites=["05_autograd"], edition=edition)
        student, token = new_user(session, "student")
        enroll(session, student, course)
        course_slug = course.slug
    with archive.open("rb") as body:
        accepted = client.post("/api/v1/submissions", data={"assignment": f"{course_slug}/{slug}"},
                               files={"file": ("current.zip", body, "application/zip")},
                               headers={"Authorization": f"Bearer {token}"})
    assert accepted.status_code == 202, accepted.text
    submission_id = uuid.UUID(accepted.json()["id"])
    claimed = claim(submission_id)
    assert claimed.lease is not None and claimed.lease.submission_id == submission_id
    assert grade_stored(claimed.lease)
    report = client.get(accepted.json()["status_url"], headers={"Authorization": f"Bearer {token}"}).json()
    assert report["status"] == "graded", report.get("error")
    [test] = [t for t in report["tests"] if t["name"] == BROKEN]
    assert test["outcome"] == "failed"
    return report["edition"], test["diagnostic"]


def test_the_assignments_edition_names_the_modules(grading_client: TestClient, isolated_url: str,
                                                   current_edition_zip: Path, sandbox_ready: None) -> None:
    # The package is laid out as the current edition: seen from its files, autograd is module 06 ...
    edition, diagnostic = graded_diagnostic(grading_client, isolated_url, current_edition_zip, None)
    assert edition == "current" and diagnostic.startswith("Module 06 autograd: "), diagnostic
    # ... but an assignment that follows the December 2025 edition reads it as its students' module 05.
    edition, diagnostic = graded_diagnostic(grading_client, isolated_url, current_edition_zip, "2025-12")
    assert edition == "2025-12" and diagnostic.startswith("Module 05 autograd: "), diagnostic


def test_an_unknown_edition_is_refused(isolated_url: str) -> None:
    with session_scope(isolated_url, write=True) as session:
        course = create_course(session, "editions", "Editions")
        with pytest.raises(BadRequest, match="unknown edition '2019'"):
            create_assignment(session, course, "capstone-x", "Capstone", edition="2019")
