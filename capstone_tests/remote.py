"""Graded tests through the boundary: the probe here, the student's objects in the object server.

`run_remote` runs one test in a fresh object server of a Session and returns its envelope (the same shapes as
the plain form's, plus "timeout", "gone" and "malformed" for faults of the student's side) with what the
supervisor measured. `measure_remote` takes the P7 figures: the same probe on the reference's and the student's
sessions, interleaved, under the same conditions, from the supervisor's per-test counters of every process of
the test (never a figure the student's process reports, and no baseline the student's code controls):
- time: CPU seconds of `steps` and of 3 x `steps` training steps; the difference is the cost of the extra
  steps alone (imports and set-up cancel out); the smallest of ROUNDS;
- memory: peak resident memory of the test above the supervisor's own, the smallest of ROUNDS.
`grade_through_boundary` is the whole loop on local processes (no sandbox), for our tests and for debugging.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .boundary.proxy import RemoteResolver
from .boundary.session import MalformedAnswer, ProcessLink, ServerGone, Session, TestEnd, TestTimeout
from .harness import judge, make_challenge, run_probe
from .registry import GradedTest, load_suite
from .verdict import Verdict

ROUNDS = 2
LONG_RUN = 3  # the long time run does this many times the challenge's steps


@dataclass(frozen=True)
class RemoteRun:
    envelope: dict[str, Any]
    end: TestEnd
    round_trips: int
    seconds: float


def run_remote(session: Session, number: int, test: GradedTest, challenge: dict[str, Any],
               timeout_s: float) -> RemoteRun:
    """One test in a fresh object server. A broken link (LinkBroken) is left to the caller: the sandbox is gone."""
    started = time.perf_counter()
    channel = session.start(number, timeout_s)
    try:
        envelope = run_probe(test.probe, challenge, RemoteResolver(channel))
    except TestTimeout as timeout:
        envelope = {"status": "timeout", "waiting_for": timeout.waiting_for, "limit_s": round(timeout_s, 1)}
    except ServerGone as gone:
        envelope = {"status": "gone", "during": str(gone).removeprefix("the student's process ended while running ")}
    except MalformedAnswer as malformed:
        envelope = {"status": "malformed", "message": str(malformed)}
    end = session.end(channel)
    if envelope["status"] == "gone":
        envelope["how"] = f"exit code {end.exit}" if end.exit is not None and end.exit >= 0 else \
            f"killed by signal {-end.exit}" if end.exit is not None else "it was killed"
    return RemoteRun(envelope, end, channel.round_trips, time.perf_counter() - started)


def measure_remote(sessions: dict[str, Session], number: int, test: GradedTest, challenge: dict[str, Any],
                   timeout_s: float) -> dict[str, Any]:
    """The P7 figure of `test` on both sides: {"student": {...}, "reference": {...}}, each with its "status"."""
    variants = _variants(test, challenge)
    best: dict[str, dict[str, Any]] = {}
    for _ in range(ROUNDS):
        for side in ("reference", "student"):
            runs = [run_remote(sessions[side], number, test, variant, timeout_s) for variant in variants]
            figure = _figure(test, [run.end for run in runs])
            status = next((r.envelope["status"] for r in runs if r.envelope["status"] != "ok"), "ok")
            if status == "ok" and figure is None:
                status = "unmeasured"
            entry = {"status": status, **({} if figure is None else figure)}
            previous = best.get(side)
            if previous is None or (entry["status"] == "ok" and (previous["status"] != "ok" or _value(entry) < _value(
                    previous))):
                best[side] = entry
    return best


def _variants(test: GradedTest, challenge: dict[str, Any]) -> list[dict[str, Any]]:
    if test.measure == "time":
        return [challenge, dict(challenge, steps=LONG_RUN * int(challenge["steps"]))]
    return [challenge]


def _figure(test: GradedTest, ends: list[TestEnd]) -> dict[str, float] | None:
    if any(end.keeper != "ok" for end in ends):
        return None  # the measuring process was killed or stopped: no figure at all
    if test.measure == "time":
        short, long = ends[0].cpu_seconds, ends[1].cpu_seconds
        return None if short is None or long is None else {"cpu_seconds": max(0.0, long - short)}
    peak = ends[0].peak_rss_bytes
    return None if peak is None else {"peak_bytes": float(peak)}


def _value(entry: dict[str, Any]) -> float:
    return float(entry.get("cpu_seconds", entry.get("peak_bytes", float("inf"))))


# ------------------------------------------------------------------------------------------------ local loop
def grade_through_boundary(package_root: Path, suites: list[str], seed: int, timeout_s: float = 60.0,
                           reference_root: Path | None = None) -> list[tuple[GradedTest, Verdict, RemoteRun]]:
    """Every test of `suites` on the package in `package_root`, through local supervisor processes."""
    reference_root = reference_root or Path(__file__).resolve().parent.parent / "tinytorch_reference"
    sessions = {"student": Session(ProcessLink(package_root))}
    results = []
    try:
        for number, test in enumerate(t for suite in suites for t in load_suite(suite)):
            challenge = make_challenge(test, seed)
            run = run_remote(sessions["student"], number, test, challenge, timeout_s)
            measured = None
            if test.measure is not None and run.envelope["status"] == "ok":
                if "reference" not in sessions:
                    sessions["reference"] = Session(ProcessLink(reference_root))
                measured = measure_remote(sessions, number, test, challenge, timeout_s)
            results.append((test, judge(test, challenge, run.envelope, measured), run))
    finally:
        for session in sessions.values():
            session.close()
    return results
