"""The rules, applied to members from any source, writing accepted ones under a scratch tree (or nowhere).

Order per member: count it, check its name, skip it if junk, refuse links and special files, check it
against every name seen so far, then stream its bytes under the size budget (keeping those of the package's
Python files, within sources.py's caps, for the compile check). Nothing about a member is written before all
of its metadata has passed. With no tree the same rules run and the bytes are only counted: the API checks
an upload that way (no file system work per member) and the worker unpacks it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.budget import Budget
from grader.intake.errors import BadName, HardlinkMember, SpecialMember, SymlinkMember, quote_name
from grader.intake.limits import IntakeLimits
from grader.intake.members import Member
from grader.intake.names import NameRegistry, Parts, is_junk, safe_parts
from grader.intake.sources import SourceKeeper

DIR_MODE = 0o755
MAX_IGNORED_LISTED = 100


@dataclass
class Extracted:
    tree: Path | None
    names: NameRegistry = field(default_factory=NameRegistry)
    # Written files: parts -> (size, sha256 hex).
    files: dict[Parts, tuple[int, str]] = field(default_factory=dict)
    # Junk we skipped, by original name (the first MAX_IGNORED_LISTED of them).
    ignored: list[str] = field(default_factory=list)
    # The bytes of the files that may be the package's Python, for the compile check (within its caps).
    sources: SourceKeeper = field(default_factory=SourceKeeper)


def extract_members(members: Iterable[Member], tree: Path | None, limits: IntakeLimits) -> Extracted:
    """Write every acceptable member under `tree` (which must not exist), or raise at the first bad one.
    tree=None: apply every rule and read every byte, write nothing."""
    if tree is not None:
        tree.mkdir(mode=DIR_MODE)
        os.chmod(tree, DIR_MODE)
    result = Extracted(tree)
    budget = Budget(limits)
    made: set[Parts] = {()}
    for member in members:
        budget.admit(member.name)
        parts = safe_parts(member.name, limits)
        if is_junk(parts):
            if len(result.ignored) < MAX_IGNORED_LISTED:
                result.ignored.append(member.name)
            continue
        _refuse_kind(member)
        if not parts:
            if member.kind == "dir":
                continue  # "./", the archive's own root
            raise BadName(f"member {quote_name(member.name)} has an empty name", member.name)
        kind = "dir" if member.kind == "dir" else "file"
        result.names.add(parts, kind, member.name)
        if tree is not None:
            _make_dirs(tree, parts if kind == "dir" else parts[:-1], made)
        if kind == "file" and member.open is not None:
            capture = result.sources.capture(parts)
            with member.open() as source:
                if tree is None:
                    result.files[parts] = budget.count_file(source, member.name, sink=capture)
                else:
                    result.files[parts] = budget.write_file(source, tree.joinpath(*parts), member.name, tap=capture)
            if capture is not None:
                result.sources.keep(parts, capture)
    return result


def _refuse_kind(member: Member) -> None:
    quoted = quote_name(member.name)
    detail = f" {member.detail}" if member.detail else ""
    if member.kind == "symlink":
        raise SymlinkMember(
            f"member {quoted} is a symbolic link{detail}; links are not accepted, include the file itself",
            member.name,
        )
    if member.kind == "hardlink":
        raise HardlinkMember(
            f"member {quoted} is a hard link{detail}; links are not accepted, include the file itself",
            member.name,
        )
    if member.kind == "special":
        what = member.detail or "a special file"
        raise SpecialMember(f"member {quoted} is {what}; only regular files and folders are accepted", member.name)


def _make_dirs(tree: Path, parts: Parts, made: set[Parts]) -> None:
    """Create each missing folder along `parts`, 0755 whatever the archive said (no setgid/sticky bits)."""
    for depth in range(1, len(parts) + 1):
        prefix = parts[:depth]
        if prefix in made:
            continue
        path = tree.joinpath(*prefix)
        # The registry has already refused a file at this path, so the only thing that can be here is a
        # folder we made; exist_ok would hide a bug, so it is not used.
        path.mkdir(mode=DIR_MODE)
        os.chmod(path, DIR_MODE)
        made.add(prefix)
