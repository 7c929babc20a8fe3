"""One submission, end to end: sandbox run(s) → verdicts decided here → score → diagnostics.

The sandbox reports raw facts only, and a run's report is trusted only when it is clean: exactly the
supervisor's sequence of events for its job, complete, and the supervisor exited 0 (supervisor_output.py
says why a probe can forge or cut that stream). The student's probe runs first go into one sandbox; if
that run is not clean (the sandbox ran out of memory or time, the supervisor was killed, or the stream
was tampered with), none of its results are used, and every one of its probe runs goes again in a
sandbox of its own, where an unclean run charges just that test. So one hostile test costs that test
(and some time), never the whole run, and no forged result is ever believed.

The reference's runs (calibration of measured P7 figures) happen in a separate sandbox that holds no
student code, and the student's sandboxes hold no reference: the answer key is never where student code
can read it.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from capstone_tests.harness import judge
from capstone_tests.rubric import load_rubric
from capstone_tests.verdict import Verdict
from sandbox.base import DEFAULT_ENV, Limits, RunResult, RunSpec, Sandbox

from ..diagnostics import Diagnostic, diagnose
from ..scoring import ScoreSheet, score
from .plan import REFERENCE_DIR, Package, Plan, PlannedRun, make_plan
from .supervisor_output import ProbeRun, SupervisorOutput, parse, parse_line
from .versions import suite_version

REPO = Path(__file__).resolve().parents[2]
SUPERVISOR = "/grader/runner/supervisor.py"
STARTUP_MARGIN_S = 30.0
# The supervisor's stdout carries every probe's artefacts (each capped at 4 MiB inside).
SUPERVISOR_OUTPUT_BYTES = 64 * 1024 * 1024

ProgressCallback = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class GradeOptions:
    suites: list[str]
    seed: int | None = None
    timeout_per_test_s: float = 60.0
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class GradedTestResult:
    suite: str
    name: str
    verdict: Verdict
    diagnostic: Diagnostic | None
    output: str
    seconds: float | None


@dataclass(frozen=True)
class GradeReport:
    seed: int
    suites: list[str]
    sheet: ScoreSheet
    results: dict[tuple[str, str], GradedTestResult]
    runtime: dict[str, Any]
    suite_version: str
    started_at: datetime
    finished_at: datetime


def grade(root: Path, sandbox: Sandbox, options: GradeOptions, progress: ProgressCallback | None = None) -> GradeReport:
    """Grade the package folder `root` (which contains `tinytorch/`) with `sandbox`."""
    started_at = datetime.now(UTC)
    plan = make_plan(options.suites, options.timeout_per_test_s, options.seed)
    notify = _Progress(plan, progress or (lambda kind, data: None))
    finished: dict[int, ProbeRun] = {}
    stopped: dict[int, str] = {}  # probe runs that got no trusted result, with the reason
    with tempfile.TemporaryDirectory(prefix="grader-noop-") as nothing, ThreadPoolExecutor(2) as pool:
        Path(nothing).chmod(0o755)  # the reference sandbox's /sub: empty, readable by the sandbox's uid
        # The reference's calibration runs beside the student's run, each sandbox on its own CPU: the
        # measured figures are then taken under the same conditions, and the grading takes one sandbox
        # start instead of two. The two fill disjoint indexes of `finished` and `stopped`.
        runs = {
            package: pool.submit(_run_isolating, folder, package, indexes, sandbox, plan, options, notify,
                                 finished, stopped)
            for package, folder in (("student", root), ("reference", Path(nothing)))
            if (indexes := [r.index for r in plan.runs if r.package == package])
        }
        runtime = runs["student"].result() if "student" in runs else {}
        for future in runs.values():
            future.result()  # a SandboxError on either side is the grading's, not the student's
    results = {}
    for run in plan.graded():
        assert run.test is not None
        verdict = _verdict(plan, run, finished, stopped)
        probe_run = finished.get(run.index)
        results[(run.suite, run.name)] = GradedTestResult(
            run.suite, run.name, verdict, diagnose(verdict, run.test.module),
            probe_run.output if probe_run else "", probe_run.seconds if probe_run else None)
    rubrics = load_rubric()
    sheet = score({key: r.verdict for key, r in results.items()}, rubrics, options.suites)
    return GradeReport(plan.seed, options.suites, sheet, results, runtime, suite_version(), started_at,
                       datetime.now(UTC))


class _Progress:
    """Reports each graded test once as it finishes: live from the supervisor's stream while a sandbox runs
    (for progress bars and the events stream only: what is trusted is decided after the run), and again
    from the trusted results, which count only if not reported yet."""

    def __init__(self, plan: Plan, notify: ProgressCallback) -> None:
        self.plan, self.notify = plan, notify
        self.reported: set[int] = set()
        self.lock = threading.Lock()
        notify("planned", {"tests": [(r.suite, r.name) for r in plan.graded()], "seed": plan.seed})

    def finished(self, index: int) -> None:
        if not 0 <= index < len(self.plan.runs):
            return
        run = self.plan.runs[index]
        if run.test is None or run.package != "student":
            return
        with self.lock:
            if index in self.reported:
                return
            self.reported.add(index)
        self.notify("test_finished", {"suite": run.suite, "name": run.name})

    def listener(self) -> Callable[[bytes], None]:
        pending = bytearray()

        def listen(chunk: bytes) -> None:
            pending.extend(chunk)
            while (end := pending.find(b"\n")) >= 0:
                line = bytes(pending[:end])
                del pending[: end + 1]
                if line.startswith(b'{"event":"result"'):
                    index = parse_line(line.decode("utf-8", "replace"), SupervisorOutput())
                    if index is not None:
                        self.finished(index)

        return listen


def _run_isolating(root: Path, package: Package, indexes: list[int], sandbox: Sandbox, plan: Plan,
                   options: GradeOptions, notify: _Progress, finished: dict[int, ProbeRun],
                   stopped: dict[int, str]) -> dict[str, Any]:
    """All of `indexes` in one sandbox; if that run is not clean, each of them in a sandbox of its own.
    Fills `finished` with trusted results and `stopped` with the reason for the rest; returns the first run's
    runtime description (with the number of sandbox runs it took)."""
    groups = [indexes]
    runtime: dict[str, Any] = {}
    count = 0
    while groups:
        group = groups.pop(0)
        output, result = _run_once(root, sandbox, plan, group, package, options.limits, notify.listener())
        count += 1
        runtime = runtime or dict(result.runtime)
        why = _untrusted(output, result, group)
        if why is None:
            finished.update({index: output.results[index] for index in group})
        elif len(group) > 1:
            groups = [[index] for index in group] + groups  # isolate: one probe run per sandbox
            continue
        else:
            stopped[group[0]] = why
        for index in group:
            notify.finished(index)
    runtime["sandbox_runs"] = count
    return runtime


def _run_once(root: Path, sandbox: Sandbox, plan: Plan, indexes: list[int], package: Package,
              limits: Limits, on_stdout: Callable[[bytes], None]) -> tuple[SupervisorOutput, RunResult]:
    with tempfile.TemporaryDirectory(prefix="grader-job-") as job_dir:
        job_path = Path(job_dir) / "job.json"
        job_path.write_text(json.dumps(plan.job(set(indexes))))
        job_path.chmod(0o644)
        Path(job_dir).chmod(0o755)
        wall = STARTUP_MARGIN_S + sum(r.timeout_s + 1.0 for r in plan.runs if r.index in indexes)
        code = {
            REPO / "capstone_tests": "/grader/capstone_tests",
            REPO / "sandbox" / "runner": "/grader/runner",
            Path(job_dir): "/job",
        }
        if package == "reference":  # never beside student code: it is the answer key
            code[REPO / "tinytorch_reference" / "tinytorch"] = f"{REFERENCE_DIR}/tinytorch"
        spec = RunSpec(
            submission=root,
            code=code,
            argv=["python3", SUPERVISOR, "/job/job.json"],
            env={**DEFAULT_ENV, "PYTHONPATH": "/grader"},
            limits=replace(limits, wall_seconds=wall, output_bytes=max(limits.output_bytes, SUPERVISOR_OUTPUT_BYTES)),
            init=False,  # the supervisor is PID 1: its children can neither kill it nor write into its stdout
            on_stdout=on_stdout,
        )
        result = sandbox.run(spec)
    return parse(result.stdout, expected=sorted(indexes)), result


def _untrusted(output: SupervisorOutput, result: RunResult, indexes: list[int]) -> str | None:
    """Why this run's results cannot be believed, or None for a clean run."""
    if output.unexpected is not None or result.stdout_total > len(result.stdout):
        # Only a process other than the supervisor writes out of sequence (or floods the stream past its cap).
        return "the sandbox's report of this test was tampered with (it held events the grader never asked for)"
    if output.done and result.exit_code == 0 and not result.timed_out and set(output.results) == set(indexes):
        return None
    if result.oom_killed:
        return "the sandbox ran out of memory during this test"
    if result.timed_out:
        return "the sandbox ran out of time during this test"
    return f"the sandbox stopped during this test (exit code {result.exit_code})"


def _verdict(plan: Plan, run: PlannedRun, finished: dict[int, ProbeRun], stopped: dict[int, str]) -> Verdict:
    assert run.test is not None
    module = run.test.module
    probe_run = finished.get(run.index)
    if probe_run is None:
        return Verdict("error", stopped.get(run.index, "the test did not run"), module)
    if probe_run.timed_out:
        return Verdict("timeout", f"the test did not finish within {run.timeout_s:g} s", module)
    envelope = probe_run.envelope
    if envelope is None:
        how = f"exit code {probe_run.exit}" if probe_run.exit is not None and probe_run.exit >= 0 else \
            f"signal {-probe_run.exit}" if probe_run.exit is not None else "an unknown cause"
        return Verdict("error", f"the test's process ended ({how}) before reporting any result", module)
    if isinstance(envelope, dict) and envelope.get("status") == "oversized":
        return Verdict("failed", "the test produced more output data than the grader accepts", module)
    return judge(run.test, run.challenge, envelope, _measured(plan, run, finished))


def _measured(plan: Plan, run: PlannedRun, finished: dict[int, ProbeRun]) -> dict[str, Any] | None:
    """The probe's own cost on both sides: each run minus its package's import-only baseline."""
    assert run.test is not None
    if run.test.measure is None:
        return None
    calibration = plan.calibration_for(run)
    pairs = {"student": (run, plan.baseline("student")), "reference": (calibration, plan.baseline("reference"))}
    measured: dict[str, Any] = {}
    for side, (measured_run, baseline) in pairs.items():
        if measured_run is None or baseline is None:
            return None
        got, floor = finished.get(measured_run.index), finished.get(baseline.index)
        if got is None or floor is None or got.envelope is None or floor.envelope is None:
            return None
        if None in (got.seconds, got.cpu_seconds, got.max_rss_bytes, floor.seconds, floor.cpu_seconds,
                    floor.max_rss_bytes):
            return None
        measured[side] = {
            # The probe's own status, as measure_in_process reports it: the check needs a completed run.
            "status": got.envelope.get("status") if isinstance(got.envelope, dict) else None,
            "seconds": max(0.0, got.seconds - floor.seconds),  # type: ignore[operator]
            "cpu_seconds": max(0.0, got.cpu_seconds - floor.cpu_seconds),  # type: ignore[operator]
            "peak_bytes": max(0, got.max_rss_bytes - floor.max_rss_bytes),  # type: ignore[operator]
        }
    return measured
