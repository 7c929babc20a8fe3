"""A full disk refuses uploads with 503, Retry-After and words, writes nothing half, and uploads work again once
space returns: the free-space preflight under a real `grader serve` whose data dir is a small tmpfs, and ENOSPC
itself (preflight off) while the archive store writes."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from outage_services import get, serve_api, small_tmpfs, upload
from running_server import grader_env, grader_serve
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool
from submission_helpers import new_user, wait_until

from grader.api.app import create_app
from grader.bootstrap import prepare_database
from grader.db.models import Submission
from grader.db.session import session_scope
from grader.settings import get_settings

MiB = 1024 * 1024
DISK_SENTENCE = ("The grader's disk is full; nothing was submitted. Try again in a few minutes, and tell your "
                 "instructor if it lasts.")


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill(path: Path, leave: int) -> Path:
    """A file taking all but `leave` bytes of path's file system."""
    filler = path / "filler"
    with filler.open("wb") as out:
        remaining = free_bytes(path) - leave
        while remaining > 0:
            chunk = min(remaining, 4 * MiB)
            out.write(b"\0" * chunk)
            remaining -= chunk
    return filler


def count_submissions(url: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(Submission)) or 0)
    finally:
        engine.dispose()


def test_preflight_refuses_uploads_while_the_data_disk_is_nearly_full(tmp_path: Path, reference_zip: Path) -> None:
    with small_tmpfs(tmp_path / "disk", "64m") as disk:
        data = disk / "data"  # SQLite, the SQLite broker and the archives all live here (the embedded layout)
        env = grader_env(GRADER_DATA_DIR=str(data), GRADER_MIN_FREE_BYTES=str(16 * MiB))
        database = f"sqlite:///{data / 'grader.db'}"
        with serve_api(env, tmp_path / "serve.log") as server:
            token = server.add_user("disk@example.org", "student")
            assert upload(server.url, token, reference_zip)[0] == 202

            filler = fill(disk, leave=8 * MiB)
            before = count_submissions(database)
            for _ in range(3):
                status, headers, body = upload(server.url, token, reference_zip)
                assert (status, body) == (503, {"detail": DISK_SENTENCE})
                assert int(headers["retry-after"]) >= 1
            assert count_submissions(database) == before
            assert not list((data / "archives").glob(".incoming-*"))
            # What was accepted is still readable while uploads are refused.
            assert get(server.url, token, "/api/v1/submissions")[0] == 200

            filler.unlink()
            status, _, body = upload(server.url, token, reference_zip)
            assert status == 202, body
            assert count_submissions(database) == before + 1


def test_the_embedded_worker_grades_again_once_space_returns(sandbox_ready: None, tmp_path: Path,
                                                           reference_zip: Path) -> None:
    """`grader serve` on embedded defaults, its data disk (SQLite, the SQLite broker) full to the last byte for a
    while: its worker may die of it (serve restarts it), /healthz must not say all is well while no worker lives,
    and once space returns an upload is graded as usual."""
    with small_tmpfs(tmp_path / "disk", "64m") as disk:
        data = disk / "data"
        env = grader_env(GRADER_DATA_DIR=str(data), GRADER_MIN_FREE_BYTES=str(4 * MiB), GRADER_SANDBOX="bwrap")
        with grader_serve(env, tmp_path / "serve.log") as server:
            token = server.add_user("full@example.org", "student")
            filler = fill(disk, leave=0)
            status, _, body = upload(server.url, token, reference_zip)
            assert (status, body) == (503, {"detail": DISK_SENTENCE})
            time.sleep(15)  # heartbeats, the broker's polling: every write of the worker fails meanwhile
            filler.unlink()
            status, _, body = upload(server.url, token, reference_zip)
            assert status == 202, body

            def graded() -> bool:
                answer = get(server.url, token, body["status_url"])[2]
                assert answer["status"] in ("queued", "running", "graded"), answer
                return bool(answer["status"] == "graded" and answer["score"] == answer["max_score"] == 100.0)

            wait_until(graded, 240, interval=1.0, what="the upload made after the disk had room again graded")
            assert get(server.url, token, "/healthz")[2]["checks"]["workers"] == "ok"


@pytest.fixture
def archives_on_full_disk(isolated_env: Path, isolated_url: str, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The archive store on a small tmpfs, the preflight turned off: the store meets ENOSPC itself."""
    with small_tmpfs(tmp_path / "archives", "4m") as archives:
        monkeypatch.setenv("GRADER_ARCHIVE_DIR", str(archives))
        monkeypatch.setenv("GRADER_MIN_FREE_BYTES", "0")
        get_settings.cache_clear()
        yield archives
        get_settings.cache_clear()


def test_enospc_while_storing_is_a_503_and_leaves_nothing_half_written(
        archives_on_full_disk: Path, isolated_url: str, reference_zip: Path) -> None:
    prepare_database(isolated_url)
    with session_scope(isolated_url, write=True) as session:
        token = new_user(session, "student")[1]
    filler = fill(archives_on_full_disk, leave=16 * 1024)  # less than the archive
    with TestClient(create_app()) as client, reference_zip.open("rb") as body:
        refused = client.post("/api/v1/submissions", files={"file": ("ref.zip", body, "application/zip")},
                              headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 503
        assert refused.json() == {"detail": DISK_SENTENCE}
        assert int(refused.headers["retry-after"]) >= 1
        assert sorted(p.name for p in archives_on_full_disk.rglob("*")) == ["filler"]
        assert count_submissions(isolated_url) == 0

        filler.unlink()
        body.seek(0)
        accepted = client.post("/api/v1/submissions", files={"file": ("ref.zip", body, "application/zip")},
                               headers={"Authorization": f"Bearer {token}"})
        assert accepted.status_code == 202, accepted.text
        assert count_submissions(isolated_url) == 1


def test_sqlite_out_of_space_is_classified_as_a_full_disk(tmp_path: Path) -> None:
    """SQLite's own ENOSPC ("database or disk is full", an OperationalError) is the disk's 503, not the database's."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from grader.errors import DiskFull, infrastructure_error

    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        engine = create_engine(f"sqlite:///{disk / 'full.db'}", poolclass=NullPool)
        try:
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE t (x BLOB)"))
            fill(disk, leave=0)
            with pytest.raises(OperationalError) as raised, engine.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES (zeroblob(1000000))"))
        finally:
            engine.dispose()
    outage = infrastructure_error(raised.value)
    assert isinstance(outage, DiskFull) and outage.detail == DISK_SENTENCE
