"""Host-side folders and mounts of one run, and reading the results back out of /out.

Every run gets a fresh run folder under the work dir (default $TMPDIR/tinytorch-sandbox, overridable with
TINYTORCH_SANDBOX_WORKDIR) with a size-capped tmpfs mounted as its /out: a bind-mounted host folder would have no
size cap (docs/sandbox.md, pitfalls), and a tmpfs is gone without a trace once unmounted. Mounts use mount(2) via ctypes
rather than the mount(8) binary: no process per mount and exact control over the flags.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

from .base import SANDBOX_GID, SANDBOX_UID, SandboxError

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _mount(source: str, target: Path, fstype: str | None, flags: int, data: str | None = None) -> None:
    rc = _libc.mount(
        source.encode(), str(target).encode(), fstype.encode() if fstype else None, flags,
        data.encode() if data else None,
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise SandboxError(f"mount {source} on {target} failed: {os.strerror(err)} (the sandbox must run as root)")


def umount(target: Path) -> None:
    """Detach a mount; lazy so that it can never fail half-way (the run's processes are all dead by now)."""
    if _libc.umount2(str(target).encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):  # EINVAL: not a mount point (any more)
            raise SandboxError(f"umount {target} failed: {os.strerror(err)}")


def mount_tmpfs(target: Path, size_bytes: int, *, nr_inodes: int | None = None, mode: str = "0700") -> None:
    """A tmpfs owned by the sandbox user; its pages are charged to the memory cgroup of whoever writes them."""
    options = f"size={size_bytes},mode={mode},uid={SANDBOX_UID},gid={SANDBOX_GID}"
    if nr_inodes:
        options += f",nr_inodes={nr_inodes}"  # also bounds how long reading /out back can take
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options)
    _mount("none", target, None, MS_PRIVATE)


def bind_readonly(source: Path, target: Path) -> None:
    """Bind `source` read-only at `target` (a bind is made writable first, then remounted read-only)."""
    _mount(str(source), target, None, MS_BIND)
    try:
        _mount("none", target, None, MS_PRIVATE)
        _mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    except SandboxError:
        umount(target)
        raise


def work_root(root: Path | None = None) -> Path:
    """Where run folders go: `root` if the caller chose one (the service: GRADER_SANDBOX_WORKDIR), else
    $TMPDIR/tinytorch-sandbox."""
    return Path(root) if root else Path(tempfile.gettempdir()) / "tinytorch-sandbox"


def new_run_id() -> str:
    # The owner pid is part of the name so that a later reap can tell an orphan (dead owner) from a live run.
    return f"{os.getpid()}-{secrets.token_hex(6)}"


def _checked_root(root: Path | None = None) -> Path:
    """The work dir, refusing one that someone else could have prepared: it lives in a world-writable /tmp by
    default, and root mounting things into a folder (or through a symlink) another user controls is an escalation."""
    root = work_root(root)
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxError(f"work dir {root} must be a real folder owned by uid {os.geteuid()}, writable only by it")
    return root


class RunDir:
    """The run folder: out/ (tmpfs, the sandbox's /out) and whatever else a sandbox adds. Removes it all on close."""

    def __init__(self, run_id: str, out_bytes: int, out_files: int, root: Path | None = None) -> None:
        self.path = _checked_root(root) / f"run-{run_id}"
        self.path.mkdir(mode=0o755)  # 0755: bubblewrap (running as uid 65534) opens mounts through it
        self._mounts: list[Path] = []
        try:
            self.out = self.mkdir("out")
            mount_tmpfs(self.out, out_bytes, nr_inodes=4 * out_files + 64)
            self._mounts.append(self.out)
        except BaseException:
            self.close()
            raise

    def scratch(self, name: str, size_bytes: int) -> Path:
        """A size-capped, noexec tmpfs in the run folder (bubblewrap's /tmp and /dev/shm, as docker mounts them)."""
        path = self.mkdir(name)
        mount_tmpfs(path, size_bytes, mode="1777")
        self._mounts.append(path)
        return path

    def mkdir(self, name: str) -> Path:
        path = self.path / name
        path.mkdir(mode=0o755, parents=True)
        return path

    def bind_readonly(self, source: Path, name: str) -> Path:
        """Bind a host path read-only into the run folder (a host path's parents may be closed to uid 65534)."""
        target = self.path / name
        if Path(source).is_dir():
            target.mkdir(mode=0o755, parents=True)
        else:
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            target.touch(mode=0o644)
        bind_readonly(Path(source), target)
        self._mounts.append(target)
        return target

    def close(self) -> None:
        for mount in reversed(self._mounts):
            umount(mount)
        self._mounts.clear()
        shutil.rmtree(self.path, ignore_errors=True)
        if self.path.exists():
            raise SandboxError(f"could not remove run folder {self.path}")


def read_out_files(out: Path, max_files: int, max_bytes: int) -> tuple[dict[str, bytes], dict[str, str]]:
    """Regular files under `out`, never following a symlink; at most max_files files and max_bytes in total.

    Runs after every process of the run is dead, so nothing can swap a file for a link between check and open; the
    O_NOFOLLOW/fstat checks still make sure a link or a fifo is never opened or waited on.
    """
    files: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    budget = max_bytes
    stack = [""]
    visited = 0
    while stack:
        rel_dir = stack.pop()
        try:
            entries = sorted(os.scandir(out / rel_dir), key=lambda e: e.name)
        except OSError as exc:
            skipped[rel_dir or "."] = f"unreadable folder: {exc.strerror}"
            continue
        for entry in entries:
            visited += 1
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if visited > 4 * max_files + 64:
                skipped[rel] = "too many entries"
                return files, skipped
            if entry.is_symlink():
                skipped[rel] = "symlink (not followed)"
            elif entry.is_dir(follow_symlinks=False):
                stack.append(rel)
            elif not entry.is_file(follow_symlinks=False):
                skipped[rel] = "not a regular file"
            elif len(files) >= max_files:
                skipped[rel] = "file count cap"
            else:
                data = _read_regular(out / rel, budget)
                if data is None:
                    skipped[rel] = "not a regular file"
                elif len(data) > budget:
                    skipped[rel] = "size cap"
                else:
                    files[rel] = data
                    budget -= len(data)
    return files, skipped


def _read_regular(path: Path, budget: int) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with contextlib.closing(os.fdopen(fd, "rb")) as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return f.read(budget + 1)
