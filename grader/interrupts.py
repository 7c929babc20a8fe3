"""Ctrl-C and SIGTERM for `grader grade`: stop at once, end every sandbox, leave nothing behind, exit 130 / 143.

While a sandbox runs, the main thread waits on the grading (up to a test's time limit, minutes), and closing a
grading waits for its sandboxes' supervisors. So on a signal the handler first ends every run of this process
(sandbox.abort_all: the bwrap cgroups are killed, the containers removed), which lets every wait return, and then
raises Interrupted in the main thread, whose `finally` blocks clean up as usual. Should they still be stuck after
FORCE_EXIT_S, or should a second signal come, the process exits there and then (the runs are dead by then; run
folders a forced exit leaves are reaped by the next grading, as a crashed grader's are).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

FORCE_EXIT_S = 20.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """Raised in the main thread on SIGINT or SIGTERM (a BaseException: no `except Exception` swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM end every sandbox and raise Interrupted (main thread only)."""
    from sandbox import abort_all

    stopping: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if stopping:  # asked twice: no more waiting
            os._exit(128 + stopping[0])
        stopping.append(signum)
        abort_all()
        timer = threading.Timer(FORCE_EXIT_S, _force_exit, args=(128 + signum,))
        timer.daemon = True
        timer.start()
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _force_exit(code: int) -> None:
    sys.stderr.write(f"grader: still cleaning up after {FORCE_EXIT_S:g} s, exiting {code}\n")
    sys.stderr.flush()
    os._exit(code)
