"""Between two tests, leave nothing of the first: processes, files in writable places, IPC objects.

Used by the supervisor (PID 1 of the sandbox) and by each test's keeper, both child subreapers: every orphan of
their descendants becomes their child. In a sandbox, kill(-1) from a process of the sandbox's uid reaches every
process of it except init (PID 1 ignores signals it has no handler for) and the caller. Outside a sandbox (our own
tests run the supervisor as an ordinary process) kill(-1) would reach the whole machine's processes of that uid, so
only our descendants are killed, and nothing is deleted.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import stat
import time

KILL_PATIENCE_S = 5.0
WRITABLE = ("/tmp", "/dev/shm", "/out", "/dev/mqueue")
IPC_RMID = 0
_SYSV = (("/proc/sysvipc/shm", "shmctl"), ("/proc/sysvipc/sem", "semctl"), ("/proc/sysvipc/msg", "msgctl"))


def others(keep: tuple[int, ...] = ()) -> list[int]:
    """Live processes in our PID namespace other than init, us and `keep` (zombies are dead already)."""
    alive = []
    skip = {1, os.getpid(), *keep}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in (b"Z", b"X"):
            alive.append(int(entry))
    return alive


def reap_children(block: bool = False) -> dict[int, int]:
    """Reap our exited children ({pid: wait status}); with block, wait until we have no children at all."""
    statuses = {}
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            if pid == 0:
                break
            statuses[pid] = status
    return statuses


def children(include_dead: bool = False) -> list[int]:
    """Our child processes (as a child subreaper, every orphan of our descendants is one of them): the live ones,
    or with include_dead also those exiting or not yet reaped."""
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == me.encode() and (include_dead or fields[0] not in (b"Z", b"X")):
            found.append(int(entry))
    return found


def kill_all(sandboxed: bool) -> dict[int, int]:
    """Kill every process below us (and, in a sandbox, every process of it but init and us) and reap our children;
    returns their wait statuses. Raises SystemExit if something survives SIGKILL: it would reach the next test."""
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + KILL_PATIENCE_S
    while True:
        if sandboxed:
            # One kill(-1) is atomic with respect to fork (the kernel walks the task list under its lock, and a
            # process with SIGKILL pending cannot finish a fork), so a fork bomb cannot outrun it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(-1, signal.SIGKILL)
            # Every other process of the sandbox is dying now, and ours to reap are among them: wait for them
            # (no polling; a process that cannot die keeps us here, and our caller's patience then ends it).
            statuses.update(reap_children(block=True))
            if not others():
                return statuses
        else:
            # Outside a sandbox kill(-1) would reach the machine: kill our children instead; their orphans
            # become our children (we are a child subreaper) and die in the next round.
            alive = children()
            if not alive:
                statuses.update(reap_children())
                if not children(include_dead=True):
                    return statuses
            for pid in alive:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            statuses.update(reap_children())
        if time.monotonic() > deadline:
            raise SystemExit(f"processes survive SIGKILL: {children() or others()}")
        time.sleep(0.001)


def _modes() -> dict[str, int]:
    modes = {}
    for folder in WRITABLE:
        with contextlib.suppress(OSError):
            modes[folder] = stat.S_IMODE(os.stat(folder).st_mode)
    return modes


# The writable places' own modes, taken when the supervisor imports us (before any student code runs): a test
# that chmods /tmp to 000 (it owns it under bubblewrap) must not keep the next test's cleaner out of it.
MODES = _modes()


def empty_writable(sandboxed: bool) -> None:
    """Empty every writable place of the sandbox, and remove System V IPC objects (POSIX ones are files in
    /dev/shm and /dev/mqueue). Runs once every process of the test is dead, so nothing changes under it.
    Raises SystemExit if something is left that cannot be removed: it would reach the next test."""
    if not sandboxed:
        return
    left = []
    for folder, mode in MODES.items():
        with contextlib.suppress(OSError):
            if stat.S_IMODE(os.stat(folder).st_mode) != mode:
                os.chmod(folder, mode)
        try:
            entries = os.listdir(folder)
        except OSError as error:
            left.append(f"{folder} ({error})")
            continue
        for entry in entries:
            remove_tree(folder, entry)
        with contextlib.suppress(OSError):
            left += [os.path.join(folder, entry) for entry in os.listdir(folder)]
    if left:
        raise SystemExit(f"cannot empty the writable places: {left[:5]}")
    remove_sysv_ipc()


def remove_tree(folder: str, name: str) -> None:
    """Delete folder/name and everything below it, whatever the modes of its directories (each is made ours
    again) and however deep: no recursion, and no long paths (every step works relative to an open directory,
    going back up through ".."). Never follows a symlink. Stops at the first entry it cannot remove (the caller
    sees it is still there). Each entry is looked at once, each directory listed once."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    pending = [[name]]  # pending[i]: entries left to remove in the directory fd is open on when at depth i
    try:
        while pending:
            if not pending[-1]:  # the directory we are in is empty now: back to its parent, and remove it
                pending.pop()
                if not pending:
                    return
                parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = parent
                os.rmdir(pending[-1].pop(), dir_fd=fd)
                continue
            current = pending[-1][-1]
            try:
                info = os.stat(current, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                pending[-1].pop()
                continue
            if not stat.S_ISDIR(info.st_mode):
                os.unlink(current, dir_fd=fd)
                pending[-1].pop()
                continue
            os.chmod(current, 0o700, dir_fd=fd)  # a directory (checked above without following links)
            inner = os.open(current, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            try:
                children = os.listdir(inner)
            except OSError:
                os.close(inner)
                raise
            os.close(fd)
            fd = inner
            pending.append(children)
    except OSError:
        return
    finally:
        os.close(fd)


def remove_sysv_ipc() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for table, call in _SYSV:
        try:
            with open(table) as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and fields[1].isdigit():
                ident = int(fields[1])
                if call == "semctl":
                    libc.semctl(ident, 0, IPC_RMID)
                else:
                    getattr(libc, call)(ident, IPC_RMID, None)
