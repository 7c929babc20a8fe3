"""Uploads intake must accept, and what the clean folder looks like afterwards."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.intake import ArchiveFormat, IntakeLimits, Submission, unpack_submission
from tests.fixtures.hostile.builders import (
    PACKAGE,
    make_folder,
    make_tar,
    make_tar_files,
    make_zip,
    package,
    tar_file,
)

Builder = Callable[[Path, dict[str, bytes]], Path]
Unpack = Callable[..., Submission]  # the `unpack` fixture (conftest.py)

FORMATS: dict[str, tuple[str, Builder, ArchiveFormat]] = {
    "zip": ("upload.zip", make_zip, ArchiveFormat.ZIP),
    "tar.gz": ("upload.tar.gz", make_tar_files, ArchiveFormat.TAR_GZ),
    "tgz": ("upload.tgz", make_tar_files, ArchiveFormat.TAR_GZ),
    "tar": ("upload.tar", lambda p, f: make_tar_files(p, f, compressed=False), ArchiveFormat.TAR),
    "folder": ("upload", make_folder, ArchiveFormat.FOLDER),
}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def clean(files: dict[str, bytes], prefix: str = "") -> dict[str, bytes]:
    lead = f"{prefix}/" if prefix else ""
    return {name.removeprefix(lead): data for name, data in files.items() if name.startswith(lead + "tinytorch/")}


@pytest.mark.parametrize("kind", FORMATS)
def test_good_upload_becomes_a_clean_folder(kind: str, inbox: Path, unpack: Unpack) -> None:
    filename, build, fmt = FORMATS[kind]
    source = build(inbox / filename, PACKAGE)
    submission = unpack(source)
    assert submission.format is fmt
    assert submission.package_path.as_posix() == "tinytorch"
    assert submission.package_dir == submission.root / "tinytorch"
    assert [p.name for p in submission.root.iterdir()] == ["tinytorch"]
    assert tree(submission.root) == PACKAGE
    assert submission.file_count == len(PACKAGE)
    assert submission.total_bytes == sum(map(len, PACKAGE.values()))
    if fmt is not ArchiveFormat.FOLDER:
        assert submission.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", FORMATS)
def test_package_one_folder_down(kind: str, inbox: Path, unpack: Unpack) -> None:
    filename, build, _ = FORMATS[kind]
    files = package("myproj", extra={"myproj/README.md": b"# notes\n", "myproj/notebooks/01.ipynb": b"{}"})
    submission = unpack(build(inbox / filename, files))
    assert submission.package_path.as_posix() == "myproj/tinytorch"
    assert [p.name for p in submission.root.iterdir()] == ["tinytorch"]
    assert tree(submission.root) == clean(files, "myproj")
    assert "myproj/README.md" in submission.ignored


def test_package_without_init_is_a_namespace_package(inbox: Path, unpack: Unpack) -> None:
    """The course's export may leave tinytorch/__init__.py out: Python imports such a folder as a namespace
    package, so it is accepted; an __init__.py-less folder is picked only when no folder has one."""
    files = {"tinytorch/core/tensor.py": b"class Tensor: pass\n", "tinytorch/core/layers.py": b""}
    filename, build, _ = FORMATS["zip"]
    submission = unpack(build(inbox / filename, files))
    assert submission.package_path.as_posix() == "tinytorch"
    assert tree(submission.root) == files


def test_folder_digest_names_the_package_not_the_path(tmp_path: Path, unpack: Unpack) -> None:
    first = unpack(make_folder(tmp_path / "a", PACKAGE))
    second_out = tmp_path / "again"
    second_out.mkdir()
    second = unpack_submission(make_folder(tmp_path / "b", package(extra={"notes.txt": b"x"})), second_out / "s")
    assert first.sha256 == second.sha256
    changed = unpack_submission(make_folder(tmp_path / "c", {**PACKAGE, "tinytorch/x.py": b"1"}), second_out / "t")
    assert changed.sha256 != first.sha256


def test_junk_is_skipped_not_refused(inbox: Path, unpack: Unpack) -> None:
    junk = {
        "__MACOSX/tinytorch/._tensor.py": b"\0\5\26\7",
        "__MACOSX/._tinytorch": b"\0",
        ".DS_Store": b"\0\0\0\1Bud1",
        "tinytorch/.DS_Store": b"\0",
        "tinytorch/core/._tensor.py": b"\0",
        "tinytorch/__pycache__/__init__.cpython-311.pyc": b"\xa7\r\r\n",
        "tinytorch/core/tensor.cpython-311.pyc": b"\xa7\r\r\n",
        "tinytorch/core/old.pyo": b"",
        "tinytorch/.ipynb_checkpoints/x-checkpoint.py": b"",
        ".git/HEAD": b"ref: refs/heads/main\n",
        "Thumbs.db": b"",
    }
    submission = unpack(make_zip(inbox / "upload.zip", {**PACKAGE, **junk}))
    assert tree(submission.root) == PACKAGE
    assert set(junk) <= set(submission.ignored)


def test_junk_in_a_folder_is_not_descended(tmp_path: Path, unpack: Unpack) -> None:
    source = make_folder(tmp_path / "work", PACKAGE)
    git = source / ".git" / "objects"
    git.mkdir(parents=True)
    os.symlink("/etc/passwd", git / "link")  # would be refused anywhere else
    (source / "tinytorch" / "__pycache__").mkdir()
    (source / "tinytorch" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    submission = unpack(source)
    assert tree(submission.root) == PACKAGE


def test_nested_archives_are_plain_files(inbox: Path, unpack: Unpack) -> None:
    inner_zip = make_zip(inbox / "inner.zip", package()).read_bytes()
    inner_tgz = make_tar_files(inbox / "inner.tgz", package()).read_bytes()
    files = {**PACKAGE, "tinytorch/data/inner.zip": inner_zip, "tinytorch/data/inner.tgz": inner_tgz}
    submission = unpack(make_zip(inbox / "upload.zip", files))
    assert tree(submission.root) == files
    assert not (submission.package_dir / "data" / "tinytorch").exists()


@pytest.mark.parametrize(
    ("filename", "build", "fmt"),
    [
        ("upload.zip", make_tar_files, ArchiveFormat.TAR_GZ),
        ("upload.tar.gz", make_zip, ArchiveFormat.ZIP),
        ("upload", lambda p, f: make_tar_files(p, f, compressed=False), ArchiveFormat.TAR),
        ("upload.exe", make_zip, ArchiveFormat.ZIP),
    ],
)
def test_format_comes_from_content_not_name(
    filename: str, build: Builder, fmt: ArchiveFormat, inbox: Path, unpack: Unpack
) -> None:
    assert unpack(build(inbox / filename, PACKAGE)).format is fmt


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2])
def test_zip_compression_methods(method: int, inbox: Path, unpack: Unpack) -> None:
    files = {**PACKAGE, "tinytorch/big.py": b"x = 1\n" * 30_000}
    path = inbox / "upload.zip"
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    assert tree(unpack(path).root) == files


def test_zip_with_data_descriptors(inbox: Path, unpack: Unpack) -> None:
    """Zips streamed to a pipe put sizes after the data (flag bit 3); the central directory still has them."""

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, chunk: bytes) -> int:  # type: ignore[override]
            self.data += chunk
            return len(chunk)

    pipe = Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in PACKAGE.items():
            archive.writestr(name, data)
    path = inbox / "streamed.zip"
    path.write_bytes(bytes(pipe.data))
    with zipfile.ZipFile(path) as check:
        assert all(info.flag_bits & 0x08 for info in check.infolist())
    assert tree(unpack(path).root) == PACKAGE


def test_tar_of_dot(inbox: Path, unpack: Unpack) -> None:
    """`tar czf upload.tgz .` names members "./", "./tinytorch/", "./tinytorch/__init__.py"."""
    root = tarfile.TarInfo("./")
    root.type = tarfile.DIRTYPE
    members = [(root, b"")] + [tar_file(f"./{name}", data) for name, data in PACKAGE.items()]
    assert tree(unpack(make_tar(inbox / "upload.tgz", members)).root) == PACKAGE


def test_modes_are_normalised(inbox: Path, unpack: Unpack) -> None:
    """setuid/setgid/sticky and execute bits are dropped, not refused: files 0644, folders 0755."""
    sticky = tarfile.TarInfo("tinytorch/shared")
    sticky.type, sticky.mode = tarfile.DIRTYPE, 0o1777
    members = [
        tar_file("tinytorch/__init__.py", b"", mode=0o4755),
        tar_file("tinytorch/run.sh", b"#!/bin/sh\n", mode=0o6777),
        (sticky, b""),
        tar_file("tinytorch/shared/x.py", b"", mode=0o2600),
    ]
    submission = unpack(make_tar(inbox / "upload.tgz", members))
    modes = {
        p.relative_to(submission.root).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in submission.root.rglob("*")
    }
    assert modes == {
        "tinytorch": 0o755,
        "tinytorch/__init__.py": 0o644,
        "tinytorch/run.sh": 0o644,
        "tinytorch/shared": 0o755,
        "tinytorch/shared/x.py": 0o644,
    }
    assert stat.S_IMODE(submission.root.stat().st_mode) == 0o755


def test_zip_setuid_member_is_written_0644(inbox: Path, unpack: Unpack) -> None:
    source = make_zip(inbox / "upload.zip", PACKAGE, modes={"tinytorch/__init__.py": stat.S_IFREG | 0o7777})
    submission = unpack(source)
    assert stat.S_IMODE((submission.package_dir / "__init__.py").stat().st_mode) == 0o644


def test_explicit_and_empty_folders(inbox: Path, unpack: Unpack) -> None:
    source = make_zip(inbox / "upload.zip", PACKAGE, dirs=["tinytorch/", "tinytorch/core/", "tinytorch/empty/"])
    submission = unpack(source)
    assert (submission.package_dir / "empty").is_dir()
    assert tree(submission.root) == PACKAGE


def test_empty_destination_folder_is_fine(inbox: Path, outbox: Path) -> None:
    dest = outbox / "dest"
    dest.mkdir()
    submission = unpack_submission(make_zip(inbox / "upload.zip", PACKAGE), dest)
    assert tree(submission.root) == PACKAGE


def test_non_empty_destination_is_left_alone(inbox: Path, outbox: Path) -> None:
    dest = outbox / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        unpack_submission(make_zip(inbox / "upload.zip", PACKAGE), dest)
    assert [p.name for p in outbox.iterdir()] == ["dest"]
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_limits_are_inclusive(inbox: Path, unpack: Unpack) -> None:
    """A file of exactly max_file_bytes, and exactly max_files members, are accepted."""
    files = {**PACKAGE, "tinytorch/weights.bin": bytes(1000)}
    limits = IntakeLimits(max_files=len(files), max_file_bytes=1000)
    assert unpack(make_zip(inbox / "upload.zip", files), limits).file_count == len(files)


def test_non_ascii_names(inbox: Path, unpack: Unpack) -> None:
    files = {**PACKAGE, "tinytorch/données.py": b"x = 1\n", "tinytorch/模型.py": b"y = 2\n"}
    assert tree(unpack(make_zip(inbox / "upload.zip", files)).root) == files
    assert tree(unpack_submission(make_tar_files(inbox / "upload.tgz", files), inbox.parent / "t").root) == files


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_long_tar_names(fmt: int, inbox: Path, unpack: Unpack) -> None:
    """Names over ustar's 100 bytes travel in a GNU long-name or pax header; both are fine under our limits."""
    files = {**PACKAGE, "tinytorch/" + "m" * 200 + ".py": b"", "tinytorch/" + "/".join(["sub"] * 40) + "/x.py": b""}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=fmt) as archive:
        for name, data in files.items():
            info, _ = tar_file(name, data)
            archive.addfile(info, io.BytesIO(data))
    path = inbox / "upload.tgz"
    path.write_bytes(buffer.getvalue())
    assert tree(unpack(path, IntakeLimits(max_depth=45)).root) == files
