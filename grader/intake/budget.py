"""Counting members and bytes as they stream past, and refusing at the first byte over a limit."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

from grader.intake.errors import FileTooLarge, TooManyFiles, TotalTooLarge, quote_name
from grader.intake.limits import IntakeLimits
from grader.intake.members import Readable

CHUNK = 64 * 1024
FILE_MODE = 0o644


class Budget:
    """What this upload has used so far. Only counts made here are trusted; archive headers are not."""

    def __init__(self, limits: IntakeLimits) -> None:
        self.limits = limits
        self.members = 0
        self.total_bytes = 0

    def admit(self, name: str) -> None:
        self.members += 1
        if self.members > self.limits.max_files:
            raise TooManyFiles(
                f"the archive has more than {self.limits.max_files} members (the limit); "
                f"member {quote_name(name)} is number {self.members}",
                name,
            )

    def write_file(self, src: Readable, path: os.PathLike[str] | str, name: str,
                   tap: Callable[[bytes], None] | None = None) -> tuple[int, str]:
        """Stream `src` into a new file at `path` (and each written chunk to `tap`, if any); return (size, sha256 hex).

        Each chunk is checked against the per-file and total limits before it is written, so a bomb costs
        at most one chunk beyond the limit in memory and nothing beyond the limit on disk. The file is
        created 0644 whatever mode the archive asked for: no setuid/setgid/sticky or execute bits survive.
        """
        # O_EXCL|O_NOFOLLOW: never write through something that was already there (we create no links, and
        # duplicate names were refused earlier; this is the last line if either ever fails).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)  # the umask may have taken bits away; be exact

            def sink(chunk: bytes) -> None:
                _write_all(fd, chunk)
                if tap is not None:
                    tap(chunk)

            return self.count_file(src, name, sink=sink)
        finally:
            os.close(fd)

    def count_file(self, src: Readable, name: str, sink: Callable[[bytes], None] | None = None) -> tuple[int, str]:
        """Read `src` to its end under the per-file and total limits, handing each chunk to `sink` (if any)
        only after it passed them; return (size, sha256 hex)."""
        limits = self.limits
        digest = hashlib.sha256()
        size = 0
        while chunk := src.read(CHUNK):
            size += len(chunk)
            if size > limits.max_file_bytes:
                raise FileTooLarge(
                    f"member {quote_name(name)} decompresses to more than {limits.max_file_bytes} bytes "
                    "(the per-file limit)",
                    name,
                )
            if self.total_bytes + len(chunk) > limits.max_total_bytes:
                raise TotalTooLarge(
                    f"the archive decompresses to more than {limits.max_total_bytes} bytes (the limit), "
                    f"reached while unpacking member {quote_name(name)}",
                    name,
                )
            self.total_bytes += len(chunk)
            digest.update(chunk)
            if sink is not None:
                sink(chunk)
        return size, digest.hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
