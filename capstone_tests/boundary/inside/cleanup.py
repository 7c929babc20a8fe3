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
import shutil
import signal
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
            statuses.update(reap_children())
            if not others():
                statuses.update(reap_children(block=True))  # only the dead are left
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


def empty_writable(sandboxed: bool) -> None:
    """Empty every writable place of the sandbox, and remove System V IPC objects (POSIX ones are files in
    /dev/shm and /dev/mqueue)."""
    if not sandboxed:
        return
    for folder in WRITABLE:
        if not os.path.isdir(folder):
            continue
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(folder, entry)
            with contextlib.suppress(OSError):
                os.chmod(path, 0o700, follow_symlinks=False)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, onerror=lambda f, p, e: (os.chmod(os.path.dirname(p), 0o700), f(p)))
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)
    remove_sysv_ipc()


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
