"""One shape for a member of any source (zip, tar, folder), so the rules are written once, in `extract`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

MemberKind = Literal["file", "dir", "symlink", "hardlink", "special"]


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


@dataclass(frozen=True)
class Member:
    # The name exactly as the source spells it; `names.safe_parts` decides what it may become.
    name: str
    kind: MemberKind
    # Files only. Readers hand out decompressed bytes as produced, without a length: sizes are counted
    # by whoever reads, never taken from a header.
    open: Callable[[], AbstractContextManager[Readable]] | None = None
    # For messages: a link's target, a tar type flag, a device's kind.
    detail: str = ""
