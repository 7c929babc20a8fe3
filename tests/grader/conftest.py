"""Databases for the service's tests: every test that asks for one runs twice, on SQLite and on the machine's
PostgreSQL, and the schema always comes from the Alembic migrations (never `create_all`).

- `backend`: "sqlite" or "postgresql" (session-scoped parameter).
- `database_url`: a database migrated to head, one per backend per test session; data committed to it stays
  until the session ends, so tests that commit (the CLI) clean up after themselves.
- `db_session`: a Session inside a transaction that is rolled back after the test; code under test may commit
  (commits become savepoints).
- `empty_database_url`: a brand-new, never-migrated database for one test.
- `new_postgres_database()`: a context manager, the URL of a brand-new PostgreSQL database dropped on exit
  (for a `grader serve` subprocess, which migrates it itself).
- A test that fails while a `running_server` process runs gets that process's log in its report.

PostgreSQL: a fresh database `grader_test_<random>` is created for the session (and one per
`empty_database_url`) through an admin connection to GRADER_TEST_POSTGRES_URL, else the first of
postgresql://postgres@127.0.0.1:5432/test and postgresql://root@... that answers; it is dropped at the end.
An unreachable PostgreSQL fails these tests (it is not a skip: the suite promises both backends).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import running_server
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from grader.db import migrate
from grader.db.session import dispose_engines, make_engine
from grader.settings import Settings

POSTGRES_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)
BACKENDS = ("sqlite", "postgresql")


def _reachable(url: str) -> str | None:
    """None if `url` answers, else why not."""
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except OperationalError as error:
        return str(error.orig or error).strip().splitlines()[0]
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    override = os.environ.get("GRADER_TEST_POSTGRES_URL")
    candidates = [Settings(database_url=override).database_url] if override else list(POSTGRES_CANDIDATES)
    reasons = []
    for url in candidates:
        reason = _reachable(url)
        if reason is None:
            return url
        reasons.append(f"{make_url(url).render_as_string(hide_password=True)}: {reason}")
    pytest.fail("PostgreSQL is required by the database tests and is unreachable (set GRADER_TEST_POSTGRES_URL "
                "to an account that may CREATE DATABASE):\n  " + "\n  ".join(reasons), pytrace=False)


@contextmanager
def _postgres_database(admin_url: str) -> Iterator[str]:
    name = f"grader_test_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_engines()
        with admin.connect() as connection:
            # FORCE: a connection a failed test leaked must not keep the database alive.
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def _database(backend: str, request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        try:
            yield f"sqlite:///{folder / f'grader-{secrets.token_hex(4)}.db'}"
        finally:
            dispose_engines()
        return
    with _postgres_database(request.getfixturevalue("postgres_admin_url")) as url:
        yield url


@pytest.fixture(scope="session")
def new_postgres_database(postgres_admin_url: str) -> Callable[[], AbstractContextManager[str]]:
    return lambda: _postgres_database(postgres_admin_url)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if report.failed:
        for running in running_server.RUNNING:
            report.sections.append((f"{running.name} log ({running.log})", running.log_tail()))
    return report


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _database(backend, request, tmp_path_factory.mktemp(backend)) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture
def empty_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with _database(backend, request, tmp_path) as url:
        yield url


@pytest.fixture
def service_database(empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The service's settings pointed at a migrated database of the test's own (SQLite and PostgreSQL), a data
    dir under tmp_path and no broker (sends fail fast and are left to the sweepers); the default course and
    capstone made as on a fresh install. Committed work is visible to every session_scope, as in the service."""
    from grader.bootstrap import prepare_database
    from grader.db.session import dispose_engines
    from grader.settings import get_settings

    migrate.upgrade(empty_database_url)
    monkeypatch.setenv("GRADER_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GRADER_BROKER_URL", raising=False)
    get_settings.cache_clear()
    prepare_database()
    yield empty_database_url
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(db_engine: Engine) -> Iterator[Session]:
    """A session whose every change is rolled back after the test, whatever the code under test commits."""
    with db_engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


# ---------------------------------------------------------------------------------------------- broken sandboxes
@pytest.fixture(scope="session")
def rootfs_without_numpy(sandbox_ready: None) -> Iterator[Path]:
    """A copy of the bwrap rootfs with numpy removed (a broken image, as after a bad build)."""
    yield from _rootfs_without("usr/local/lib/python3*/dist-packages/numpy")


@pytest.fixture(scope="session")
def rootfs_without_resource(sandbox_ready: None) -> Iterator[Path]:
    """A copy of the bwrap rootfs whose python lacks the `resource` module: numpy imports (the canary passes) but
    the boundary's supervisor cannot start, so every grading there is an infrastructure fault."""
    yield from _rootfs_without("usr/lib/python3*/lib-dynload/resource.*.so")


def _rootfs_without(pattern: str) -> Iterator[Path]:
    """Hard links, so the copy is quick and the real rootfs untouched. Under /tmp itself: bwrap (uid 65534)
    must reach it."""
    import shutil
    import subprocess
    import tempfile

    real = Path("/var/lib/tinytorch-grader/rootfs").resolve()
    folder = Path(tempfile.mkdtemp(prefix="rootfs-broken-"))
    folder.chmod(0o755)
    copy = folder / real.name
    try:
        subprocess.run(["cp", "-al", str(real), str(copy)], check=True)
        shutil.copy(f"{real}.json", f"{copy}.json")
        removed = list(copy.glob(pattern))
        assert removed, f"nothing matches {pattern} in {real}"
        for path in removed:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def image_without_numpy(sandbox_ready: None) -> Iterator[str]:
    """A docker image tag built here from tinytorch-sandbox with numpy removed (no registry needed)."""
    import subprocess

    tag = f"tinytorch-sandbox:test-no-numpy-{secrets.token_hex(4)}"
    dockerfile = ("FROM tinytorch-sandbox\nUSER root\nRUN rm -rf /usr/local/lib/python3*/dist-packages/numpy\n"
                  "USER 65534:65534\n")
    subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=dockerfile, text=True, check=True,
                   capture_output=True, timeout=300)
    try:
        yield tag
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


@pytest.fixture
def grader(empty_database_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """`grader ARGS...` through the real typer app on a fresh database: each call a new "process" with its own
    settings (they are read once per process), as an operator would type it. Returns click's Result."""
    from typer.testing import CliRunner

    from grader.cli import app
    from grader.settings import get_settings

    env = {"GRADER_DATABASE_URL": empty_database_url, "GRADER_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        get_settings.cache_clear()
        try:
            return runner.invoke(app, list(args), env=env)
        finally:
            get_settings.cache_clear()

    yield invoke
    dispose_engines()
