"""The compile check through intake: an upload whose package holds a file that does not compile is accepted,
and its listing names the file (from the folder holding the package), line and text; the same from the API's
check as from the worker's unpacking (the `unpack` fixture compares them). Only the package's own .py files
are read, and only within the caps."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.intake import CompileProblem, Submission, check_submission
from grader.intake.sources import MAX_FILE_BYTES, MAX_TOTAL_BYTES
from tests.fixtures.hostile.builders import MiB, make_folder, make_tar_files, make_zip, package

Unpack = Callable[..., Submission]  # the `unpack` fixture (conftest.py)
BUILDERS: dict[str, tuple[str, Callable[[Path, dict[str, bytes]], Path]]] = {
    "zip": ("upload.zip", make_zip),
    "tar.gz": ("upload.tar.gz", make_tar_files),
    "tar": ("upload.tar", lambda p, f: make_tar_files(p, f, compressed=False)),
    "folder": ("upload", make_folder),
}
BROKEN = b"class Linear:\n    def forward(self x):\n        return x\n"
PROBLEM = CompileProblem("tinytorch/core/layers.py", 2, 22, "def forward(self x):", "invalid syntax")


@pytest.mark.parametrize("kind", BUILDERS)
def test_a_broken_module_is_accepted_and_named(kind: str, inbox: Path, unpack: Unpack) -> None:
    filename, build = BUILDERS[kind]
    files = package("myproj", {
        "myproj/tinytorch/core/layers.py": BROKEN,
        # Not the package's: beside it, or junk inside it. Never compiled, never reported.
        "myproj/notes.py": b"this is not python\n",
        "myproj/tinytorch/__pycache__/layers.cpython-311.py": b"def f(:\n",
        "myproj/tinytorch/core/layers.pyc": b"\0\0\0",
    })
    submission = unpack(build(inbox / filename, files))
    assert submission.compile_errors == (PROBLEM,)
    assert (submission.package_dir / "core" / "layers.py").read_bytes() == BROKEN  # unpacked as it was


def test_a_package_that_compiles_has_no_problems(inbox: Path, unpack: Unpack) -> None:
    assert unpack(make_zip(inbox / "upload.zip", package())).compile_errors == ()


def test_a_second_package_candidate_is_not_reported(inbox: Path, unpack: Unpack) -> None:
    # Without __init__.py, old/tinytorch is not the package (the one with it is): its files are not checked.
    files = package("", {"old/tinytorch/core/layers.py": BROKEN, "tinytorch/core/layers.py": BROKEN})
    assert unpack(make_zip(inbox / "upload.zip", files)).compile_errors == (PROBLEM,)


def test_a_file_over_the_per_file_cap_is_not_checked(inbox: Path, unpack: Unpack) -> None:
    big = b"x = 1\n" * (MAX_FILE_BYTES // 6 + 1) + BROKEN
    files = package("", {"tinytorch/core/big.py": big, "tinytorch/core/layers.py": BROKEN})
    assert unpack(make_zip(inbox / "upload.zip", files)).compile_errors == (PROBLEM,)


def test_files_past_the_total_cap_are_not_checked(inbox: Path, unpack: Unpack) -> None:
    # Kept in the archive's order until the total would pass the cap; the rest is graded but not pre-checked.
    size = MAX_FILE_BYTES * 3 // 4
    filler = b"x = 1\n" * (size // 6)
    count = MAX_TOTAL_BYTES // len(filler + BROKEN) + 2
    files = package("", {f"tinytorch/m{i}.py": filler + BROKEN for i in range(count)})
    problems = unpack(make_zip(inbox / "upload.zip", files)).compile_errors
    kept = MAX_TOTAL_BYTES // len(filler + BROKEN)
    assert 0 < kept < count
    assert [p.file for p in problems] == [f"tinytorch/m{i}.py" for i in range(kept)]


def test_a_huge_valid_file_costs_little(inbox: Path) -> None:
    # 5 MiB of valid Python: counted by intake as always, not compiled (over the cap), so the check stays fast.
    huge = b"x = [1, 2, 3]\n" * (5 * MiB // 14)
    upload = make_zip(inbox / "upload.zip", package("", {"tinytorch/core/data.py": huge}))
    started = time.monotonic()
    assert check_submission(upload).compile_errors == ()
    assert time.monotonic() - started < 5
