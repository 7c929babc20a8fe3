"""How many of the student's sandboxes one grading runs at once: its lanes, shared fairly between the gradings
of one machine.

A grading's tests are independent (each runs in a fresh object server), so they can run in two sandboxes of the
same package at once: a lone grading on an idle 2-core machine then takes ~0.6 of the time (docs/architecture.md,
"Lanes"). But a busy machine gains nothing from it, and each extra sandbox costs a start: a worker running as many
gradings as there are cores must run each in one lane.

Cores are shared through slot files, one per core, held with flock (released by the kernel when a process dies,
so a crashed grading never keeps a core):
- a grading's first lane holds a slot for the whole grading if one is free; if none is, the grading leaves a
  "want" file (also flocked, so a stale one is recognised) and tries again before each of its tests;
- an extra lane runs only while it holds a slot of its own, and gives it back for good as soon as any grading
  wants one. So a new grading takes the core of another's extra lane within one test, and lanes never outnumber
  cores because of gradings that started on an idle machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import tempfile
from pathlib import Path

DEFAULT_FOLDER = Path(tempfile.gettempdir()) / "tinytorch-grader-lanes"
WANT_PREFIX = "want-"


def machine_cores() -> int:
    return len(os.sched_getaffinity(0))


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding an exclusive flock on `path`, or None if another holds it."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


class CoreSlots:
    """One grading's claim on the machine's cores (see the module's docstring). Thread-safe enough for its use:
    the first lane calls `hold_first`, each extra lane its own `extra_lane()` object."""

    def __init__(self, folder: Path = DEFAULT_FOLDER, cores: int | None = None) -> None:
        self.folder = folder
        self.cores = cores or machine_cores()
        self._first: int | None = None
        self._want: tuple[int, Path] | None = None
        try:
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                folder.chmod(0o1777)  # every user's gradings share the machine's cores
            self.usable = os.access(folder, os.W_OK | os.X_OK)
        except OSError:
            self.usable = False  # nowhere to coordinate: one lane, as on a busy machine

    def _slots(self) -> list[Path]:
        return [self.folder / f"slot-{i}" for i in range(self.cores)]

    def _take_any(self) -> int | None:
        for slot in self._slots():
            with contextlib.suppress(OSError):
                fd = _try_lock(slot)
                if fd is not None:
                    return fd
        return None

    def hold_first(self) -> bool:
        """The first lane's slot: taken if free, else wanted (retried by each call until it is had). Whether this
        grading holds it now."""
        if not self.usable or self._first is not None:
            return self._first is not None
        self._first = self._take_any()
        if self._first is not None:
            self._drop_want()
        elif self._want is None:
            # Locked under another name first, then renamed: a want file is never seen unlocked (it would be
            # taken for a dead grading's and removed).
            name = f"{os.getpid()}-{secrets.token_hex(4)}"
            staged, path = self.folder / f".staged-{name}", self.folder / f"{WANT_PREFIX}{name}"
            with contextlib.suppress(OSError):
                fd = _try_lock(staged)
                if fd is not None:
                    try:
                        os.rename(staged, path)
                    except OSError:
                        os.close(fd)
                        staged.unlink(missing_ok=True)
                    else:
                        self._want = (fd, path)
        return self._first is not None

    def someone_waits(self) -> bool:
        """A live grading (not this one) wants a slot. Want files of dead processes are removed on the way."""
        mine = self._want[1].name if self._want else None
        try:
            names = [n for n in os.listdir(self.folder) if n.startswith(WANT_PREFIX) and n != mine]
        except OSError:
            return False
        for name in names:
            path = self.folder / name
            with contextlib.suppress(OSError):
                fd = _try_lock(path)
                if fd is None:
                    return True  # its owner holds it: alive and waiting
                os.close(fd)
                path.unlink(missing_ok=True)  # its owner is gone
        return False

    def take_extra(self) -> int | None:
        """A slot for an extra lane, if one is free and no grading waits for one."""
        if not self.usable or self.someone_waits():
            return None
        return self._take_any()

    def _drop_want(self) -> None:
        if self._want is not None:
            fd, path = self._want
            with contextlib.suppress(OSError):
                path.unlink()
            os.close(fd)
            self._want = None

    def close(self) -> None:
        self._drop_want()
        if self._first is not None:
            os.close(self._first)
            self._first = None


class ExtraLane:
    """An extra lane's slot: `may_run()` before each test says whether the lane goes on (False: it is done for
    good, its slot given back)."""

    def __init__(self, slots: CoreSlots) -> None:
        self.slots = slots
        self.fd = slots.take_extra()
        self.retired = self.fd is None

    def may_run(self) -> bool:
        if not self.retired and self.slots.someone_waits():
            self.close()
        return not self.retired

    def close(self) -> None:
        self.retired = True
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
