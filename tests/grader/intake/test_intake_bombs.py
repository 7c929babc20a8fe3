"""Bombs and floods: refused in well under a second, with at most a limit's worth ever on disk.

Each bomb declares a small size or none at all (tar stream cut off), so only counting the bytes as they
are produced can stop it. Disk use beside the destination is sampled while intake runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from grader.intake import IntakeError, IntakeLimits, Submission
from tests.fixtures.hostile.builders import GiB, MiB, central_flood_zip, many_members_zip, tar_bomb, zip_bomb

Refuse = Callable[..., IntakeError]  # fixtures from conftest.py
Unpack = Callable[..., Submission]
DEADLINE = 1.0


def disk_use(root: Path) -> int:
    total = 0
    for folder, _, files in os.walk(root):  # os.walk ignores folders that vanish while it walks
        for name in files:
            with suppress(FileNotFoundError):
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total


@contextmanager
def peak_disk_use(root: Path) -> Iterator[list[int]]:
    """Sample disk use under `root` every millisecond or so; yields a one-item list holding the peak."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], disk_use(root))
            time.sleep(0.001)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bombs")
    zip_bomb(folder / "bomb.zip")
    zip_bomb(folder / "bomb-declares-4GiB.zip", declared=0xFFFFFFFF)
    tar_bomb(folder / "bomb.tar.gz")
    tar_bomb(folder / "junk-bomb.tar.gz", name="__MACOSX/tinytorch/._weights.bin")
    zip_bomb(folder / "junk-bomb.zip", name="__MACOSX/tinytorch/._weights.bin")
    many_members_zip(folder / "many.zip", 10_000)
    central_flood_zip(folder / "flood.zip", 400_000)  # ~27 MB of listing, end record claims 3 entries
    return folder


def refuse_fast(refuse: Refuse, source: Path, outbox: Path, limits: IntakeLimits | None = None) -> IntakeError:
    limits = limits or IntakeLimits()
    with peak_disk_use(outbox) as peak:
        start = time.perf_counter()
        error = refuse(source, limits)
        elapsed = time.perf_counter() - start
    print(f"{source.name}: refused ({error.code}) in {elapsed * 1000:.0f} ms, peak disk use {peak[0] / MiB:.1f} MiB")
    assert elapsed < DEADLINE, f"took {elapsed:.2f}s"
    assert peak[0] <= limits.max_total_bytes + MiB
    return error


@pytest.mark.parametrize("name", ["bomb.zip", "bomb-declares-4GiB.zip", "bomb.tar.gz"])
def test_10_gib_bomb_is_refused_fast(name: str, bombs: Path, outbox: Path, refuse: Refuse) -> None:
    assert (bombs / name).stat().st_size < 20 * MiB  # small enough to pass the upload-size check
    error = refuse_fast(refuse, bombs / name, outbox)
    assert error.code == "file_too_large"
    assert "tinytorch/weights.bin" in str(error)


def test_bomb_under_the_total_limit_per_file_is_stopped_by_the_total(bombs: Path, outbox: Path, refuse: Refuse) -> None:
    limits = IntakeLimits(max_file_bytes=GiB)  # the per-file limit would let it run to 1 GiB
    error = refuse_fast(refuse, bombs / "bomb.zip", outbox, limits)
    assert error.code == "total_too_large"
    assert "tinytorch/weights.bin" in str(error)


def test_tar_bomb_under_a_junk_name_is_still_bounded(bombs: Path, outbox: Path, refuse: Refuse) -> None:
    """Junk is skipped, but tarfile skips by reading through it: the stream cap stops that too."""
    error = refuse_fast(refuse, bombs / "junk-bomb.tar.gz", outbox)
    assert error.code == "total_too_large"
    assert "__MACOSX/tinytorch/._weights.bin" in str(error)


def test_zip_bomb_under_a_junk_name_is_never_inflated(bombs: Path, unpack: Unpack) -> None:
    start = time.perf_counter()
    submission = unpack(bombs / "junk-bomb.zip")
    assert time.perf_counter() - start < DEADLINE
    assert "__MACOSX/tinytorch/._weights.bin" in submission.ignored


def test_ten_thousand_members_refused_by_count(bombs: Path, outbox: Path, refuse: Refuse) -> None:
    start = time.perf_counter()
    error = refuse_fast(refuse, bombs / "many.zip", outbox)
    assert error.code == "too_many_files"
    assert "more than 2000 members" in str(error) and "tinytorch/data/01997.txt" in str(error)
    assert time.perf_counter() - start < DEADLINE


def test_listing_flood_refused_before_zipfile_parses_it(bombs: Path, outbox: Path, refuse: Refuse) -> None:
    """400,000 central-directory entries under an end record claiming 3: counted cheaply, refused fast."""
    limits = IntakeLimits(max_archive_bytes=64 * MiB)  # let it past the upload-size check
    error = refuse_fast(refuse, bombs / "flood.zip", outbox, limits)
    assert error.code == "too_many_files"
    assert "tinytorch/__init__.py" in str(error)
