"""What runs inside the sandbox: PID 1, forking one child per probe and reporting raw facts on stdout.

Why these precautions: the student's code runs in the children with our uid, so they could kill or
impersonate an ordinary parent. `PR_SET_DUMPABLE 0` makes our /proc entries (fds, memory, environ)
unreadable to them. Each child gets fresh pipes for its envelope and its output; after each probe every
other process in the sandbox is killed and /tmp and /dev/shm are emptied, so a daemon or a planted file
cannot reach the next probe.

grade.py runs us as PID 1 of the sandbox's PID namespace (RunSpec.init=False: no docker --init, bwrap
--as-pid-1): the kernel then delivers no signal from the children to us, and every orphan is ours to
reap. Under an init of the sandbox's own (init=True) we are its only child, PID 2, and the children CAN
kill or stop us; the host trusts a run's output only when it is exactly the sequence of events below and
we exited 0 after "done" (grader/grading/supervisor_output.py), so that costs the student, never the
grader. Either way kill(-1) reaches every process of the sandbox but init and us, which is how "kill
everything else" is done; outside a sandbox (the job does not say "sandboxed") only the child's session
is killed.

The host reads one JSON line per event from our stdout: {"event": "start", "index"} then
{"event": "result", "index", "envelope", "exit", "signal", "timed_out", "seconds", "cpu_seconds",
"max_rss_bytes", "output"}; finally {"event": "done"}. It trusts a run only if we exit 0 after "done".

Runs with the sandbox's own Python and numpy; imports only the stdlib, numpy and capstone_tests.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import shutil
import signal
import sys
import time
from typing import Any

PR_SET_DUMPABLE = 4
ENVELOPE_CAP = 4 * 1024 * 1024
OUTPUT_CAP = 64 * 1024
DRAIN_GRACE_S = 0.2
KILL_PATIENCE_S = 5.0  # how long killing everything else may take before we give up (and exit non-zero)
BASELINE = "__baseline__"  # a run that only imports the package: the floor measured figures start from


def harden() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def run_child(test: dict[str, Any], envelope_w: int, output_w: int) -> None:
    """In the forked child: become the student's process and run one probe. Never returns."""
    try:
        os.setsid()
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        sys.path.insert(0, test["package_dir"])
        from capstone_tests.harness import run_probe
        from capstone_tests.registry import probe_for
        from capstone_tests.resolver import Resolver

        probe = _import_only if test["name"] == BASELINE else probe_for(test["suite"], test["name"])
        envelope = run_probe(probe, test["challenge"], Resolver("tinytorch"))
        data = json.dumps(envelope, separators=(",", ":")).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(envelope_w, view):]
    except BaseException:  # nothing may escape the child: silence is reported as a crash
        pass
    os._exit(0)


def _import_only(tt: Any, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.module(1)
    return {}


class Capped:
    """Keeps the first `cap` bytes of a stream and counts the rest."""

    def __init__(self, cap: int) -> None:
        self.cap, self.data, self.dropped = cap, bytearray(), 0

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - room)


SANDBOXED = False  # set by main(): we own the whole PID namespace but its init (see the module docstring)


def in_sandbox(job: dict[str, Any]) -> bool:
    """Whether kill(-1) means "everyone in this sandbox": only when the host says we are sandboxed, we are its
    init or init's child, and we are not root (kill(-1) as root outside a namespace would hit the machine)."""
    return job.get("sandboxed") is True and (os.getpid() == 1 or os.getppid() == 1) and os.getuid() != 0


def _others() -> list[int]:
    """Live processes in our PID namespace other than init and us (zombies are dead: init reaps them)."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, os.getpid()):
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # gone meanwhile
        if state not in (b"Z", b"X"):
            alive.append(int(entry))
    return alive


def kill_everything_else(child: int) -> None:
    """Kill every process but us (and init): the probe, its daemons, its fork bombs. Reap our own children."""
    if not SANDBOXED:  # outside a sandbox (our own tests): only the child's session
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        return
    deadline = time.monotonic() + KILL_PATIENCE_S
    while True:
        # One kill(-1) is atomic with respect to fork (the kernel walks the task list under its lock, and a
        # process with SIGKILL pending cannot finish a fork), so a fork bomb cannot outrun it; we loop for
        # processes still dying and reap our own children (init reaps the orphans).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(-1, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        if not _others():
            return
        if time.monotonic() > deadline:
            # Something we cannot kill would reach the next probe: stop, so the host sees an unclean run.
            raise SystemExit(f"processes survive SIGKILL: {_others()}")
        time.sleep(0.005)


def empty_scratch() -> None:
    for folder in ("/tmp", "/dev/shm"):
        if not os.path.isdir(folder) or not SANDBOXED:
            continue
        for entry in os.listdir(folder):
            path = os.path.join(folder, entry)
            with contextlib.suppress(OSError):
                os.chmod(path, 0o700, follow_symlinks=False)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, onerror=lambda f, p, e: (os.chmod(os.path.dirname(p), 0o700), f(p)))
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def run_test(test: dict[str, Any]) -> dict[str, Any]:
    envelope_r, envelope_w = os.pipe()
    output_r, output_w = os.pipe()
    start = time.monotonic()
    child = os.fork()
    if child == 0:
        os.close(envelope_r)
        os.close(output_r)
        run_child(test, envelope_w, output_w)
    os.close(envelope_w)
    os.close(output_w)
    envelope, output = Capped(ENVELOPE_CAP), Capped(OUTPUT_CAP)
    streams = {envelope_r: envelope, output_r: output}
    deadline = start + float(test["timeout_s"])
    status, rusage, timed_out, exited_at = None, None, False, None
    while True:
        now = time.monotonic()
        if status is None and now >= deadline:
            timed_out = True
            break
        if exited_at is not None and (not streams or now - exited_at > DRAIN_GRACE_S):
            break
        wait = 0.05 if status is None else DRAIN_GRACE_S
        ready, _, _ = select.select(list(streams), [], [], max(0.0, min(wait, deadline - now)))
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                streams[fd].add(chunk)
            else:
                del streams[fd]
        if status is None:
            pid, raw_status, usage = os.wait4(child, os.WNOHANG)
            if pid == child:
                status, rusage, exited_at = raw_status, usage, time.monotonic()
    seconds = (exited_at or time.monotonic()) - start
    kill_everything_else(child)
    if status is None:
        _, status, rusage = os.wait4(child, 0) if _alive(child) else (child, -1, None)
    os.close(envelope_r)
    os.close(output_r)
    empty_scratch()
    parsed = None
    if envelope.data and not envelope.dropped:
        try:
            parsed = json.loads(bytes(envelope.data), parse_constant=_refuse_constant)
        except ValueError:
            parsed = {"status": "unreadable"}
    elif envelope.dropped:
        parsed = {"status": "oversized", "bytes": len(envelope.data) + envelope.dropped}
    return {
        "event": "result",
        "index": test["index"],
        "envelope": parsed,
        "exit": os.waitstatus_to_exitcode(status) if isinstance(status, int) and status >= 0 else None,
        "timed_out": timed_out,
        "seconds": round(seconds, 6),
        "cpu_seconds": round(rusage.ru_utime + rusage.ru_stime, 6) if rusage else None,
        "max_rss_bytes": rusage.ru_maxrss * 1024 if rusage else None,
        "output": output.data.decode("utf-8", "replace"),
        "output_dropped": output.dropped,
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def main(job_path: str) -> int:
    global SANDBOXED
    harden()
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    SANDBOXED = in_sandbox(job)
    # Import once here so each forked child starts warm; nothing of the student's is loaded yet.
    import numpy  # noqa: F401

    import capstone_tests.harness  # noqa: F401

    for test in job["tests"]:
        emit({"event": "start", "index": test["index"]})
        emit(run_test(test))
    emit({"event": "done"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
