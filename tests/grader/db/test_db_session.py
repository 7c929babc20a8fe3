"""Engines from Settings: SQLite is configured to behave like a real database."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from grader.db import migrate
from grader.db.models import User
from grader.db.session import dispose_engines, get_engine, make_engine, session_scope


def test_sqlite_connections_have_foreign_keys_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'g.db'}")  # the missing folder is created
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
    finally:
        engine.dispose()


def test_sqlite_savepoints_roll_back_only_their_part(tmp_path: Path) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; session.py's BEGIN recipe must make it work.
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
            nested = connection.begin_nested()
            connection.execute(text("INSERT INTO t VALUES (2)"))
            nested.rollback()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT x FROM t")).scalars().all() == [1]
    finally:
        engine.dispose()


def test_session_scope_commits_and_rolls_back(database_url: str) -> None:
    try:
        with session_scope(database_url) as session:
            session.add(User(email="scope@example.edu", role="student"))
        try:
            with session_scope(database_url) as session:
                session.add(User(email="rolled-back@example.edu", role="student"))
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        with session_scope(database_url) as session:
            emails = set(session.scalars(text("SELECT email FROM users")).all())
        assert "scope@example.edu" in emails
        assert "rolled-back@example.edu" not in emails
        assert get_engine(database_url) is get_engine(database_url)
    finally:
        with session_scope(database_url) as session:
            session.execute(text("DELETE FROM users WHERE email = 'scope@example.edu'"))
        dispose_engines()


def test_write_sessions_take_the_sqlite_write_lock_up_front(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    migrate.upgrade(url)
    try:
        with session_scope(url, write=True) as session:
            session.execute(text("SELECT 1"))  # the transaction (and so BEGIN IMMEDIATE) starts here
            other = sqlite3.connect(tmp_path / "g.db", timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
    finally:
        dispose_engines()


def test_concurrent_read_then_write_transactions_all_succeed_on_sqlite(tmp_path: Path) -> None:
    # The shape of accepting an upload: read (rate limit), then write (the row). Deferred transactions would
    # fail some of these with "database is locked"; write sessions queue instead.
    url = f"sqlite:///{tmp_path / 'g.db'}"
    migrate.upgrade(url)

    def read_then_write(n: int) -> None:
        with session_scope(url, write=True) as session:
            session.execute(text("SELECT count(*) FROM users")).scalar()
            time.sleep(0.01)
            session.add(User(email=f"u{n}@example.edu", role="student"))

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(read_then_write, range(40)))
        with session_scope(url) as session:
            assert session.execute(text("SELECT count(*) FROM users")).scalar() == 40
    finally:
        dispose_engines()


def test_a_postgresql_server_that_never_answers_fails_within_the_connect_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts the connection and then says nothing (a stopped process behind a live socket) must
    fail the request in seconds, not hold it for as long as TCP lets it."""
    import socket

    from sqlalchemy.exc import OperationalError

    from grader.settings import get_settings

    monkeypatch.setenv("GRADER_DB_CONNECT_TIMEOUT_S", "2")
    get_settings.cache_clear()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever answers
    port = silent.getsockname()[1]
    engine = make_engine(f"postgresql+psycopg://grader@127.0.0.1:{port}/grader", pooled=False)
    start = time.monotonic()
    try:
        with pytest.raises(OperationalError, match="timeout"), engine.connect():
            pass
        assert time.monotonic() - start < 10
    finally:
        engine.dispose()
        silent.close()
        get_settings.cache_clear()
