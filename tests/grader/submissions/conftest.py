"""Shared by the submission tests: the service's settings pointed at the test database and a temporary data
dir, real archives of the reference (and of broken fixtures), and users in the default course."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from submission_helpers import REFERENCE, zip_package

from grader.api.app import create_app
from grader.bootstrap import prepare_database
from grader.courses.service import create_assignment, create_course, ensure_default_course
from grader.db import migrate
from grader.db.models import Assignment
from grader.db.session import dispose_engines
from grader.settings import get_settings


@pytest.fixture(scope="session")
def reference_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return zip_package(REFERENCE, tmp_path_factory.mktemp("uploads") / "reference.zip")


@pytest.fixture
def service_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """GRADER_* for the code under test: the shared test database (for tests that only use db_session, which
    rolls back), a fresh data dir, an embedded broker."""
    yield from _env(database_url, tmp_path, monkeypatch)


@pytest.fixture
def isolated_url(empty_database_url: str) -> str:
    """A database of this test's own, migrated: for tests whose code under test commits (the API, the worker),
    so nothing they leave behind reaches other tests that count rows in the shared one."""
    migrate.upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def isolated_env(isolated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from _env(isolated_url, tmp_path, monkeypatch)


def _env(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("GRADER_DATABASE_URL", url)
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GRADER_BROKER_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture
def capstone(db_session: Session) -> Assignment:
    course = ensure_default_course(db_session)
    assert course is not None
    return next(a for a in course.assignments if a.slug == "capstone")


@pytest.fixture
def other_course_assignment(db_session: Session) -> Assignment:
    course = create_course(db_session, f"c{secrets.token_hex(4)}", "Another course")
    return create_assignment(db_session, course, "lab", "Lab", max_submissions_per_hour=2)


@pytest.fixture
def postgres_env(new_postgres_database: Callable[[], AbstractContextManager[str]], tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The production layout's database for the fault tests (PostgreSQL only: they start real workers and take
    minutes, and the layout they prove is PostgreSQL + Redis): a fresh, migrated database of this test's own,
    GRADER_* pointed at it and at a temporary data dir. Yields the database URL."""
    with new_postgres_database() as url:
        migrate.upgrade(url)
        for _ in _env(url, tmp_path, monkeypatch):
            yield url


@pytest.fixture
def grading_client(isolated_env: Path, isolated_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The API on an isolated database, for tests that then grade in this process with the worker's own code:
    the bwrap sandbox and a fixed seed, so a grade can be compared with `grader grade`."""
    monkeypatch.setenv("GRADER_SANDBOX", "bwrap")
    monkeypatch.setenv("GRADER_FIXED_SEED", "7")
    get_settings.cache_clear()
    prepare_database(isolated_url)
    with TestClient(create_app()) as test_client:
        yield test_client
