"""`unpack_submission`: an upload (archive or folder) in, a clean submission folder out, or an IntakeError.

Everything is built in a scratch folder beside `dest` (same file system, so the last step is one rename)
and the scratch folder is removed whatever happens: a refused upload leaves nothing behind, and a
half-unpacked one is never visible at `dest`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from grader.intake.compile_check import CompileProblem, compile_problems
from grader.intake.detect import HEAD_BYTES, ArchiveFormat, detect_format
from grader.intake.errors import ArchiveTooLarge, NotAnArchive
from grader.intake.extract import DIR_MODE, MAX_IGNORED_LISTED, Extracted, extract_members
from grader.intake.folder_reader import iter_folder_members
from grader.intake.limits import IntakeLimits
from grader.intake.members import Member
from grader.intake.names import Parts
from grader.intake.package import PACKAGE, locate_package
from grader.intake.tar_reader import iter_tar_members
from grader.intake.zip_reader import iter_zip_members

_HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Listing:
    """What an upload holds, once every intake rule has passed."""

    # Where the package was inside the upload: "tinytorch" or e.g. "myproj/tinytorch".
    package_path: PurePosixPath
    format: ArchiveFormat
    # sha256 of the uploaded bytes; for a folder, of a canonical listing of the clean package (see
    # `_tree_digest`), so the same package handed in twice has the same digest either way.
    sha256: str
    # Files and bytes in the clean package (junk and anything outside the package are not counted).
    file_count: int
    total_bytes: int
    # Names we skipped or dropped (junk, files beside the package), for the student's report; capped.
    ignored: tuple[str, ...]
    # The package's Python files that do not compile (compile_check.py); not a refusal: the upload is graded,
    # and the student is told at once which file and line will fail.
    compile_errors: tuple[CompileProblem, ...]


@dataclass(frozen=True)
class Submission(Listing):
    # The folder that contains `tinytorch/` and nothing else: what goes on the sandbox's import path.
    root: Path

    @property
    def package_dir(self) -> Path:
        return self.root / PACKAGE


def check_submission(archive: Path, limits: IntakeLimits | None = None) -> Listing:
    """Every rule of `unpack_submission`, every byte decompressed and counted, nothing written.

    The API answers an upload with this (no file per member to create and delete, so it stays fast under
    load) and the worker unpacks the stored archive with `unpack_submission`, which applies the same rules
    again: what passed here unpacks there."""
    fmt, digest, extracted = _read(Path(archive), None, limits or IntakeLimits())
    return _listing(fmt, digest, extracted, locate_package(extracted.names))


def unpack_submission(archive: Path, dest: Path, limits: IntakeLimits | None = None) -> Submission:
    """Unpack `archive` (zip, tar.gz, tar, or a folder) into `dest` as `dest/tinytorch/`.

    `dest` must not exist, or be an empty folder; its parent must exist. Raises an `IntakeError` subclass
    for anything wrong with the upload, and OSError/FileExistsError for problems on our side.
    """
    limits = limits or IntakeLimits()
    archive, dest = Path(archive), Path(dest)
    _check_dest(dest)
    scratch = Path(tempfile.mkdtemp(prefix=f".{dest.name}.intake-", dir=dest.parent))
    try:
        tree = scratch / "tree"
        fmt, digest, extracted = _read(archive, tree, limits)
        package = locate_package(extracted.names)
        out = scratch / "out"
        out.mkdir(mode=DIR_MODE)
        os.chmod(out, DIR_MODE)
        tree.joinpath(*package).rename(out / PACKAGE)
        submission = Submission(**vars(_listing(fmt, digest, extracted, package)), root=dest)
        # rename(2) replaces an empty folder and fails on a non-empty one, so a racing writer cannot be
        # clobbered.
        out.rename(dest)
        return submission
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _read(archive: Path, tree: Path | None, limits: IntakeLimits) -> tuple[ArchiveFormat, str, Extracted]:
    """The upload's format, its digest ("" for a folder) and its members, written under `tree` if given."""
    if archive.is_dir():
        return ArchiveFormat.FOLDER, "", extract_members(iter_folder_members(archive, limits), tree, limits)
    with _open_upload(archive) as fp:
        size, digest = _hash_upload(fp, limits)
        fp.seek(0)
        fmt = detect_format(fp.read(HEAD_BYTES))
        fp.seek(0)
        return fmt, digest, extract_members(_members(fmt, fp, size, limits), tree, limits)


def _listing(fmt: ArchiveFormat, digest: str, extracted: Extracted, package: Parts) -> Listing:
    inside = len(package)
    files = {parts[inside:]: meta for parts, meta in extracted.files.items() if parts[:inside] == package}
    return Listing(
        package_path=PurePosixPath(*package),
        format=fmt,
        sha256=digest or _tree_digest(files),
        file_count=len(files),
        total_bytes=sum(size for size, _ in files.values()),
        ignored=_ignored(extracted, package),
        compile_errors=compile_problems(extracted.sources.of_package(package)),
    )


def _check_dest(dest: Path) -> None:
    if not dest.parent.is_dir():
        raise FileNotFoundError(f"the parent of the destination {dest} does not exist")
    if dest.is_symlink() or (dest.exists() and (not dest.is_dir() or any(dest.iterdir()))):
        raise FileExistsError(f"the destination {dest} exists and is not an empty folder")


def _open_upload(path: Path) -> BinaryIO:
    # O_NONBLOCK so that a FIFO handed in as an "archive" cannot hang us before we look at what it is.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotAnArchive(f"the upload {path.name!r} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _hash_upload(fp: BinaryIO, limits: IntakeLimits) -> tuple[int, str]:
    """Size and sha256 of the upload, refusing it past `max_archive_bytes` whatever stat says."""
    digest = hashlib.sha256()
    size = 0
    while chunk := fp.read(_HASH_CHUNK):
        size += len(chunk)
        if size > limits.max_archive_bytes:
            raise ArchiveTooLarge(
                f"the upload is larger than {limits.max_archive_bytes} bytes (the limit for a compressed archive)"
            )
        digest.update(chunk)
    return size, digest.hexdigest()


def _members(fmt: ArchiveFormat, fp: BinaryIO, size: int, limits: IntakeLimits) -> Iterator[Member]:
    if fmt is ArchiveFormat.ZIP:
        return iter_zip_members(fp, size, limits)
    return iter_tar_members(fp, compressed=fmt is ArchiveFormat.TAR_GZ, limits=limits)


def _tree_digest(files: dict[Parts, tuple[int, str]]) -> str:
    digest = hashlib.sha256()
    for parts in sorted(files):
        size, file_digest = files[parts]
        digest.update(f"{'/'.join(parts)}\0{size}\0{file_digest}\n".encode())
    return digest.hexdigest()


def _ignored(extracted: Extracted, package: Parts) -> tuple[str, ...]:
    outside = sorted("/".join(parts) for parts in extracted.files if parts[: len(package)] != package)
    return tuple([*extracted.ignored, *outside][:MAX_IGNORED_LISTED])
