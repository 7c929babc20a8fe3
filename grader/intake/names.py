"""Member names: which are safe to write, which are junk to skip, and which clash with one another.

A member name is only ever turned into a path after `safe_parts` has accepted it, and the path is built
from the returned components, never from the raw name, so nothing the archive says can point outside the
folder we build.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from grader.intake.errors import (
    BadName,
    CaseCollision,
    DuplicateName,
    NameTooLong,
    PathConflict,
    PathTraversal,
    TooDeep,
    quote_name,
)
from grader.intake.limits import IntakeLimits

Parts = tuple[str, ...]
Kind = Literal["file", "dir"]

_DRIVE = re.compile(r"^[A-Za-z]:")
# C0 controls and DEL, plus C1 controls: none belongs in a source file's name, and all of them can hide
# the real name in a terminal or a log line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Folders that editors, VCSs and OSes leave behind; skipped wherever they appear.
JUNK_DIRS = frozenset(
    {
        "__MACOSX",
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".ipynb_checkpoints",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".idea",
        ".vscode",
    }
)
JUNK_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
JUNK_SUFFIXES = (".pyc", ".pyo")


def safe_parts(name: str, limits: IntakeLimits) -> Parts:
    """The components of an archive member's name, or an error naming the member.

    "." and empty components are dropped ("./tinytorch//x.py" is "tinytorch/x.py": `tar czf x.tgz .`
    writes names like that). An empty result means the archive's own root ("./").
    """
    quoted = quote_name(name)
    if _CONTROL.search(name):
        raise BadName(f"member {quoted} has a control character in its name", name)
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        # tarfile and os.scandir decode undecodable bytes as lone surrogates.
        raise BadName(f"member {quoted} has a name that is not valid UTF-8", name) from None
    if "\\" in name:
        raise PathTraversal(f"member {quoted} has a backslash in its name (a Windows path separator)", name)
    if name.startswith("/"):
        raise PathTraversal(f"member {quoted} has an absolute path", name)
    raw = name.split("/")
    for component in raw:
        if component == "..":
            raise PathTraversal(f"member {quoted} has a '..' component", name)
        if _DRIVE.match(component):
            raise PathTraversal(f"member {quoted} has a drive letter", name)
    if len(encoded) > limits.max_path_length:
        raise NameTooLong(
            f"member {quoted} has a name of {len(encoded)} bytes; the limit is {limits.max_path_length}", name
        )
    parts = tuple(c for c in raw if c not in ("", "."))
    for component in parts:
        size = len(component.encode("utf-8"))
        if size > limits.max_name_length:
            raise NameTooLong(
                f"member {quoted} has a path component of {size} bytes; the limit is {limits.max_name_length}",
                name,
            )
    if len(parts) > limits.max_depth:
        raise TooDeep(f"member {quoted} is nested {len(parts)} levels deep; the limit is {limits.max_depth}", name)
    return parts


def is_junk(parts: Parts) -> bool:
    """OS and tool litter: never written, never read, never a reason to refuse an upload."""
    if any(part in JUNK_DIRS for part in parts):
        return True
    leaf = parts[-1] if parts else ""
    return leaf in JUNK_FILES or leaf.startswith("._") or leaf.endswith(JUNK_SUFFIXES)


def _fold(parts: Parts) -> Parts:
    # NFC first: macOS writes names decomposed (NFD), so "é" can arrive as two different byte strings.
    return tuple(unicodedata.normalize("NFC", p).casefold() for p in parts)


@dataclass
class NameRegistry:
    """Every path the clean folder will hold, so clashes are refused before anything is written twice.

    Keys are case-folded: an upload whose names differ only by case would unpack differently on the
    student's laptop and on our server, so it is refused rather than guessed at.
    """

    _seen: dict[Parts, tuple[Parts, Kind, str]] = field(default_factory=dict)
    files: set[Parts] = field(default_factory=set)
    dirs: set[Parts] = field(default_factory=set)

    def add(self, parts: Parts, kind: Kind, member: str) -> None:
        for depth in range(1, len(parts)):
            self._register(parts[:depth], "dir", member)
        self._register(parts, kind, member)

    def _register(self, parts: Parts, kind: Kind, member: str) -> None:
        key = _fold(parts)
        previous = self._seen.get(key)
        if previous is None:
            self._seen[key] = (parts, kind, member)
            (self.files if kind == "file" else self.dirs).add(parts)
            return
        old_parts, old_kind, old_member = previous
        quoted, old_quoted = quote_name(member), quote_name(old_member)
        if old_parts != parts:
            raise CaseCollision(
                f"member {quoted} and member {old_quoted} differ only by upper/lower case "
                f"({quote_name('/'.join(parts))} vs {quote_name('/'.join(old_parts))})",
                member,
            )
        if kind == old_kind == "dir":
            return  # a folder listed twice, or listed after its files: harmless
        if kind == old_kind:
            raise DuplicateName(f"member {quoted} appears twice in the archive", member)
        path = quote_name("/".join(parts))
        raise PathConflict(f"member {quoted} makes {path} both a file and a folder (see {old_quoted})", member)
