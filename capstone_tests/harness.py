"""Run a graded test's two halves: the probe (untrusted side) and the check (trusted side).

`run_probe` never raises: whatever the student's code does becomes an *envelope*, a JSON-able dict
with status "ok" (and encoded artefacts), "missing" (a contract module or name is absent) or
"exception" (type, message, trimmed traceback). `judge` turns an envelope into a Verdict on the
trusted side. The plain-pytest form (`run_graded`) calls both in one process.
"""

from __future__ import annotations

import contextlib
import json
import linecache
import threading
import time
import traceback
import tracemalloc
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from . import artefacts as codec
from .blame import blame
from .boundary.inside.protocol import parameter_names
from .boundary.session import RemoteError
from .registry import GradedTest, Probe, get_test
from .resolver import MODULES_BY_NUMBER, REFERENCE, STUDENT, ModuleMissing, Resolver
from .verdict import CheckFailed, Verdict

MAX_MESSAGE = 2_000
MAX_FRAMES = 12
MEASURE_ROUNDS = 3


def make_challenge(test: GradedTest, seed: int) -> dict[str, Any]:
    """The grader's choice for this run: a seed of its own per test, plus the test's sizes."""
    rng = np.random.default_rng([seed, zlib.crc32(test.id.encode())])
    # 62 bits: the data a probe sends reveals nothing usable about it (a search over seeds is out of reach).
    challenge = {"seed": int(rng.integers(2**62))}
    challenge.update(test.make_challenge(rng))
    # Drawn last, independently: the one number of the challenge the student's process is told (to seed numpy's
    # global generator, from which initialisers and shuffles draw), never the seed the data and checks use.
    challenge["numpy_seed"] = int(rng.integers(2**32))
    return challenge


def run_probe(probe: Probe, challenge: dict[str, Any], resolver: Any) -> dict[str, Any]:
    """The probe's envelope. `resolver` is a Resolver (objects here) or a RemoteResolver (objects in the
    student's process); a fault of the boundary itself (boundary.session.BoundaryFault) is not caught here."""
    try:
        raw = probe(resolver, dict(challenge))
        if not isinstance(raw, dict):
            raise TypeError(f"probe returned {type(raw).__name__}, not a dict")
        return {"status": "ok", "artefacts": codec.encode(resolver.materialize(raw))}
    except ModuleMissing as missing:
        return {"status": "missing", "module": missing.module.number, "message": str(missing)[:MAX_MESSAGE]}
    except RemoteError as error:  # raised by the student's code in its own process
        return {"status": "exception", "type": error.failure.type, "message": error.failure.message[:MAX_MESSAGE],
                "traceback": error.failure.frames[-MAX_FRAMES:], "during": error.during}
    except Exception as error:  # the student's failure is data, not a crash of the suite
        return {
            "status": "exception",
            "type": type(error).__name__,
            "message": str(error)[:MAX_MESSAGE],
            "traceback": _frames(error),
        }


def _frames(error: BaseException) -> list[dict[str, Any]]:
    """The last frames, each with its qualified function name (`SGD.step`, not just `step`)."""
    walked = list(traceback.walk_tb(error.__traceback__))[-MAX_FRAMES:]
    frames = []
    for frame, line in walked:
        code = frame.f_code
        text = linecache.getline(code.co_filename, line).strip()
        frames.append({"file": code.co_filename, "line": line, "function": getattr(code, "co_qualname", code.co_name),
                       "code": text[:200], "args": parameter_names(code)})
    return frames


def judge(test: GradedTest, challenge: dict[str, Any], envelope: Any,
          measured: dict[str, Any] | None = None) -> Verdict:
    """The verdict, from the envelope alone (and figures measured from outside the probe)."""
    if not isinstance(envelope, dict):
        return Verdict("error", "the probe produced no result", test.module)
    status = envelope.get("status")
    if status == "missing":
        module = envelope.get("module")
        return Verdict("failed", str(envelope.get("message", "")),
                       module if isinstance(module, int) and module in MODULES_BY_NUMBER else test.module)
    if status == "exception":
        return _exception_verdict(test, envelope)
    if status == "timeout":
        return Verdict("timeout", f"the test did not finish within {envelope.get('limit_s', '?')} s; it was "
                       f"waiting for {envelope.get('waiting_for', 'the student process')}", test.module)
    if status == "gone":
        return Verdict("error", f"the test's process ended ({envelope.get('how', 'unknown cause')}) while running "
                       f"{envelope.get('during', 'the test')}", test.module)
    if status == "malformed":
        return Verdict("failed", f"the student's process answered with malformed data: "
                       f"{envelope.get('message', '')}"[:MAX_MESSAGE], test.module)
    if status != "ok":
        return Verdict("error", f"the probe reported an unknown status {status!r}", test.module)
    try:
        artefacts = codec.decode(envelope.get("artefacts"))
        if not isinstance(artefacts, dict):
            raise codec.ArtefactError("artefacts are not a mapping")
        artefacts.pop("__measured__", None)  # only the trusted side may say what it measured
        if test.measure is not None:
            artefacts["__measured__"] = measured
        verdict = test.check(challenge, artefacts)
    except CheckFailed as failure:
        verdict = failure.verdict
    except codec.ArtefactError as error:
        verdict = Verdict("failed", f"the probe's artefacts are malformed: {error}", test.module)
    except Exception as error:
        verdict = Verdict("failed", f"the probe's artefacts do not have the expected form: "
                          f"{type(error).__name__}: {str(error)[:500]}", test.module)
    if verdict is None:
        verdict = Verdict("passed", "ok")
    if verdict.module is None and not verdict.passed and test.module is not None:
        verdict = replace(verdict, module=test.module)
    return verdict


def _exception_verdict(test: GradedTest, envelope: dict[str, Any]) -> Verdict:
    frames = envelope.get("traceback") if isinstance(envelope.get("traceback"), list) else []
    message = f"{envelope.get('type', 'Exception')}: {envelope.get('message', '')}"
    # The module whose code misbehaved, which is not always the innermost frame's (blame.py); diagnostics says why.
    module = blame(frames, message).module or test.module
    evidence: dict[str, Any] = {"traceback": frames}
    if isinstance(envelope.get("during"), str):
        evidence["during"] = envelope["during"][:200]
    return Verdict("error", message, module, evidence)


class _ReferenceRuns:
    """The reference's envelopes by (probe, challenge), computed once. One at a time, whatever the thread: the
    reference's probes seed numpy's global generator (and the package keeps global autograd state), so two of
    them must never interleave; a cached one is read without waiting for a computation in progress."""

    LIMIT = 1024  # a worker grades many seeds: keep the recent ones, not all

    def __init__(self) -> None:
        self._done: OrderedDict[tuple[Probe, str], dict[str, Any]] = OrderedDict()
        self._computing = threading.Lock()

    def envelope(self, probe: Probe, challenge_key: str) -> dict[str, Any]:
        key = (probe, challenge_key)
        if (found := self._done.get(key)) is not None:
            return found
        with self._computing:
            if (found := self._done.get(key)) is not None:
                return found
            envelope = run_probe(probe, json.loads(challenge_key), Resolver(REFERENCE))
            self._done[key] = envelope
            while len(self._done) > self.LIMIT:
                self._done.popitem(last=False)
            return envelope


_REFERENCE_RUNS = _ReferenceRuns()


def on_reference(probe: Probe, challenge: dict[str, Any]) -> dict[str, Any]:
    """The artefacts the reference produces for the same challenge, as a check sees them."""
    envelope = _REFERENCE_RUNS.envelope(probe, json.dumps(challenge, sort_keys=True))
    if envelope["status"] != "ok":
        raise RuntimeError(f"the reference failed its own probe {probe.__name__}: {envelope}")
    return codec.decode(envelope["artefacts"])


def warm_reference(runs: list[tuple[GradedTest, dict[str, Any]]], stop: Callable[[], bool] = lambda: False) -> None:
    """Compute what the checks will ask of the reference (on_reference of each test's own probe and challenge,
    for the tests registered with uses_reference), in order, ahead of time, until `stop()`: the grader runs this
    in a thread of its own from the start of a grading, so the reference's runs overlap with the sandbox's start
    and with the waits for the student's answers, and take no core from the sandbox for tests that never ask. A
    reference that fails its own probe is left for the check to report."""
    for test, challenge in runs:
        if stop():
            return
        if not test.uses_reference:
            continue
        with contextlib.suppress(Exception):
            on_reference(test.probe, challenge)


def measure_memory_in_process(test: GradedTest, challenge: dict[str, Any], resolver: Resolver) -> dict[str, Any]:
    """The plain form's P7 memory figure: the peak of Python-level allocations (tracemalloc) over one run."""
    tracemalloc.start()
    try:
        envelope = run_probe(test.probe, challenge, resolver)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"peak_bytes": int(peak), "status": envelope["status"]}


def measure_in_process(test: GradedTest, challenge: dict[str, Any], resolver: Resolver) -> dict[str, Any]:
    """The plain form's stand-in for the grader's P7 figures (capstone_tests/remote.py): the time of the extra
    steps of a 3x longer run, or the peak of Python-level allocations (tracemalloc)."""
    if test.measure == "memory":
        return measure_memory_in_process(test, challenge, resolver)
    # Wall time, the least of each run over the rounds (noise only ever adds): CPU time here would count the
    # spinning of a multi-threaded BLAS, which the grader's sandboxes do not have.
    costs: dict[int, list[float]] = {}
    statuses, long_run = [], None
    for _ in range(MEASURE_ROUNDS):
        for steps in (int(challenge["steps"]), 3 * int(challenge["steps"])):
            start = time.perf_counter()
            envelope = run_probe(test.probe, dict(challenge, steps=steps), resolver)
            costs.setdefault(steps, []).append(time.perf_counter() - start)
            statuses.append(envelope["status"])
            long_run = envelope.get("artefacts")
    short, long = (min(costs[steps]) for steps in sorted(costs))
    status = next((s for s in statuses if s != "ok"), "ok")
    return {"cpu_seconds": max(0.0, long - short), "status": status, "long_run": long_run}


def grade_in_process(test: GradedTest, seed: int, package: str = STUDENT) -> Verdict:
    challenge = make_challenge(test, seed)
    resolver = Resolver(package)
    envelope = run_probe(test.probe, challenge, resolver)
    measured = None
    if test.measure is not None and envelope["status"] == "ok":
        # The student side is warm from the run above; warm the reference the same way.
        run_probe(test.probe, challenge, Resolver(REFERENCE))
        measured = {
            "student": measure_in_process(test, challenge, resolver),
            "reference": measure_in_process(test, challenge, Resolver(REFERENCE)),
        }
    return judge(test, challenge, envelope, measured)


def run_graded(suite: str, name: str, seed: int) -> None:
    """The plain-pytest form: probe then check in this process; fails the pytest test on a bad verdict."""
    import pytest

    verdict = grade_in_process(get_test(suite, name), seed)
    if not verdict.passed:
        pytest.fail(f"[{verdict.outcome}] {verdict.report()}", pytrace=False)
