"""ArchiveStore: content-addressed, stored once, never partially written."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from grader.intake import ArchiveStore
from grader.intake import store as store_module


@pytest.fixture
def store(tmp_path: Path) -> ArchiveStore:
    return ArchiveStore(tmp_path / "archives")


def upload(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_stores_by_sha256(store: ArchiveStore, tmp_path: Path) -> None:
    data = b"PK\x03\x04 pretend zip" * 100
    digest = store.put(upload(tmp_path, "a.zip", data))
    assert digest == hashlib.sha256(data).hexdigest()
    path = store.path_of(digest)
    assert path == store.root / digest[:2] / digest[2:]
    assert path.read_bytes() == data
    assert store.exists(digest)
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_identical_uploads_are_stored_once(
    store: ArchiveStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = store.put(upload(tmp_path, "a.zip", b"same bytes"))
    before = store.path_of(first).stat()

    def no_second_write(*args: object) -> str:
        raise AssertionError("the same content was written twice")

    monkeypatch.setattr(ArchiveStore, "_write", no_second_write)
    assert store.put(upload(tmp_path, "b.tgz", b"same bytes")) == first
    after = store.path_of(first).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(stored_files(store.root)) == 1


def test_different_uploads_are_stored_apart(store: ArchiveStore, tmp_path: Path) -> None:
    a = store.put(upload(tmp_path, "a.zip", b"one"))
    b = store.put(upload(tmp_path, "b.zip", b"two"))
    assert a != b
    assert store.path_of(a).read_bytes() == b"one" and store.path_of(b).read_bytes() == b"two"


def test_a_failed_write_leaves_nothing(store: ArchiveStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_failure(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(store_module.os, "fsync", disk_failure)
    data = b"x" * 3_000_000
    with pytest.raises(OSError):
        store.put(upload(tmp_path, "a.zip", data))
    digest = hashlib.sha256(data).hexdigest()
    assert not store.exists(digest)
    assert stored_files(store.root) == []  # no temp file either
    monkeypatch.undo()
    assert store.put(upload(tmp_path, "a.zip", data)) == digest  # and a retry works


def test_the_final_name_appears_only_when_complete(
    store: ArchiveStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the moment of the rename, the temp file is already fsynced and complete."""
    data = os.urandom(2_000_000)
    seen: list[tuple[bool, int]] = []
    real_replace = os.replace

    def watching_replace(src: str | Path, dst: str | Path) -> None:
        seen.append((Path(dst).exists(), Path(src).stat().st_size))
        real_replace(src, dst)

    monkeypatch.setattr(store_module.os, "replace", watching_replace)
    store.put(upload(tmp_path, "a.zip", data))
    assert seen == [(False, len(data))]


def test_concurrent_puts_of_the_same_bytes(store: ArchiveStore, tmp_path: Path) -> None:
    data = os.urandom(500_000)
    paths = [upload(tmp_path, f"{i}.zip", data) for i in range(8)]
    results: list[str] = []
    threads = [threading.Thread(target=lambda p=p: results.append(store.put(p))) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results) == {hashlib.sha256(data).hexdigest()}
    files = stored_files(store.root)
    assert len(files) == 1 and files[0].read_bytes() == data


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ab", "A" * 64, "g" * 64, "a" * 63 + "/", "", "a" * 65])
def test_path_of_refuses_anything_but_a_digest(store: ArchiveStore, bad: str) -> None:
    with pytest.raises(ValueError):
        store.path_of(bad)
    with pytest.raises(ValueError):
        store.exists(bad)
