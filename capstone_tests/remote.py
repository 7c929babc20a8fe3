"""Graded tests through the boundary: the probe here, the student's objects in the object server.

`run_remote` runs one test in a fresh object server of a Session and returns its envelope (the same shapes as
the plain form's, plus "timeout", "gone" and "malformed" for faults of the student's side) with what the
supervisor measured. `measure_remote` takes the P7 figures: the same probe on the reference's and the student's
sessions, at the same time, under the same conditions, from the supervisor's per-test counters of every process of
the test (never a figure the student's process reports, and no baseline the student's code controls):
- time: CPU seconds of `steps` and of 3 x `steps` training steps, each the least of ROUNDS; the difference is the
  cost of the extra steps alone (imports and set-up cancel out);
- memory: peak resident memory of the test above the supervisor's own, the least of ROUNDS.
`grade_through_boundary` is the whole loop on local processes (no sandbox), for our tests and for debugging.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .boundary.proxy import RemoteResolver
from .boundary.session import MalformedAnswer, ProcessLink, ServerGone, Session, TestEnd, TestTimeout
from .harness import judge, make_challenge, run_probe
from .registry import GradedTest, load_suite
from .verdict import Verdict

ROUNDS = 1  # measured runs per variant and side; tests/grader/test_p7_stability.py holds this to account
LONG_RUN = 3  # the long time run does this many times the challenge's steps


@dataclass(frozen=True)
class RemoteRun:
    envelope: dict[str, Any]
    number: int  # the session's number of this test
    end: TestEnd | None  # None when not waited for: Session.collect(number) has it later
    round_trips: int
    seconds: float
    memory_peak: int | None = None  # the sandbox cgroup's peak over the test (measure_memory, in a sandbox)
    cpu_seconds: float | None = None  # the sandbox cgroup's CPU time over the test (measure_cpu, in a sandbox)


def run_remote(session: Session, test: GradedTest, challenge: dict[str, Any],
               timeout_s: float, wait_end: bool = True, measure_memory: bool = False,
               measure_cpu: bool = False) -> RemoteRun:
    """One test in a fresh object server. A broken link (LinkBroken) is left to the caller: the sandbox is gone.
    Without wait_end the supervisor's cleanup overlaps with what the caller does next (end is then None)."""
    started = time.perf_counter()
    channel = session.start(timeout_s, measure_memory=measure_memory, measure_cpu=measure_cpu)
    try:
        envelope = run_probe(test.probe, challenge, RemoteResolver(channel))
    except TestTimeout as timeout:
        envelope = {"status": "timeout", "waiting_for": timeout.waiting_for, "limit_s": round(timeout_s, 1)}
    except ServerGone as gone:
        envelope = {"status": "gone", "during": str(gone).removeprefix("the student's process ended while running ")}
    except MalformedAnswer as malformed:
        envelope = {"status": "malformed", "message": str(malformed)}
    counted = channel.memory is not None or channel.cpu is not None
    end = session.end(channel, wait=wait_end or envelope["status"] == "gone" or counted)
    memory_peak = channel.memory.read() if channel.memory is not None else None
    cpu_seconds = channel.cpu.read() if channel.cpu is not None else None
    if end is not None and envelope["status"] == "gone":
        envelope["how"] = f"exit code {end.exit}" if end.exit is not None and end.exit >= 0 else \
            f"killed by signal {-end.exit}" if end.exit is not None else "it was killed"
    return RemoteRun(envelope, channel.number, end, channel.round_trips, time.perf_counter() - started, memory_peak,
                     cpu_seconds)


def measure_remote(sessions: dict[str, Session], test: GradedTest, challenge: dict[str, Any],
                   timeout_s: float, student_run: RemoteRun | None = None,
                   reference_timeout_s: float | None = None) -> dict[str, Any]:
    """The P7 figure of `test` on both sides: {"student": {...}, "reference": {...}}, each with its "status".

    The two sides run at the same time, each in its own sandbox (one CPU each): whatever else the machine is doing
    weighs on both alike. `student_run`: what the supervisor measured of the student's graded run of this same
    challenge, which then stands as the student's first run. `reference_timeout_s`: the reference's own limit
    (the student's may have been cut short by its earlier timeouts; the reference must never be)."""
    variants = _variants(test, challenge)

    def measure(side: str) -> tuple[list[list[RemoteRun]], str, Any]:
        ends: list[list[RemoteRun]] = []
        status, last = "ok", None
        for round_number in range(ROUNDS):
            reuse = side == "student" and round_number == 0 and student_run is not None
            limit = (reference_timeout_s or timeout_s) if side == "reference" else timeout_s
            runs = [run_remote(sessions[side], test, variant, limit, measure_memory=test.measure == "memory",
                               measure_cpu=test.measure == "time") for variant in variants[1 if reuse else 0:]]
            ends.append(([student_run] if reuse and student_run else []) + runs)
            bad = next((r.envelope["status"] for r in runs if r.envelope["status"] != "ok"), None)
            if bad is not None and status == "ok":
                status = bad
            last = runs[-1].envelope.get("artefacts") if runs else None
        return ends, status, last

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {side: pool.submit(measure, side) for side in ("reference", "student")}
        results = {side: future.result() for side, future in futures.items()}
    measured = {}
    for side, (ends, status, last) in results.items():
        figure = _figure(test, ends)
        measured[side] = {"status": status if figure is not None or status != "ok" else "unmeasured",
                          **(figure or {})}
        if test.measure == "time":
            # The long run's own artefacts (still untrusted, encoded): the check makes sure its steps did the
            # work, so a package cannot make the measured extra steps cheap by skipping them.
            measured[side]["long_run"] = last
    return measured


def _variants(test: GradedTest, challenge: dict[str, Any]) -> list[dict[str, Any]]:
    if test.measure == "time":
        return [challenge, dict(challenge, steps=LONG_RUN * int(challenge["steps"]))]
    return [challenge]


def _figure(test: GradedTest, rounds: list[list[RemoteRun]]) -> dict[str, float] | None:
    """The least of each run over the rounds (noise only ever adds), then the figure: a run whose measuring
    process was killed or stopped, or that reported nothing, leaves the side without a figure."""
    per_variant = list(zip(*rounds, strict=True)) if all(len(r) == len(rounds[0]) for r in rounds) else []
    ends = [[run.end for run in runs] for runs in per_variant]
    if not per_variant or any(end is None or end.keeper != "ok" for runs in ends for end in runs):
        return None
    if test.measure == "time":
        # The sandbox's own count (every process of it); outside a sandbox, the keeper's (every process it reaped).
        cpu = [[run.cpu_seconds if run.cpu_seconds is not None else run.end.cpu_seconds  # type: ignore[union-attr]
                for run in runs] for runs in per_variant]
        if any(c is None for runs in cpu for c in runs) or len(cpu) != 2:
            return None
        return {"cpu_seconds": max(0.0, min(cpu[1]) - min(cpu[0]))}  # type: ignore[type-var]
    # Memory: the sandbox's own count (every process summed); outside a sandbox, the keeper's (the largest one).
    peaks = [run.memory_peak if run.memory_peak is not None else run.end.peak_rss_bytes  # type: ignore[union-attr]
             for run in per_variant[0]]
    return None if any(p is None for p in peaks) else {"peak_bytes": float(min(peaks))}  # type: ignore[type-var]


# ------------------------------------------------------------------------------------------------ local loop
def grade_through_boundary(package_root: Path, suites: list[str], seed: int, timeout_s: float = 60.0,
                           reference_root: Path | None = None) -> list[tuple[GradedTest, Verdict, RemoteRun]]:
    """Every test of `suites` on the package in `package_root`, through local supervisor processes."""
    reference_root = reference_root or Path(__file__).resolve().parent.parent / "tinytorch_reference"
    sessions = {"student": Session(ProcessLink(package_root))}
    results = []
    try:
        for test in (t for suite in suites for t in load_suite(suite)):
            challenge = make_challenge(test, seed)
            run = run_remote(sessions["student"], test, challenge, timeout_s)
            measured = None
            if test.measure is not None and run.envelope["status"] == "ok":
                if "reference" not in sessions:
                    sessions["reference"] = Session(ProcessLink(reference_root))
                measured = measure_remote(sessions, test, challenge, timeout_s)
            results.append((test, judge(test, challenge, run.envelope, measured), run))
    finally:
        for session in sessions.values():
            session.close()
    return results
