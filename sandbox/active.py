"""The runs this process has going, so that a caller stopping on a signal can end them all at once.

    from sandbox import abort_all
    abort_all()     # every run of this process is killed now; run() calls then return (or raise) promptly,
                    # each cleaning up after itself as usual, and no new run starts

Why: a run waits for its command (up to its wall limit, minutes). A `grader grade` told to stop by Ctrl-C or
SIGTERM must not wait for that, nor leave a container or a bwrap process behind when it exits.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from .base import SandboxError

_lock = threading.Lock()
_kills: dict[str, Callable[[], None]] = {}
_aborted = threading.Event()


class SandboxAborted(SandboxError):
    """The run was ended by abort_all() (its caller is stopping), not by anything the command did."""


@contextlib.contextmanager
def tracked(run_id: str, kill: Callable[[], None]) -> Iterator[None]:
    """Register `kill` (ends everything of the run, idempotent) while the block runs; refuses to start a run after
    abort_all(), and kills one that registered while abort_all() was running."""
    with _lock:
        if _aborted.is_set():
            raise SandboxAborted("the sandbox was not started: this process is stopping")
        _kills[run_id] = kill
    try:
        yield
    finally:
        with _lock:
            _kills.pop(run_id, None)


def aborted() -> bool:
    return _aborted.is_set()


def abort_all() -> int:
    """Kill every run of this process now and let no new one start; returns how many were killed."""
    with _lock:
        _aborted.set()
        kills = list(_kills.values())
    for kill in kills:
        with contextlib.suppress(Exception):  # one run's trouble must not keep the others alive
            kill()
    return len(kills)
