"""RunSpec.stdin, a live input stream, and /dev/mqueue: every test runs once under docker and once under bwrap."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import queue
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox import Limits, RunResult, RunSpec, Sandbox
from tests.sandbox.test_sandbox_isolation import assert_nothing_left, run_py

ECHO = """
import sys
for line in sys.stdin.buffer:
    sys.stdout.buffer.write(b"answer " + line)
    sys.stdout.buffer.flush()
print("stdin closed", flush=True)
"""


class Session:
    """The typical caller: run() in a thread of its own, requests written from this thread, answers read through
    on_stdout (which must be called from the thread running run())."""

    def __init__(self, sandbox: Sandbox, submission: Path, program: str, limits: Limits, **kw: object) -> None:
        self.read_end, self.write_end = os.pipe()
        self.chunks: queue.Queue[bytes] = queue.Queue()
        self.buffer = b""
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self.callback_threads: set[int] = set()
        self.spec = RunSpec(submission=submission, argv=["python3", "-c", textwrap.dedent(program)], limits=limits,
                            stdin=self.read_end, on_stdout=self._on_stdout, **kw)  # type: ignore[arg-type]
        self.thread = threading.Thread(target=self._run, args=(sandbox,))

    def _on_stdout(self, chunk: bytes) -> None:
        self.callback_threads.add(threading.get_ident())
        self.chunks.put(chunk)

    def _run(self, sandbox: Sandbox) -> None:
        try:
            self.result = sandbox.run(self.spec)
        except BaseException as exc:  # re-raised in the test's thread by finish()
            self.error = exc

    def start(self) -> Session:
        self.thread.start()
        return self

    def wait_for(self, expected: bytes, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while expected not in self.buffer:
            self.buffer += self.chunks.get(timeout=max(0.0, deadline - time.monotonic()))

    def finish(self, timeout: float = 90.0) -> RunResult:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "run() did not return"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        os.fstat(self.read_end)  # run() left the caller's fd open: it is the caller's to close
        assert self.callback_threads in (set(), {self.thread.ident})
        assert_nothing_left(self.result)
        assert_no_relay_thread()
        return self.result

    def close_write(self) -> None:
        """EOF for the command."""
        if self.write_end >= 0:
            os.close(self.write_end)
            self.write_end = -1

    def close_read(self) -> None:
        """What the caller does once run() returned (the read end is its own)."""
        if self.read_end >= 0:
            os.close(self.read_end)
            self.read_end = -1


@pytest.fixture
def session(sandbox: Sandbox, submission: Path) -> Iterator[Callable[..., Session]]:
    made: list[Session] = []

    def make(program: str, limits: Limits | None = None, **kw: object) -> Session:
        made.append(Session(sandbox, submission, program, limits or Limits(wall_seconds=60), **kw).start())
        return made[-1]

    yield make
    for s in made:  # a failed test must not leave a run behind either
        s.close_write()
        s.thread.join(120)
        s.close_read()


def assert_no_relay_thread() -> None:
    assert [t.name for t in threading.enumerate() if t.name == "sandbox-stdin-relay"] == []


@pytest.mark.parametrize("init", [True, False], ids=["init", "pid1"])
def test_stdin_is_streamed_line_by_line(sandbox: Sandbox, session: Callable[..., Session], init: bool) -> None:
    s = session(ECHO, init=init)
    for i in range(5):
        # the next line is written only once the previous answer arrived: nothing waits for EOF
        os.write(s.write_end, b"line %d\n" % i)
        s.wait_for(b"answer line %d\n" % i)
    assert s.result is None and s.thread.is_alive()  # still running, between two requests
    s.close_write()
    s.wait_for(b"stdin closed\n")
    result = s.finish()
    assert result.exit_code == 0 and not result.timed_out, result.stderr
    assert result.stdout == b"".join(b"answer line %d\n" % i for i in range(5)) + b"stdin closed\n"


def test_thousand_round_trips(sandbox: Sandbox, session: Callable[..., Session]) -> None:
    s = session(ECHO)
    n = 1000
    os.write(s.write_end, b"warm-up\n")
    s.wait_for(b"answer warm-up\n")
    started = time.perf_counter()
    for i in range(n):
        os.write(s.write_end, b"%d\n" % i)
        s.wait_for(b"answer %d\n" % i)
    mean = (time.perf_counter() - started) / n
    s.close_write()
    result = s.finish()
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count(b"answer ") == n + 1
    print(f"\n{sandbox.name}: {n} stdin round trips, mean {mean * 1e6:.0f} us each")  # shown with -s


def test_bulk_input_written_and_closed_before_the_command_starts(sandbox: Sandbox,
                                                                 session: Callable[..., Session]) -> None:
    """More than a pipe buffer, and EOF possibly before the container has even opened its stdin: all arrives."""
    data = os.urandom(3 * 1024 * 1024 + 17)
    s = session("""
        import hashlib, sys
        data = sys.stdin.buffer.read()
        print(len(data), hashlib.sha256(data).hexdigest())
    """)

    def writer() -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(s.write_end, view):]
        s.close_write()

    thread = threading.Thread(target=writer)  # so that a failing run() cannot leave this test blocked in write()
    thread.start()
    result = s.finish()
    thread.join(10)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.decode().split() == [str(len(data)), hashlib.sha256(data).hexdigest()]


@pytest.mark.parametrize("data", [b"", b"early\n"], ids=["nothing", "a-little"])
def test_input_closed_at_once_arrives_whole_then_eof(sandbox: Sandbox, session: Callable[..., Session],
                                                     data: bytes) -> None:
    """Written and closed while the sandbox is still starting (docker: before the container opened its FIFO)."""
    s = session("import sys; print(repr(sys.stdin.buffer.read()))")
    os.write(s.write_end, data)
    s.close_write()
    result = s.finish()
    assert result.exit_code == 0 and result.stdout == repr(data).encode() + b"\n", result.stderr


@pytest.mark.parametrize("ending", ["exit", "timeout"])
def test_unread_stdin_does_not_hang_the_caller(sandbox: Sandbox, session: Callable[..., Session],
                                               ending: str) -> None:
    """The command never reads; the caller writes far more than a pipe buffer. run() still returns (at exit or at
    the wall limit), and once the caller closes its read end, its blocked writer fails with EPIPE."""
    program = "import time; time.sleep(1.5)" if ending == "exit" else "import time; time.sleep(1000)"
    limits = Limits(wall_seconds=20 if ending == "exit" else 3)
    started = time.monotonic()
    s = session(program, limits=limits)
    written: list[int] = []
    failure: list[int] = []

    def writer() -> None:
        block = b"w" * 65536
        try:
            for _ in range(256):  # 16 MiB
                written.append(os.write(s.write_end, block))
        except OSError as exc:
            failure.append(exc.errno)

    thread = threading.Thread(target=writer)
    thread.start()
    result = s.finish()
    assert time.monotonic() - started < limits.wall_seconds + 30
    if ending == "exit":
        assert result.exit_code == 0 and not result.timed_out, result.stderr
    else:
        assert result.timed_out and result.exit_code is None
    assert thread.is_alive()  # blocked on the full pipe: the caller still holds the read end
    s.close_read()  # the caller's to close; the blocked write then fails
    thread.join(10)
    assert not thread.is_alive()
    assert failure == [errno.EPIPE]
    assert 0 < sum(written) < 16 * 1024 * 1024


def test_default_stdin_is_dev_null(sandbox: Sandbox, submission: Path) -> None:
    result = run_py(sandbox, submission, """
        import os, stat, sys, time
        info = os.fstat(0)
        started = time.monotonic()
        data = sys.stdin.buffer.read()
        print(stat.S_ISCHR(info.st_mode), os.major(info.st_rdev), os.minor(info.st_rdev), repr(data),
              time.monotonic() - started < 1)
    """)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == b"True 1 3 b'' True\n"


def test_stdin_cannot_be_written_from_inside(sandbox: Sandbox, session: Callable[..., Session]) -> None:
    """Only the caller feeds the command: its own fd 0 (or the FIFO behind it) cannot be reopened for writing."""
    s = session("""
        import json, os
        target = os.readlink("/proc/self/fd/0")
        outcome = {}
        for path in ["/proc/self/fd/0", target]:
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
                outcome[path] = "OPENED"
            except OSError as exc:
                outcome[path] = exc.errno
        print(json.dumps(outcome))
    """)
    s.close_write()
    result = s.finish()
    assert result.exit_code == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert "OPENED" not in outcome.values()
    assert set(outcome.values()) <= {errno.EACCES, errno.ENOENT}, outcome
    assert outcome["/proc/self/fd/0"] == errno.EACCES


MQUEUE = """
    import ctypes, json, os
    libc = ctypes.CDLL(None, use_errno=True)
    report = {"before": sorted(os.listdir("/dev/mqueue")), "mode": oct(os.stat("/dev/mqueue").st_mode)}
    fd = libc.mq_open(b"/probe-%s", os.O_CREAT | os.O_RDWR, 0o600, None)
    report["mq_open"] = [fd, ctypes.get_errno()]
    report["during"] = sorted(os.listdir("/dev/mqueue"))
    if %s:
        os.unlink("/dev/mqueue/probe-%s")
    report["after"] = sorted(os.listdir("/dev/mqueue"))
    print(json.dumps(report))
"""


def test_dev_mqueue_is_the_runs_own(sandbox: Sandbox, submission: Path) -> None:
    first = run_py(sandbox, submission, MQUEUE % ("a", False, "a"))  # leaves its queue behind
    second = run_py(sandbox, submission, MQUEUE % ("b", True, "b"))
    for result in (first, second):
        assert result.exit_code == 0, result.stderr
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one == {"before": [], "mode": "0o41777", "mq_open": [3, 0], "during": ["probe-a"], "after": ["probe-a"]}
    # a fresh run sees none of the previous run's queues, and can unlink its own
    assert two == {"before": [], "mode": "0o41777", "mq_open": [3, 0], "during": ["probe-b"], "after": []}
