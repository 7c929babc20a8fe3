"""Carrying the caller's live stdin (RunSpec.stdin) into a container's stdin FIFO, from a host-side thread.

BubblewrapSandbox hands RunSpec.stdin straight to its launcher as fd 0. A container cannot be handed a host fd, so
DockerSandbox gives the command a FIFO as stdin (the prologue's `<FIFO`) and StdinRelay copies the caller's fd
into it as bytes arrive: no buffering until EOF, no sleep-polling (the thread sleeps in poll(2) and wakes on data),
so a request/response protocol sees one extra thread hop (well under a millisecond) per message.

Neither side can block forever:
  - the host opens its end of the FIFO O_RDWR before the container starts, so the container's open for reading
    returns at once (there is a writer) and the host's never waits for a reader;
  - every wait is a poll(2) that also watches a stop pipe: stop() (at exit, at the wall limit, on any error) ends
    the thread promptly even when the container never reads and the FIFO is full;
  - at EOF on the caller's fd, the host end is closed once what was read has been written, so the command sees
    EOF after the last byte; but only after the container has opened the FIFO (its start marker is there): closing
    the last open end of a FIFO nobody has opened yet would discard the buffered bytes and leave the container's
    open waiting for a writer that never comes.
The caller's fd is only polled and read, never closed nor its flags changed (it is the caller's).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import threading

_CHUNK = 64 * 1024  # one pipe buffer


class StdinRelay:
    """Copies `source` (the caller's fd) into `fifo` (the host's O_RDWR end, owned and closed by the relay) from a
    thread. `opened`: an fd that becomes readable once the container has opened its end (the start-marker FIFO;
    polled, never read)."""

    def __init__(self, source: int, fifo: int, opened: int) -> None:
        self._source = source
        self._fifo = fifo
        self._opened = opened
        os.set_blocking(fifo, False)  # a full FIFO must not block the thread: it waits in poll() with the stop pipe
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="sandbox-stdin-relay", daemon=True)
        self.relayed = 0  # bytes written into the FIFO
        self.eof = False  # the caller's end reached EOF (and the FIFO was closed after it)
        self.error: OSError | None = None  # an unexpected failure: no more input reaches the command

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End the thread (whatever it is waiting for), wait for it, and close the FIFO end. Idempotent."""
        if self._stop_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._stop_w, b"x")
        if self._thread.ident is not None:  # started
            self._thread.join()
        for name in ("_fifo", "_stop_r", "_stop_w"):
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._stop_r, select.POLLIN)
        watched = -1
        pending = memoryview(b"")
        eof = False
        try:
            while True:
                if pending:  # usually the FIFO has room: write at once, poll only when it is full
                    try:
                        written = os.write(self._fifo, pending)
                        self.relayed += written
                        pending = pending[written:]
                    except BlockingIOError:
                        pass
                if pending:
                    want, mask = self._fifo, select.POLLOUT
                elif not eof:
                    want, mask = self._source, select.POLLIN
                else:
                    want, mask = self._opened, select.POLLIN
                if want != watched:
                    if watched >= 0:
                        poller.unregister(watched)
                    poller.register(want, mask)
                    watched = want
                ready = {fd for fd, _ in poller.poll()}
                if self._stop_r in ready:
                    return
                if want not in ready or want == self._fifo:
                    continue  # (POLLOUT on the FIFO: the write at the top of the loop)
                if want == self._source:
                    try:
                        chunk = os.read(want, _CHUNK)
                    except BlockingIOError:  # a non-blocking fd emptied by someone else meanwhile: wait again
                        continue
                    except OSError as exc:  # e.g. the caller closed its fd mid-run: taken as EOF
                        if exc.errno != errno.EBADF:
                            self.error = exc
                        chunk = b""
                    pending = memoryview(chunk)
                    eof = not chunk
                else:  # EOF, everything written, the container has its end open: close ours, it then sees EOF
                    fifo, self._fifo = self._fifo, -1
                    os.close(fifo)
                    self.eof = True
                    return
        except OSError as exc:
            self.error = exc
