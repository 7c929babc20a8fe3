"""Draining a run's stdout/stderr on the host side, keeping only a capped tail of each.

The cap is applied here, outside the sandbox: anything the process does to its own file descriptors cannot get
more than `cap` bytes per stream into the result, and we keep reading (discarding) at full speed, so a program that
writes gigabytes neither blocks on a full pipe until the wall limit nor fills a disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import time
from collections.abc import Callable

_READ_CHUNK = 1024 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class TailBuffer:
    """The last `cap` bytes written to it, in amortised O(1) per byte."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.total = 0
        self._buf = bytearray()

    def write(self, data: bytes) -> None:
        self.total += len(data)
        self._buf += data
        if len(self._buf) > 2 * self.cap:  # trim rarely, not on every chunk
            del self._buf[: len(self._buf) - self.cap]

    def getvalue(self) -> bytes:
        return bytes(self._buf[-self.cap :]) if self.cap else b""


def widen_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe buffer: fewer wake-ups when a run floods its output (best effort)."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, _READ_CHUNK)


class OutputPump:
    """Reads several non-blocking fds into TailBuffers until told to stop or until every fd reaches EOF."""

    def __init__(self, fds: dict[str, int], cap: int, wake: int | None = None,
                 on_stdout: Callable[[bytes], None] | None = None) -> None:
        """fds: streams to capture. wake: an fd that becomes readable when the run ends (a pidfd, or the pipe of
        `docker wait`), so the end is noticed at once instead of at the next poll tick. on_stdout: sees every
        stdout chunk as it arrives (live progress); the capped tail is still what the result holds."""
        self.tails = {name: TailBuffer(cap) for name in fds}
        self._on_stdout = on_stdout
        self._sel = selectors.DefaultSelector()
        self._open: dict[int, str] = {}
        for name, fd in fds.items():
            os.set_blocking(fd, False)
            widen_pipe(fd)
            self._sel.register(fd, selectors.EVENT_READ, name)
            self._open[fd] = name
        self._wake = wake
        if wake is not None:
            self._sel.register(wake, selectors.EVENT_READ, None)

    def _read_ready(self, timeout: float) -> None:
        for key, _ in self._sel.select(timeout):
            fd = key.fd
            if key.data is None:  # the wake-up fd: it has done its job once it fires
                self._sel.unregister(fd)
                self._wake = None
                continue
            # Several reads per wake-up: a flooding writer refills the pipe faster than select() returns.
            for _ in range(16):
                try:
                    chunk = os.read(fd, _READ_CHUNK)
                except BlockingIOError:
                    break
                if not chunk:
                    self._sel.unregister(fd)
                    del self._open[fd]
                    break
                self.tails[key.data].write(chunk)
                if self._on_stdout is not None and key.data == "stdout":
                    self._on_stdout(chunk)

    def run_until(self, done: Callable[[], bool], deadline: float) -> bool:
        """Pump until done() is true (returns True) or the monotonic deadline passes (returns False)."""
        while True:
            if done():
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            if self._open or self._wake is not None:
                self._read_ready(min(0.05, deadline - now))
            else:
                time.sleep(min(0.05, deadline - now))

    def drain(self, grace: float) -> None:
        """After the run ended: read what is left until EOF on every fd, for at most `grace` seconds."""
        deadline = time.monotonic() + grace
        while self._open and time.monotonic() < deadline:
            self._read_ready(min(0.05, deadline - time.monotonic()))

    def close(self) -> None:
        for fd in list(self._open):
            self._sel.unregister(fd)
        self._open.clear()
        if self._wake is not None:
            self._sel.unregister(self._wake)
            self._wake = None
        self._sel.close()

    def result(self, name: str) -> tuple[bytes, int]:
        tail = self.tails[name]
        return tail.getvalue(), tail.total
