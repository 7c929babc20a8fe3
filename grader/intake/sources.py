"""The package's Python files, kept as their bytes stream past intake, for the compile check.

Intake reads every byte of an upload anyway (to count it); the files that may belong to the package are kept
on the way, so the API can compile them without unpacking anything. Kept within caps, because compiling
costs far more than reading (compile_check.py has the figures): a file over MAX_FILE_BYTES, or one that would
take the total over MAX_TOTAL_BYTES, is not kept and so not checked before grading (its problems still show
test by test). A TinyTorch module is 1-15 KB; the reference package is 115 KB in all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.intake.names import Parts
from grader.intake.package import MAX_PACKAGE_DEPTH, PACKAGE

KiB = 1024
MAX_FILE_BYTES = 256 * KiB
MAX_TOTAL_BYTES = 512 * KiB


def may_be_package_source(parts: Parts) -> bool:
    """A .py file under a `tinytorch` folder where `package.locate_package` looks for one."""
    return parts[-1].endswith(".py") and PACKAGE in parts[: min(MAX_PACKAGE_DEPTH, len(parts) - 1)]


class Capture:
    """A sink for one file's chunks (`Budget.count_file`), keeping them up to `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._chunks: list[bytes] | None = []
        self._size = 0

    def __call__(self, chunk: bytes) -> None:
        if self._chunks is None:
            return
        self._size += len(chunk)
        if self._size > self._limit:
            self._chunks = None  # too big to check: let go of what was kept
            return
        self._chunks.append(chunk)

    @property
    def data(self) -> bytes | None:
        """The whole file, or None if it went over the limit."""
        return None if self._chunks is None else b"".join(self._chunks)


@dataclass
class SourceKeeper:
    kept: dict[Parts, bytes] = field(default_factory=dict)
    total: int = 0

    def capture(self, parts: Parts) -> Capture | None:
        """A sink for this file's bytes, or None when the compile check does not read it."""
        if not may_be_package_source(parts):
            return None
        return Capture(min(MAX_FILE_BYTES, MAX_TOTAL_BYTES - self.total))

    def keep(self, parts: Parts, capture: Capture) -> None:
        data = capture.data
        if data is not None:
            self.kept[parts] = data
            self.total += len(data)

    def of_package(self, package: Parts) -> dict[str, bytes]:
        """The kept files of the package at `package`, by their path from the folder holding it
        ("tinytorch/core/layers.py")."""
        inside = len(package)
        return {"/".join(parts[inside - 1 :]): data for parts, data in self.kept.items() if parts[:inside] == package}
