"""Accepted archives, stored by the sha256 of their bytes: `root/ab/cdef...` (the digest split after 2 chars).

A stored file is complete or absent, never partial: it is written to a temporary name in the same folder,
fsynced, then renamed into place, and the folder is fsynced so the new name survives a crash. Stored files are
read-only (0444): an archive's name is its content, so it must never change.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

_DIGEST = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
STORED_MODE = 0o444


class ArchiveStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_of(self, sha256: str) -> Path:
        # The digest often comes from a URL or a database row: validate it before it becomes a path.
        if not isinstance(sha256, str) or not _DIGEST.fullmatch(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def put(self, path: Path) -> str:
        """Store the file at `path`; return its sha256. Identical content is stored once."""
        with open(path, "rb") as source:
            digest = _sha256(source)
            if self.exists(digest):
                return digest
            source.seek(0)
            return self._write(source)

    def _write(self, source: BinaryIO) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        # The temp file lives in the store root (same file system as every shard), so the final step is a
        # rename, not a copy.
        fd, temp_name = tempfile.mkstemp(prefix=".incoming-", dir=self.root)
        temp = Path(temp_name)
        try:
            # Hash what we write, not what we read earlier: the source may have changed in between.
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fchmod(out.fileno(), STORED_MODE)
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            final = self.path_of(sha256)
            final.parent.mkdir(exist_ok=True)
            # If a concurrent put of the same bytes got there first, this replaces its file with an
            # identical one in one atomic step: readers see one complete file or the other.
            os.replace(temp, final)
            _fsync_dir(final.parent)
            return sha256
        finally:
            temp.unlink(missing_ok=True)


def _sha256(source: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
