"""PID 1 of the student's sandbox: a clean parent for each test's keeper, and the cleaner between tests.

    python3 -m boundary.supervisor PACKAGE_DIR [--sandboxed]

The host drives the sandbox with frames on stdin (protocol.py): `C {"cmd": "start", "test", "timeout_s"}` starts
a test, `D` frames carry that test's requests to its object server, `C {"cmd": "end"}` ends it; EOF ends us. We
read the "start", fork the test's keeper (keeper.py) and step aside: the keeper alone reads the test's frames and
writes its answers and events. So no byte of any test ever lands in our memory, and every keeper (and the server
it forks) starts from our clean state: nothing a test saw or wrote can reach a later one through what it inherits.
When the keeper is done we kill whatever is left, empty every writable place and remove IPC objects (cleanup.py).

A keeper that the student's code kills or stops ends its test without figures: we say so ("closed", then "ended"
with keeper "killed" or "stuck"), and skip the rest of that test's frames (never keeping them) up to the host's
next command.

Why PID 1: the kernel delivers no signal from inside the PID namespace to its init unless init handles it, and
every orphan is reparented to us. `PR_SET_DUMPABLE 0` keeps our /proc entries (fds, memory) from the children, and
is inherited by every keeper. We compile the package's sources once (compile() runs none of the student's code)
and import the library modules packages use, so each server starts warm.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import select
import signal
import sys
import time
from types import CodeType

from . import cleanup, keeper, protocol

PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
SOURCE_CAP = 32 * 1024 * 1024  # most source bytes compiled ahead (intake caps a package far below this)
KEEPER_PATIENCE_S = 5.0  # beyond the keeper's own backstop
STOPPED_PATIENCE_S = 0.6  # how long the keeper may stay stopped before the test is given up
MAX_CONTROL = 4096
# Library modules a package commonly uses: imported once here (they run none of the student's code), so each
# server need not (numpy loads numpy.random lazily, and that alone costs a server ~18 ms).
WARM_MODULES = ("numpy.random", "numpy.linalg", "numpy.lib.stride_tricks", "abc", "collections", "copy",
                "dataclasses", "enum", "functools", "itertools", "math", "re", "time", "typing", "warnings")
_SKIP = bytearray(1 << 16)  # where skipped frames are read into and overwritten: never kept


def harden() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans are ours to kill even outside a sandbox
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)


def warm_up() -> None:
    import importlib

    for name in WARM_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def precompile(package_dir: str) -> dict[str, CodeType]:
    """Code objects of the package's sources, by absolute path; a file that does not compile is left to the server
    (which then reports its SyntaxError as the student's)."""
    codes: dict[str, CodeType] = {}
    budget = SOURCE_CAP
    for folder, _, files in os.walk(os.path.join(package_dir, "tinytorch")):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as handle:
                    source = handle.read(budget + 1)
                budget -= len(source)
                if budget < 0:
                    return codes
                codes[path] = compile(source, path, "exec", dont_inherit=True)
            except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
                continue
    return codes


# ------------------------------------------------------------------------------------------------ the host's stream
def next_command() -> dict[str, object] | None:
    """The host's next control command, skipping data frames (of a test whose keeper is gone); None at EOF."""
    try:
        while True:
            header = keeper.read_exact(0, protocol.HEADER_BYTES)
            kind, size = header[:1], int(header[1:9], 16)
            if kind == protocol.CONTROL and size <= MAX_CONTROL:
                command = json.loads(keeper.read_exact(0, size))
                if isinstance(command, dict):
                    return command
                continue
            skip(size)
    except EOFError:
        return None


def skip(size: int) -> None:
    view = memoryview(_SKIP)
    while size:
        got = os.readv(0, [view[:min(size, len(view))]])
        if not got:
            raise EOFError("the host's stream ended")
        size -= got
    view[:] = bytes(len(view))


# ------------------------------------------------------------------------------------------------ one test
def run_test(package_dir: str, codes: dict[str, CodeType], number: int, timeout_s: float,
             sandboxed: bool) -> dict[str, object] | None:
    """Fork the keeper, wait for it, clean up. Returns the host's next command when we had to skip to it."""
    child = os.fork()
    if child == 0:
        try:
            keeper.keep(package_dir, codes, number, timeout_s, sandboxed)
        finally:
            os._exit(1)
    state = wait_for_keeper(child, time.monotonic() + timeout_s + keeper.BACKSTOP_S + KEEPER_PATIENCE_S)
    if state == "stuck":  # stopped, or past every deadline: it cannot finish the test
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    _, status = os.waitpid(child, 0)
    cleanup.kill_all(sandboxed)  # what a killed keeper leaves behind
    cleanup.empty_writable(sandboxed)
    code = os.waitstatus_to_exitcode(status)
    if state == "ok" and code == keeper.EXIT_ENDED_BY_HOST:
        return None
    if state == "ok" and code == keeper.EXIT_ENDED_ALONE:
        return skip_to_end()
    # The keeper died without a word: the host learns it here, and nothing of the test is measured.
    keeper.emit({"event": "closed", "test": number})
    keeper.emit({"event": "ended", "test": number, "timed_out": False, "keeper": "stuck" if state == "stuck" else
                 "killed", "cpu_seconds": None, "max_rss_bytes": None, "baseline_rss_bytes": None, "exit": None,
                 "output": "", "output_dropped": 0})
    return skip_to_end()


def wait_for_keeper(child: int, deadline: float) -> str:
    """"ok" once the keeper has exited; "stuck" past the deadline or once it has been stopped (SIGSTOP from the
    student's code) for STOPPED_PATIENCE_S: it then cannot relay, and the host is waiting."""
    pidfd = os.pidfd_open(child)
    stopped_since = None
    try:
        while True:
            if select.select([pidfd], [], [], 0.2)[0]:
                return "ok"
            now = time.monotonic()
            if now >= deadline:
                return "stuck"
            if _stopped(child):
                stopped_since = stopped_since or now
                if now - stopped_since >= STOPPED_PATIENCE_S:
                    return "stuck"
            else:
                stopped_since = None
    finally:
        os.close(pidfd)


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] in (b"T", b"t")
    except (OSError, IndexError):
        return False


def skip_to_end() -> dict[str, object] | None:
    """Skip what is left of a test the keeper did not finish reading: up to its "end" (consumed), or a "start"
    (returned: the keeper had read the "end" already)."""
    command = next_command()
    return None if command is None or command.get("cmd") == "end" else command


# ------------------------------------------------------------------------------------------------ main loop
def main(argv: list[str]) -> int:
    harden()
    package_dir = os.path.abspath(argv[0])
    sandboxed = "--sandboxed" in argv[1:] and (os.getpid() == 1 or os.getppid() == 1) and os.getuid() != 0
    import numpy

    from . import server  # noqa: F401 - imported once here, so each forked server starts warm

    warm_up()
    started = time.perf_counter()
    codes = precompile(package_dir)
    # Everything loaded so far is shared with every forked server; frozen, the servers' garbage collector never
    # walks it (which would touch, and so copy, every page of it in each of them).
    gc.freeze()
    keeper.emit({"event": "ready", "sandboxed": sandboxed, "compiled": len(codes),
                 "compile_seconds": round(time.perf_counter() - started, 4), "numpy": numpy.__version__,
                 "python": sys.version.split()[0]})
    command = next_command()
    while command is not None:
        if command.get("cmd") == "start":
            number, timeout_s = int(command["test"]), float(command["timeout_s"])  # type: ignore[arg-type]
            command = run_test(package_dir, codes, number, timeout_s, sandboxed) or next_command()
        else:
            command = next_command()  # an "end" for a test that is over already
    cleanup.kill_all(sandboxed)
    keeper.emit({"event": "done"})
    return 0


if __name__ == "__main__":
    # os._exit: everything is written (events go out with os.write), and the interpreter's own teardown of a
    # numpy-loaded process (~20 ms) would only delay the end of every grading.
    os._exit(main(sys.argv[1:]))
