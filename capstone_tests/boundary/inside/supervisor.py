"""PID 1 of the student's sandbox: one object server per test, relayed to the host, nothing left between tests.

    python3 -m boundary.supervisor PACKAGE_DIR [--sandboxed]

The host drives us with frames on stdin (protocol.py): `C {"cmd": "start", "test", "timeout_s"}` starts a
test, `D` frames carry that test's requests to its object server, `C {"cmd": "end"}` ends it; EOF ends us.
We write frames on stdout: `E` events (ready, started, closed, ended) and `D` frames holding whatever the
server answered, unread. Nothing of a test (no probe, no challenge, no check) is ever here.

Per test we fork a *keeper*, which makes itself the child subreaper and forks the object server. Every process
the student's code starts is the keeper's descendant, and is reaped by it when the test ends, so the keeper's
RUSAGE_CHILDREN is the CPU time and peak memory of every process of the test (a double-forked grandchild
included), measured in processes the student's code cannot write to (not dumpable: no ptrace, no /proc fds).
A keeper that is killed or stopped reports nothing, and the test then has no measurement (which fails a check
that needs one). After each test we kill everything but ourselves, empty every writable place and remove IPC
objects (cleanup.py), so no process, file or shared segment reaches the next test.

Why PID 1: the kernel delivers no signal from inside the PID namespace to its init unless init handles it, and
every orphan is reparented to us. `PR_SET_DUMPABLE 0` keeps our /proc entries (fds, memory) from the children.
We compile the package's sources once (compile() runs none of the student's code) and each server loads those
code objects instead of compiling again.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import resource
import select
import signal
import sys
import time
from types import CodeType
from typing import Any

from . import cleanup, protocol

PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
OUTPUT_CAP = 64 * 1024
SOURCE_CAP = 32 * 1024 * 1024  # most source bytes compiled ahead (intake caps a package far below this)
KEEPER_PATIENCE_S = 5.0
BACKSTOP_S = 10.0  # after a test's own limit, in case the host never says "end"
REQUESTS_FD, ANSWERS_FD = 3, 4


def harden() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans are ours to kill even outside a sandbox
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def emit(event: dict[str, Any]) -> None:
    write_all(1, protocol.frame_json(protocol.EVENT, event))


# Library modules a package commonly uses: imported once here (they run none of the student's code), so each
# server need not (numpy loads numpy.random lazily, and that alone costs a server ~18 ms).
WARM_MODULES = ("numpy.random", "numpy.linalg", "numpy.lib.stride_tricks", "abc", "collections", "copy",
                "dataclasses", "enum", "functools", "itertools", "math", "re", "time", "typing", "warnings")


def warm_up() -> None:
    import importlib

    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


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


def install_precompiled(codes: dict[str, CodeType]) -> None:
    import importlib.machinery as machinery

    class PrecompiledLoader(machinery.SourceFileLoader):
        def get_code(self, fullname: str) -> Any:
            code = codes.get(self.path)
            return code if code is not None else super().get_code(fullname)

    sys.path_hooks.insert(0, machinery.FileFinder.path_hook(
        (PrecompiledLoader, machinery.SOURCE_SUFFIXES),
        (machinery.ExtensionFileLoader, machinery.EXTENSION_SUFFIXES),
        (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES)))
    sys.path_importer_cache.clear()


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ------------------------------------------------------------------------------------------------ keeper
def keeper(package_dir: str, codes: dict[str, CodeType], sandboxed: bool, pipes: dict[str, int]) -> None:
    """In the forked keeper: fork the server, wait for the end of the test, kill and reap everything, report."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    baseline = rss_bytes()
    server = os.fork()
    if server == 0:
        run_server(package_dir, codes, pipes)
    for name in ("requests_r", "answers_w", "output_w"):
        os.close(pipes[name])
    os.read(pipes["control_r"], 1)  # blocks until the supervisor closes its end: the test is over
    # Every descendant is ours to kill and reap (subreaper), however it was forked.
    statuses = cleanup.kill_all(sandboxed)
    exit_status = os.waitstatus_to_exitcode(statuses[server]) if server in statuses else None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {"cpu_seconds": usage.ru_utime + usage.ru_stime, "max_rss_bytes": usage.ru_maxrss * 1024,
              "baseline_rss_bytes": baseline, "exit": exit_status}
    write_all(pipes["report_w"], json.dumps(report).encode())
    os._exit(0)


def run_server(package_dir: str, codes: dict[str, CodeType], pipes: dict[str, int]) -> None:
    """In the server process: only the test's two protocol pipes and its output pipe stay open."""
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(pipes["output_w"], 1)
        os.dup2(pipes["output_w"], 2)
        os.dup2(pipes["requests_r"], REQUESTS_FD)
        os.dup2(pipes["answers_w"], ANSWERS_FD)
        os.closerange(ANSWERS_FD + 1, 65536)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives as long as the process
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        install_precompiled(codes)
        from . import server

        server.serve(package_dir, REQUESTS_FD, ANSWERS_FD)
    except BaseException:
        pass
    os._exit(0)


_SANDBOXED = False


# ------------------------------------------------------------------------------------------------ one test
class Test:
    """One running test: the keeper, the server's pipes, what is waiting to be written to the server."""

    def __init__(self, number: int, timeout_s: float, package_dir: str, codes: dict[str, CodeType]) -> None:
        self.number = number
        self.deadline = time.monotonic() + timeout_s + BACKSTOP_S
        requests_r, self.requests_w = os.pipe()
        self.answers_r, answers_w = os.pipe()
        self.output_r, output_w = os.pipe()
        control_r, self.control_w = os.pipe()
        self.report_r, report_w = os.pipe()
        pipes = {"requests_r": requests_r, "answers_w": answers_w, "output_w": output_w, "control_r": control_r,
                 "report_w": report_w}
        self.keeper = os.fork()
        if self.keeper == 0:
            for fd in (0, 1, self.requests_w, self.answers_r, self.output_r, self.control_w, self.report_r):
                os.close(fd)
            try:
                keeper(package_dir, codes, _SANDBOXED, pipes)
            finally:
                os._exit(1)
        for fd in pipes.values():
            os.close(fd)
        self.keeper_fd = os.pidfd_open(self.keeper)
        os.set_blocking(self.requests_w, False)
        self.pending = bytearray()  # requests not yet taken by the server's pipe
        self.output = bytearray()
        self.output_dropped = 0
        self.report = bytearray()
        self.answers_open = True
        self.keeper_done = False

    def to_server(self, data: bytes) -> None:
        self.pending += data
        self.flush()

    def flush(self) -> None:
        while self.pending:
            try:
                written = os.write(self.requests_w, self.pending)
            except BlockingIOError:
                return
            except BrokenPipeError:
                self.pending.clear()  # the server is gone; the host learns it from "closed"
                return
            del self.pending[:written]

    def add_output(self, chunk: bytes) -> None:
        room = OUTPUT_CAP - len(self.output)
        self.output += chunk[:room]
        self.output_dropped += max(0, len(chunk) - room)

    def read_fds(self) -> list[int]:
        fds = [self.output_r, self.report_r]
        if self.answers_open:
            fds.append(self.answers_r)
        if not self.keeper_done:
            fds.append(self.keeper_fd)
        return fds

    def on_readable(self, fd: int) -> None:
        if fd == self.keeper_fd:
            self.keeper_done = True
            return
        chunk = os.read(fd, 1 << 16)
        if fd == self.answers_r:
            if chunk:
                write_all(1, protocol.frame(protocol.DATA, chunk))
            else:
                self.answers_open = False
                emit({"event": "closed", "test": self.number})
        elif fd == self.output_r:
            self.add_output(chunk)
        elif fd == self.report_r and len(self.report) < 4096:
            self.report += chunk

    def finish(self, timed_out: bool) -> dict[str, Any]:
        """End the test: the keeper kills and reaps everything and reports; then we make sure of it ourselves."""
        os.close(self.requests_w)
        os.close(self.control_w)
        keeper_state = "ok"
        deadline = time.monotonic() + KEEPER_PATIENCE_S
        while True:
            ready, _, _ = select.select([self.keeper_fd, self.output_r, self.report_r], [], [],
                                        max(0.0, deadline - time.monotonic()))
            if not ready:
                keeper_state = "stuck"  # stopped or spinning: killed below, its report (if any) not believed
                break
            for fd in ready:
                if fd == self.keeper_fd:
                    self.keeper_done = True
                else:
                    chunk = os.read(fd, 1 << 16)
                    if fd == self.output_r:
                        self.add_output(chunk)
                    elif len(self.report) < 4096:
                        self.report += chunk
            if self.keeper_done:
                break
        if keeper_state == "ok":
            _, status = os.waitpid(self.keeper, 0)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.keeper, signal.SIGKILL)
            _, status = os.waitpid(self.keeper, 0)
        cleanup.kill_all(_SANDBOXED)
        while True:  # the rest of the report, now that its writer is gone
            chunk = os.read(self.report_r, 4096) if len(self.report) < 4096 else b""
            if not chunk:
                break
            self.report += chunk
        report = _report(bytes(self.report)) if keeper_state == "ok" and status == 0 else None
        if report is None and keeper_state == "ok":
            keeper_state = "killed"
        self.drain_answers()
        for fd in (self.answers_r, self.output_r, self.report_r, self.keeper_fd):
            os.close(fd)
        cleanup.reap_children()
        cleanup.empty_writable(_SANDBOXED)
        event: dict[str, Any] = {"event": "ended", "test": self.number, "timed_out": timed_out, "keeper": keeper_state,
                                 "output": self.output.decode("utf-8", "replace"),
                                 "output_dropped": self.output_dropped}
        event.update(report or {"cpu_seconds": None, "max_rss_bytes": None, "baseline_rss_bytes": None,
                                "exit": None})
        return event

    def drain_answers(self) -> None:
        """Answers written before the end still reach the host (in order, before "ended")."""
        if not self.answers_open:
            return
        os.set_blocking(self.answers_r, False)
        while True:
            try:
                chunk = os.read(self.answers_r, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                return
            write_all(1, protocol.frame(protocol.DATA, chunk))


def _report(data: bytes) -> dict[str, Any] | None:
    try:
        report = json.loads(data)
    except ValueError:
        return None
    fields = ("cpu_seconds", "max_rss_bytes", "baseline_rss_bytes", "exit")
    if not isinstance(report, dict) or set(report) != set(fields):
        return None
    return report


# ------------------------------------------------------------------------------------------------ main loop
def main(argv: list[str]) -> int:
    global _SANDBOXED
    harden()
    package_dir = os.path.abspath(argv[0])
    _SANDBOXED = "--sandboxed" in argv[1:] and (os.getpid() == 1 or os.getppid() == 1) and os.getuid() != 0
    import numpy

    from . import server  # noqa: F401 - imported once here, so each forked server starts warm

    warm_up()

    started = time.perf_counter()
    codes = precompile(package_dir)
    # Everything loaded so far is shared with every forked server; frozen, the servers' garbage collector never
    # walks it (which would touch, and so copy, every page of it in each of them).
    gc.freeze()
    emit({"event": "ready", "sandboxed": _SANDBOXED, "compiled": len(codes),
          "compile_seconds": round(time.perf_counter() - started, 4), "numpy": numpy.__version__,
          "python": sys.version.split()[0]})
    frames = protocol.FrameReader(protocol.CONTROL + protocol.DATA)
    test: Test | None = None
    stdin_open = True
    while stdin_open or test is not None:
        reads = ([0] if stdin_open else []) + (test.read_fds() if test else [])
        writes = [test.requests_w] if test is not None and test.pending else []
        timeout = max(0.0, test.deadline - time.monotonic()) if test else None
        ready, writable, _ = select.select(reads, writes, [], timeout)
        if test is not None and time.monotonic() >= test.deadline:
            emit(test.finish(timed_out=True))
            test = None
            continue
        if writable and test is not None:
            test.flush()
        for fd in ready:
            if fd == 0:
                chunk = os.read(0, 1 << 16)
                if not chunk:
                    stdin_open = False
                    if test is not None:
                        emit(test.finish(timed_out=False))
                        test = None
                    continue
                for kind, payload in frames.feed(chunk):
                    if kind == protocol.DATA:
                        if test is not None:
                            test.to_server(payload)
                        continue
                    command = json.loads(payload)
                    if command["cmd"] == "start" and test is None:
                        test = Test(int(command["test"]), float(command["timeout_s"]), package_dir, codes)
                        emit({"event": "started", "test": test.number})
                    elif command["cmd"] == "end" and test is not None:
                        emit(test.finish(timed_out=False))
                        test = None
            elif test is not None:
                test.on_readable(fd)
    cleanup.kill_all(_SANDBOXED)
    emit({"event": "done"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
