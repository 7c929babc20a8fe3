"""Python sources of a document: a submission's stored archive, an instructor's known solution or starter code
(an archive or a folder, through intake's checks), and the built-in reference (tinytorch_reference/tinytorch).

Only regular `.py` files under the package count; a file's bytes are read with errors replaced (a file that is not
UTF-8 is still compared), and at most MAX_READ bytes of it.

    with submission_sources(sha256) as files: ...        # {"tinytorch/core/tensor.py": text}
    sources = reference_sources()
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import tinytorch_reference

from ..intake import ArchiveStore, unpack_submission
from ..settings import get_settings

MAX_READ = 512 * 1024
REFERENCE_LABEL = "tinytorch_reference"


def package_sources(root: Path) -> dict[str, str]:
    """{path from `root`: text} of the regular .py files under root/tinytorch (links and others skipped)."""
    package = root / "tinytorch"
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as handle:
            data = handle.read(MAX_READ)
        found[path.relative_to(root).as_posix()] = data.decode("utf-8", errors="replace")
    return found


def digest(sources: dict[str, str]) -> str:
    hashed = hashlib.sha256()
    for path in sorted(sources):
        hashed.update(path.encode() + b"\0" + sources[path].encode("utf-8", errors="replace") + b"\0")
    return hashed.hexdigest()


@contextmanager
def unpacked(upload: Path) -> Iterator[Path]:
    """`upload` (zip, tar, tar.gz or a folder) unpacked under intake's rules into a temporary folder holding
    tinytorch/; an IntakeError names what is wrong with it."""
    scratch = Path(tempfile.mkdtemp(prefix="grader-similarity-"))
    try:
        yield unpack_submission(upload, scratch / "package").root
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def submission_sources(archive_sha256: str) -> Iterator[dict[str, str]]:
    with unpacked(ArchiveStore(get_settings().archives).path_of(archive_sha256)) as root:
        yield package_sources(root)


def reference_sources() -> dict[str, str]:
    return package_sources(Path(tinytorch_reference.__file__).resolve().parent)


def source_dir(source_id: int) -> Path:
    """Where a known solution's or starter code's files are kept (the data dir; no route serves it to students)."""
    return get_settings().data_dir / "similarity" / "sources" / str(source_id)
