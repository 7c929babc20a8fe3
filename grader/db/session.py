"""Engines and sessions built from Settings.

    with session_scope(write=True) as session:   # commits on success, rolls back on error
        create_user(session, "a@b.c", "student")

Services only flush; whoever opens the session (a CLI command, an API request, a task) commits, so one
request is one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from ..settings import get_settings

# How long a SQLite writer waits for another's lock before failing, instead of failing at once.
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option asking for BEGIN IMMEDIATE on SQLite (ignored by other databases).
WRITE_OPTION = "grader_write"


def make_engine(url: str, *, pooled: bool = True) -> Engine:
    """A new engine for `url`; SQLite gets the settings that make it behave like a real database."""
    parsed = make_url(url)
    # NullPool for one-off engines (migrations, CLI): nothing stays connected after they finish, so e.g. a
    # test database can be dropped right away.
    # Pooled: enough kept-open connections for the API's thread pool (40 threads), so a burst of uploads does
    # not open and close a connection per request beyond the pool (a PostgreSQL backend costs milliseconds
    # to start); max_overflow covers the threads' peak above that.
    options: dict[str, Any] = (
        {"pool_size": get_settings().db_pool_size, "max_overflow": 20} if pooled else {"poolclass": NullPool})
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True,
                             connect_args={"connect_timeout": get_settings().db_connect_timeout_s}, **options)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **options)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if in_memory and pooled:
        options = {}  # one connection per thread (SQLAlchemy's SingletonThreadPool): nothing to size
    if not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **options)
    _configure_sqlite(engine, wal=not in_memory)
    return engine


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Python's sqlite3 opens transactions on its own schedule (not before SELECTs, never for DDL), which
        # breaks SAVEPOINTs and transactional migrations. Turn that off and let SQLAlchemy emit BEGIN itself
        # (the recipe from SQLAlchemy's SQLite dialect documentation).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Foreign keys are off by default in SQLite; without this ON DELETE and references go unchecked.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if wal:
            # WAL lets the API read while the worker writes a grade. synchronous stays FULL (the default):
            # an accepted submission's row must survive a power cut, which NORMAL does not promise in WAL.
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE (see session_scope(write=True)) takes the write lock up front, waiting busy_timeout for it.
        # A deferred transaction that reads and then writes cannot wait: if another writer committed since its
        # read, SQLite fails it at once with "database is locked".
        mode = " IMMEDIATE" if connection.get_execution_options().get(WRITE_OPTION) else ""
        connection.exec_driver_sql(f"BEGIN{mode}")


# One engine (and so one connection pool) per URL per process.
_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """The process's shared engine for `url` (default: Settings.database_url)."""
    url = url or get_settings().database_url
    with _ENGINES_LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = make_engine(url)
        return _ENGINES[url]


def get_sessionmaker(url: str | None = None, *, write: bool = False) -> sessionmaker[Session]:
    """Sessions on the shared engine. write=True: for transactions that read then write (accepting an upload,
    recording a grade); on SQLite they queue for the write lock instead of failing, elsewhere no change."""
    engine = get_engine(url)
    bind = engine.execution_options(**{WRITE_OPTION: True}) if write else engine
    # expire_on_commit=False: objects stay readable after the commit (e.g. to build the response).
    return sessionmaker(bind=bind, expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None, *, write: bool = False) -> Iterator[Session]:
    """One transaction: commit when the block ends normally, roll back when it raises."""
    with get_sessionmaker(url, write=write)() as session, session.begin():
        yield session


def dispose_engines() -> None:
    """Close and forget every shared engine (tests that change the URL, and a worker after it forks)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def after_commit(session: Session, key: str, item: Any, send: Callable[[list[Any]], None]) -> None:
    """Hold `item` under `key` until `session` commits, then call `send` once with every item held there (in the
    order given, each once); a rollback forgets them. For tasks whose worker must find the committed rows: an
    outbox row, a graded submission. One pair of listeners per key and session."""
    flag = key + ":hooked"
    if not session.info.get(flag):
        session.info[flag] = True

        def _committed(committed: Session) -> None:
            items, committed.info[key] = committed.info.get(key, []), []
            if items:
                send(items)

        def _rolled_back(rolled_back: Session) -> None:
            rolled_back.info[key] = []

        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_rollback", _rolled_back)
    held: list[Any] = session.info.setdefault(key, [])
    if item not in held:
        held.append(item)
