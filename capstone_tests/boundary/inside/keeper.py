"""One test's keeper: forks the test's object server, relays the test's frames, measures it, leaves nothing.

The supervisor (PID 1) forks a keeper per test from its own clean state and then steps aside: while the keeper
lives, the keeper alone reads the sandbox's stdin (exactly the frames of its test, up to the "end" command) and
writes its stdout. So every byte of a test (requests, answers, the student's output) passes through the keeper's
memory only, and dies with it: no later test's process, forked from the supervisor, can find any of it.

The keeper makes itself the child subreaper and forks the object server before it touches any data. Every process
the student's code starts is the keeper's descendant and is reaped by it at the end, so the keeper's
RUSAGE_CHILDREN is the CPU time and peak memory of every process of the test (a double-forked grandchild
included), measured in a process the student's code cannot write to (not dumpable: no ptrace, no /proc fds). The
keeper writes "started" first and "ended" (with those figures) last; killed or stopped, it reports nothing and
the supervisor says so.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import sys
import time
from types import CodeType
from typing import Any

from . import cleanup, protocol

PR_SET_CHILD_SUBREAPER = 36
OUTPUT_CAP = 64 * 1024
BACKSTOP_S = 10.0  # after the test's own limit, in case the host never says "end"
REQUESTS_FD, ANSWERS_FD = 3, 4
EXIT_ENDED_BY_HOST, EXIT_ENDED_ALONE = 0, 3  # whether the host's "end" was read (the supervisor must skip to it)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def emit(event: dict[str, Any]) -> None:
    write_all(1, protocol.frame_json(protocol.EVENT, event))


def write_data(chunk: bytes) -> None:
    """The server's answers as D frames of at most PIPE_BUF bytes, each in one write: a pipe takes such a write
    whole or not at all, so a keeper killed by the student's code never leaves half a frame, which would make the
    host misread everything after it. (Events are written only when no student process is left.)"""
    room = select.PIPE_BUF - protocol.HEADER_BYTES
    for start in range(0, len(chunk), room):
        os.write(1, protocol.frame(protocol.DATA, chunk[start:start + room]))


def read_exact(fd: int, size: int) -> bytes:
    """Exactly `size` bytes of the host's stream (never more: what follows belongs to the supervisor)."""
    parts, missing = [], size
    while missing:
        chunk = os.read(fd, missing)
        if not chunk:
            raise EOFError("the host's stream ended")
        parts.append(chunk)
        missing -= len(chunk)
    return b"".join(parts)


def read_frame(fd: int) -> tuple[bytes, bytes]:
    header = read_exact(fd, protocol.HEADER_BYTES)
    kind, size = header[:1], int(header[1:9], 16)
    return kind, read_exact(fd, size)


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def install_precompiled(codes: dict[str, CodeType]) -> None:
    """Load the package's modules from the code objects the supervisor compiled once."""
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


def run_server(package_dir: str, codes: dict[str, CodeType], requests_r: int, answers_w: int, output_w: int) -> None:
    """In the server process: only the test's two protocol pipes and its output pipe stay open."""
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        os.dup2(requests_r, REQUESTS_FD)
        os.dup2(answers_w, ANSWERS_FD)
        os.closerange(ANSWERS_FD + 1, 65536)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives as long as the process
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        install_precompiled(codes)
        from . import server

        server.serve(package_dir, REQUESTS_FD, ANSWERS_FD)
    except BaseException:
        pass
    os._exit(0)


class Relay:
    """The keeper's side of one test: requests to the server, answers and events to the host, output captured."""

    def __init__(self, number: int, requests_w: int, answers_r: int, output_r: int) -> None:
        self.number = number
        self.requests_w, self.answers_r, self.output_r = requests_w, answers_r, output_r
        os.set_blocking(requests_w, False)
        self.pending = bytearray()
        self.output = bytearray()
        self.output_dropped = 0
        self.answers_open = True

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

    def relay_answers(self, chunk: bytes) -> None:
        if chunk:
            write_data(chunk)
        else:
            self.answers_open = False
            emit({"event": "closed", "test": self.number})

    def run(self, deadline: float) -> bool:
        """Relay until the host's "end" (True) or the backstop deadline (False)."""
        while True:
            reads = [0, self.output_r] + ([self.answers_r] if self.answers_open else [])
            writes = [self.requests_w] if self.pending else []
            ready, writable, _ = select.select(reads, writes, [], max(0.0, deadline - time.monotonic()))
            if not ready and not writable and time.monotonic() >= deadline:
                return False
            if writable:
                self.flush()
            for fd in ready:
                if fd == 0:
                    kind, payload = read_frame(0)
                    if kind == protocol.DATA:
                        self.pending += payload
                        self.flush()
                    elif kind == protocol.CONTROL and json.loads(payload).get("cmd") == "end":
                        return True
                elif fd == self.answers_r:
                    self.relay_answers(os.read(fd, 1 << 16))
                else:
                    self.add_output(os.read(fd, 1 << 16))

    def drain(self) -> None:
        """What the server wrote before it was killed still reaches the host, before "ended"."""
        for fd in (self.answers_r, self.output_r):
            os.set_blocking(fd, False)
            while True:
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                if fd == self.answers_r and self.answers_open:
                    write_data(chunk)
                elif fd == self.output_r:
                    self.add_output(chunk)


def keep(package_dir: str, codes: dict[str, CodeType], number: int, timeout_s: float, sandboxed: bool) -> None:
    """The keeper's whole life (in the process the supervisor forked). Never returns."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    baseline = rss_bytes()
    requests_r, requests_w = os.pipe()
    answers_r, answers_w = os.pipe()
    output_r, output_w = os.pipe()
    server = os.fork()
    if server == 0:
        os.close(0)
        os.close(1)
        run_server(package_dir, codes, requests_r, answers_w, output_w)
    for fd in (requests_r, answers_w, output_w):
        os.close(fd)
    emit({"event": "started", "test": number})
    relay = Relay(number, requests_w, answers_r, output_r)
    try:
        by_host = relay.run(time.monotonic() + timeout_s + BACKSTOP_S)
    except EOFError:
        by_host = False
    os.close(requests_w)
    statuses = cleanup.kill_all(sandboxed)  # every descendant is ours to kill and reap, however it was forked
    relay.drain()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    emit({"event": "ended", "test": number, "timed_out": not by_host, "keeper": "ok",
          "cpu_seconds": usage.ru_utime + usage.ru_stime, "max_rss_bytes": usage.ru_maxrss * 1024,
          "baseline_rss_bytes": baseline,
          "exit": os.waitstatus_to_exitcode(statuses[server]) if server in statuses else None,
          "output": relay.output.decode("utf-8", "replace"), "output_dropped": relay.output_dropped})
    os._exit(EXIT_ENDED_BY_HOST if by_host else EXIT_ENDED_ALONE)
