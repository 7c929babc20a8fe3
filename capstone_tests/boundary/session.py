"""The harness's end of the boundary: a link to one supervisor, and one test's channel to its object server.

A *link* carries frames to and from a supervisor: `SandboxLink` runs it in a sandbox (docker or bubblewrap, the
run's stdin and stdout), `ProcessLink` as a plain local process (our own tests of the boundary). Either way the
link's reader thread turns what arrives into items on a queue, and the harness thread reads them with deadlines.

A `Channel` is one test: it assigns handles, buffers pipelined requests and sends them when it must wait for an
answer, and checks every answer as untrusted data (protocol.decode_answer). Faults of the boundary itself are
BaseExceptions, so a probe's own `except Exception` never swallows them: the test timed out (`TestTimeout`, with
the call it was stuck in), the student's process went away (`ServerGone`), an answer was malformed
(`MalformedAnswer`), or the link itself broke (`LinkBroken`, which ends the sandbox run).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .inside import protocol

READY_TIMEOUT_S = 60.0
END_TIMEOUT_S = 20.0  # the supervisor gives a stopped keeper about a second, a hung one 15 s past the limit
MAX_TEST_ANSWER_BYTES = 256 * 1024 * 1024
SEND_BATCH = 64 * 1024


class BoundaryFault(BaseException):
    """The test could not be run to its end through the boundary (never the probe's to catch)."""


class TestTimeout(BoundaryFault):
    __test__ = False  # not a pytest test class

    def __init__(self, waiting_for: str) -> None:
        super().__init__(waiting_for)
        self.waiting_for = waiting_for


class ServerGone(BoundaryFault):
    """The student's process closed its answer stream (it exited, was killed, or closed the pipe)."""


class MalformedAnswer(BoundaryFault):
    pass


class LinkBroken(BoundaryFault):
    """The supervisor's stream ended or broke: nothing more can run in this sandbox. `before_test`: it broke
    while a test was being started (so that test never ran, and is not to be charged)."""

    before_test = False


class RemoteError(Exception):
    """An exception the student's code raised in its own process; a probe may catch it like a local one."""

    def __init__(self, failure: protocol.RemoteFailure, during: str) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.during = during


# ------------------------------------------------------------------------------------------------ links
class Link:
    """Frames out, items in: ("event", dict), ("data", bytes), ("broken", reason)."""

    def __init__(self) -> None:
        self.items: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._frames = protocol.FrameReader(protocol.EVENT + protocol.DATA)
        self.dead = False  # the stream broke or ended: nothing more can run on this link
        # where the sandbox's memory and CPU time are counted (every process of it), when there is a sandbox
        self.memory_cgroup: str | None = None
        self.cpu_cgroup: str | None = None

    def fail(self, reason: str) -> None:
        self.dead = True
        self.items.put(("broken", reason))

    def on_stdout(self, chunk: bytes) -> None:
        if self.dead:
            return
        try:
            frames = self._frames.feed(chunk)
        except protocol.Malformed as error:
            self.fail(f"the supervisor's stream is not framed: {error}")
            return
        for kind, payload in frames:
            if kind == protocol.DATA:
                self.items.put(("data", payload))
                continue
            try:
                event = protocol.parse_json(payload, max_bytes=1 << 20)
            except protocol.Malformed as error:
                self.fail(f"a supervisor event is not JSON: {error}")
                return
            if not isinstance(event, dict):
                self.fail("a supervisor event is not an object")
                return
            self.items.put(("event", event))

    def send(self, data: bytes) -> None:
        raise NotImplementedError

    def close(self) -> Any:
        raise NotImplementedError


class ProcessLink(Link):
    """The supervisor as a local child process (no sandbox): for tests of the boundary itself."""

    def __init__(self, package_dir: Path) -> None:
        super().__init__()
        boundary = Path(__file__).resolve().parent  # holds inside/, importable as the package `inside`
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(boundary),
               "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "inside.supervisor", str(package_dir)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(package_dir))
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout.fileno(),), daemon=True)
        self._reader.start()

    def _read(self, fd: int) -> None:
        while chunk := os.read(fd, 1 << 16):
            self.on_stdout(chunk)
        self.fail("the supervisor's stream ended")

    def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError) as error:
            raise LinkBroken(f"the supervisor no longer reads: {error}") from None

    def close(self) -> int:
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            self._reader.join(timeout=5)
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()


class SandboxLink(Link):
    """The supervisor as the command of a sandbox run (`make_spec(stdin_fd, on_stdout, on_started)` builds its
    RunSpec); the run goes on in a thread of its own until `close()` sends EOF and collects its RunResult."""

    def __init__(self, sandbox: Any, make_spec: Any) -> None:
        super().__init__()
        read_end, self._write_end = os.pipe()
        self.result: Any = None
        self.error: BaseException | None = None
        spec = make_spec(read_end, self.on_stdout, self.on_started)

        def run() -> None:
            try:
                self.result = sandbox.run(spec)
            except BaseException as error:
                self.error = error
            finally:
                os.close(read_end)
                self.fail("the sandbox run ended")

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def on_started(self, facts: dict[str, Any]) -> None:
        memory, cpu = facts.get("memory_cgroup"), facts.get("cpu_cgroup")
        self.memory_cgroup = memory if isinstance(memory, str) else None
        self.cpu_cgroup = cpu if isinstance(cpu, str) else None

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._write_end, view):]
        except OSError as error:
            raise LinkBroken(f"the sandbox no longer reads its input: {error}") from None

    def close(self) -> Any:
        if self._write_end >= 0:
            os.close(self._write_end)
            self._write_end = -1
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.result


# ------------------------------------------------------------------------------------------------ session
@dataclass(frozen=True)
class TestEnd:
    """What the supervisor measured for one test (never anything the student's process said)."""

    __test__ = False  # not a pytest test class

    timed_out: bool
    keeper: str  # "ok", or "killed"/"stuck": the measuring process did not report, so no figures
    cpu_seconds: float | None
    peak_rss_bytes: int | None  # above the keeper's own size when the test started
    exit: int | None
    output: str
    output_dropped: int


class Session:
    """One supervisor: tests run one after another, each with a fresh object server."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.ends: dict[Any, dict[str, Any]] = {}
        self.started = 0  # tests started so far; each test's number
        self.waited_s = 0.0  # time spent waiting for the sandbox's side (the rest is the harness's own)
        self.info = self._event("ready", time.monotonic() + READY_TIMEOUT_S)

    def _event(self, kind: str, deadline: float, test: int | None = None) -> dict[str, Any]:
        """Wait for the supervisor's next `kind` event (of `test`). Data still arriving from a test that has ended
        is dropped (the supervisor relays a test's data before its "ended", so nothing of it can reach a later
        test's channel), and "ended" events are kept for collect()."""
        while True:
            item = self._next(deadline, f"the sandbox's {kind} event")
            if item[0] == "broken":
                raise LinkBroken(item[1])
            if item[0] != "event":
                continue
            event = item[1]
            if event.get("event") == "ended":
                self.ends[event.get("test")] = event
            if event.get("event") == kind and (test is None or event.get("test") == test):
                return event

    def _next(self, deadline: float, waiting_for: str) -> tuple[str, Any]:
        started = time.perf_counter()
        try:
            return self.link.items.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise LinkBroken(f"no answer from the sandbox while waiting for {waiting_for}") from None
        finally:
            self.waited_s += time.perf_counter() - started

    def start(self, timeout_s: float, measure_memory: bool = False, measure_cpu: bool = False) -> Channel:
        """A fresh object server for one test. Tests are numbered by the session (never reused), so what the
        supervisor reports about a test can never be taken for another's. With measure_memory / measure_cpu, the
        sandbox's counters are taken when the test has started, for reading once it has ended."""
        self.started += 1
        number = self.started
        try:
            self.link.send(protocol.frame_json(protocol.CONTROL, {"cmd": "start", "test": number,
                                                                  "timeout_s": timeout_s}))
        except LinkBroken as broken:
            broken.before_test = True
            raise
        channel = Channel(self, number, timeout_s)
        memory = measure_memory and self.link.memory_cgroup is not None
        cpu = measure_cpu and self.link.cpu_cgroup is not None
        if not (memory or cpu):
            # Pipelined: the requests follow the "start" at once and wait in the stream for the test's keeper,
            # so the supervisor's cleanup after the last test and the fork of this one overlap with the probe's
            # first steps; the channel takes its "started" on the way to its first answer.
            return channel
        channel.wait_started()
        # Now: the previous test is cleaned up (the supervisor forks a keeper only after), and the new server has
        # not imported anything yet (it waits for its first request): the counters start from here.
        if memory:
            channel.memory = MemoryPeak(Path(self.link.memory_cgroup))  # type: ignore[arg-type]
        if cpu:
            channel.cpu = CpuTime(Path(self.link.cpu_cgroup))  # type: ignore[arg-type]
        return channel

    def end(self, channel: Channel, wait: bool = True) -> TestEnd | None:
        """End the test. Without wait, the supervisor cleans up while we go on (the next start() or collect()
        picks up what it measured)."""
        channel.closed = True
        if channel.ended is not None:  # the supervisor's backstop already ended it
            self.ends[channel.number] = channel.ended
        else:
            self.link.send(protocol.frame_json(protocol.CONTROL, {"cmd": "end"}))
        return self.collect(channel.number) if wait else None

    def collect(self, number: int) -> TestEnd:
        """What the supervisor measured for an ended test (waits for it if it has not arrived yet)."""
        if number not in self.ends:
            self._event("ended", time.monotonic() + END_TIMEOUT_S, number)
        return _test_end(self.ends[number])

    def close(self) -> Any:
        return self.link.close()


def _test_end(event: dict[str, Any]) -> TestEnd:
    def number(key: str) -> float | None:
        value = event.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else None

    rss, baseline = number("max_rss_bytes"), number("baseline_rss_bytes")
    exit_code = event.get("exit")
    return TestEnd(
        timed_out=event.get("timed_out") is True,
        keeper=event.get("keeper") if event.get("keeper") in ("ok", "killed", "stuck") else "killed",
        cpu_seconds=number("cpu_seconds"),
        peak_rss_bytes=int(max(0.0, rss - baseline)) if rss is not None and baseline is not None else None,
        exit=exit_code if type(exit_code) is int else None,
        output=event.get("output") if isinstance(event.get("output"), str) else "",
        output_dropped=event.get("output_dropped") if type(event.get("output_dropped")) is int else 0,
    )


class MemoryPeak:
    """A sandbox's memory over one test, from its cgroup (v1), read on the host: the sum over every process of
    the sandbox (processes that split their memory between them are counted together), page cache and tmpfs
    included. The peak is reset when the test starts; read() is the highest usage since, above the usage then
    (the supervisor's and the fresh keeper's)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "memory.max_usage_in_bytes").write_text("0")  # resets the peak to the current usage
        self.base = int((folder / "memory.usage_in_bytes").read_text())

    def read(self) -> int:
        return max(0, int((self.folder / "memory.max_usage_in_bytes").read_text()) - self.base)


class CpuTime:
    """A sandbox's CPU time over one test, from its cgroup (v1 cpuacct), read on the host: every process of the
    sandbox, including those no one waits for (a child whose parent ignores SIGCHLD is reaped by the kernel and
    its CPU time is added to no one's RUSAGE_CHILDREN) and the keeper's relaying, which is the same work for the
    reference and the student."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.start = self._now()

    def _now(self) -> int:
        return int((self.folder / "cpuacct.usage").read_text())

    def read(self) -> float:
        return max(0, self._now() - self.start) / 1e9


class Channel:
    """One test's requests and answers. Handles are ours to assign; requests wait in `_out` until an answer is
    needed (or the batch is large), then go in one frame."""

    def __init__(self, session: Session, number: int, timeout_s: float) -> None:
        self.session = session
        self.number = number
        self.timeout_s = timeout_s
        # Until the supervisor says the test has started, what arrives is the previous test's (dropped), and the
        # wait is the supervisor's (READY_TIMEOUT_S, then the sandbox counts as broken); from then on the test
        # has its own limit, so a slow cleanup after the last test never eats into it.
        self.live = False
        self.deadline = time.monotonic() + READY_TIMEOUT_S
        self.closed = False
        self.ended: dict[str, Any] | None = None
        self._next_handle = 1
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._labels: list[str] = []  # label of request n at index n - 1
        self._answers = bytearray()
        self._answer_bytes = 0
        self._busy: int | None = None
        self._released: list[int] = []
        self.memory: MemoryPeak | None = None
        self.cpu: CpuTime | None = None
        self.round_trips = 0

    # -------------------------------------------------------------------------------------- sending
    def new_handle(self, count: int = 1) -> int:
        handle = self._next_handle
        self._next_handle += count
        return handle

    def send(self, request: dict[str, Any], label: str) -> None:
        if self.closed:
            raise ServerGone("the test has already ended")
        line = json.dumps(request, separators=(",", ":")).encode() + b"\n"
        self._out.append(line)
        self._out_bytes += len(line)
        self._labels.append(label)
        if self._out_bytes >= SEND_BATCH:
            self.flush()

    def release(self, handle: int) -> None:
        """Called when a proxy dies; sent with the next batch of requests (never on its own)."""
        if not self.closed:
            self._released.append(handle)

    def flush(self) -> None:
        if self._released and not self.closed:
            released, self._released = self._released, []
            self._out.append(json.dumps({"op": "release", "ids": released}, separators=(",", ":")).encode() + b"\n")
            self._labels.append("release")
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            self._out_bytes = 0
            self.session.link.send(protocol.frame(protocol.DATA, data))

    # -------------------------------------------------------------------------------------- answers
    def ask(self, request: dict[str, Any], label: str) -> dict[str, Any]:
        """Send `request` (with everything pipelined before it) and wait for its answer."""
        self.send(request, label)
        self.flush()
        self.round_trips += 1
        answer = self._answer(label)
        if answer["r"] == "error":
            failure = answer["failure"]
            during = self._labels[failure.op - 1] if 0 < failure.op <= len(self._labels) else label
            raise RemoteError(failure, during)
        return answer

    def _answer(self, label: str) -> dict[str, Any]:
        while True:
            end = self._answers.find(b"\n")
            if end >= 0:
                line = bytes(self._answers[:end])
                del self._answers[:end + 1]
                try:
                    answer = protocol.decode_answer(line)
                except protocol.Malformed as error:
                    raise MalformedAnswer(f"while waiting for {label}: {error}") from None
                if answer["r"] == "busy":
                    self._busy = answer["op"]
                    continue
                return answer
            if len(self._answers) > protocol.MAX_ANSWER_BYTES:
                raise MalformedAnswer(f"an answer longer than {protocol.MAX_ANSWER_BYTES} bytes")
            kind, payload = self._wait(label)
            if kind == "data":
                self._answer_bytes += len(payload)
                if self._answer_bytes > MAX_TEST_ANSWER_BYTES:
                    raise MalformedAnswer(f"the test's answers exceed {MAX_TEST_ANSWER_BYTES} bytes")
                self._answers += payload

    def wait_started(self) -> None:
        while not self.live:
            self._wait("the start of the test")

    def _wait(self, label: str) -> tuple[str, Any]:
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                if not self.live:
                    broken = LinkBroken(f"the sandbox did not start the test within {READY_TIMEOUT_S:g} s")
                    broken.before_test = True
                    raise broken
                raise TestTimeout(self.stuck_in(label))
            started = time.perf_counter()
            try:
                kind, payload = self.session.link.items.get(timeout=remaining)
            except queue.Empty:
                continue
            finally:
                self.session.waited_s += time.perf_counter() - started
            if kind == "data":
                if self.live:
                    return kind, payload
                continue  # still arriving from a test that ended before this one started
            if kind == "broken":
                broken = LinkBroken(payload)
                broken.before_test = not self.live
                raise broken
            event, test = payload.get("event"), payload.get("test")
            if event == "started" and test == self.number:
                self.live = True
                self.deadline = time.monotonic() + self.timeout_s
                if label == "the start of the test":
                    return "event", payload
            elif event == "ended" and test != self.number:  # a test we ended without waiting
                self.session.ends[test] = payload
            elif event == "closed" and test == self.number:
                raise ServerGone(f"the student's process ended while running {label}")
            elif event == "ended":  # the supervisor's own backstop ended the test
                self.ended = payload
                raise TestTimeout(self.stuck_in(label))

    def stuck_in(self, label: str) -> str:
        if self._busy is not None and 0 < self._busy <= len(self._labels):
            return self._labels[self._busy - 1]
        return label
