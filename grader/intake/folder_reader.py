"""A folder on disk as a stream of members, so `grader grade DIR` goes through the same rules as an upload.

Nothing is followed: a symlink inside the folder is reported as a symlink member (and refused), and files
are opened with O_NOFOLLOW and checked again after opening, so a file swapped for a link or a FIFO between
listing and reading is caught too. Junk folders (.git, __pycache__, ...) are not descended into.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from grader.intake.errors import SpecialMember, SymlinkMember, quote_name
from grader.intake.limits import IntakeLimits
from grader.intake.members import Member
from grader.intake.names import is_junk

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def iter_folder_members(root: Path, limits: IntakeLimits) -> Iterator[Member]:
    pending: list[tuple[str, ...]] = [()]
    while pending:
        relative = pending.pop()
        with os.scandir(root.joinpath(*relative)) as listing:
            # One more than the limit is enough to be refused; never list a million-entry folder in full.
            entries = sorted(islice(listing, limits.max_files + 1), key=lambda entry: entry.name)
        children: list[tuple[str, ...]] = []
        for entry in entries:
            parts = (*relative, entry.name)
            name = "/".join(parts)
            if entry.is_symlink():
                yield Member(name, "symlink", detail=f"to {quote_name(os.readlink(entry.path))}")
            elif entry.is_dir(follow_symlinks=False):
                yield Member(name, "dir")
                if not is_junk(parts):
                    children.append(parts)
            elif entry.is_file(follow_symlinks=False):
                yield Member(name, "file", open=lambda path=entry.path, name=name: _open_regular(path, name))
            else:
                yield Member(name, "special", detail=_describe(entry.stat(follow_symlinks=False).st_mode))
        # Reversed so the stack pops folders in name order: the same order every run, whatever the disk.
        pending.extend(reversed(children))


def _open_regular(path: str, name: str) -> BinaryIO:
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a symlink since it was listed
            raise SymlinkMember(f"member {quote_name(name)} is a symbolic link", name) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SpecialMember(f"member {quote_name(name)} is {_describe(mode)}, not a regular file", name)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _describe(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return f"an unknown file type (mode {stat.S_IFMT(mode):#o})"
