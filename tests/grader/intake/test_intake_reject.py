"""Every hostile or broken upload is refused with its own code and a message naming the offending member,
and leaves nothing behind."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.intake import IntakeError, IntakeLimits
from grader.intake.errors import ALL_ERRORS, quote_name
from tests.fixtures.hostile.builders import PACKAGE, make_folder, make_zip
from tests.fixtures.hostile.cases import CASES, Case

Refuse = Callable[..., IntakeError]  # the `refuse` fixture (conftest.py)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_upload_is_refused(case: Case, inbox: Path, refuse: Refuse, tmp_path: Path) -> None:
    source = inbox / case.filename
    case.build(source)
    error = refuse(source, IntakeLimits(**case.limits))
    assert error.code == case.code, str(error)
    assert case.member in str(error)
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["in", "out", case.filename])  # nothing else


def test_names_equal_after_unicode_normalisation_collide(inbox: Path, refuse: Refuse) -> None:
    """macOS writes "é" decomposed; a Linux-made twin with the composed form would be a second file."""
    composed, decomposed = "tinytorch/caf\u00e9.py", "tinytorch/cafe\u0301.py"
    error = refuse(make_zip(inbox / "upload.zip", {**PACKAGE, composed: b"1", decomposed: b"2"}))
    assert error.code == "case_collision"
    assert error.member == decomposed


def test_every_code_is_distinct_and_tested() -> None:
    codes = [error.code for error in ALL_ERRORS]
    assert len(codes) == len(set(codes))
    assert set(codes) == {case.code for case in CASES}


def test_messages_cannot_smuggle_control_characters(inbox: Path, refuse: Refuse) -> None:
    name = "tinytorch/a\nFAKE LOG LINE\r\x1b[31m.py"
    error = refuse(make_zip(inbox / "upload.zip", {**PACKAGE, name: b""}))
    assert error.code == "bad_name"
    assert error.member == name
    assert not any(ord(c) < 32 for c in str(error))


def test_quote_name_shortens_long_names() -> None:
    quoted = quote_name("x" * 10_000)
    assert len(quoted) < 200 and quoted.endswith("...'")


# --- folders go through the same rules ----------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "work", PACKAGE)


def test_folder_symlink_to_a_secret(folder: Path, refuse: Refuse) -> None:
    os.symlink("/etc/passwd", folder / "tinytorch" / "data.py")
    error = refuse(folder)
    assert error.code == "symlink"
    assert "tinytorch/data.py" in str(error) and "/etc/passwd" in str(error)


def test_folder_symlink_to_a_folder_is_not_followed(folder: Path, tmp_path: Path, refuse: Refuse) -> None:
    outside = make_folder(tmp_path / "outside", {"secret.txt": b"s3cret"})
    os.symlink(outside, folder / "tinytorch" / "more")
    assert refuse(folder).code == "symlink"


def test_folder_dangling_symlink(folder: Path, refuse: Refuse) -> None:
    os.symlink("nowhere", folder / "tinytorch" / "gone.py")
    assert refuse(folder).code == "symlink"


def test_folder_fifo(folder: Path, refuse: Refuse) -> None:
    os.mkfifo(folder / "tinytorch" / "pipe")
    error = refuse(folder)
    assert error.code == "special_file"
    assert "tinytorch/pipe" in str(error)


def test_folder_too_deep(folder: Path, refuse: Refuse) -> None:
    deep = folder.joinpath(*["d"] * 25)
    deep.mkdir(parents=True)
    assert refuse(folder).code == "too_deep"


def test_folder_too_many_files(folder: Path, refuse: Refuse) -> None:
    for i in range(30):
        (folder / "tinytorch" / f"m{i}.py").write_text("")
    assert refuse(folder, IntakeLimits(max_files=20)).code == "too_many_files"


def test_folder_without_package(tmp_path: Path, refuse: Refuse) -> None:
    source = make_folder(tmp_path / "work", {"src/x.py": b"", "setup.py": b""})
    error = refuse(source)
    assert error.code == "no_package"
    assert "'setup.py'" in str(error) and "'src/'" in str(error)


def test_a_fifo_as_the_upload(tmp_path: Path, refuse: Refuse) -> None:
    """A FIFO handed in as the archive must not block the reader."""
    pipe = tmp_path / "upload.zip"
    os.mkfifo(pipe)
    assert refuse(pipe).code == "not_an_archive"
