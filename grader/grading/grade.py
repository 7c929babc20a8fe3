"""One submission, end to end: sandbox run(s) → verdicts decided here → score → diagnostics.

The sandbox reports raw facts only. If the supervisor inside stops early (the sandbox ran out of
memory, or time), the probe it was running is charged with that, and the probes it had not reached
run again in a fresh sandbox, so one hostile test costs that test and not the whole run.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from capstone_tests.harness import judge
from capstone_tests.rubric import load_rubric
from capstone_tests.verdict import Verdict
from sandbox.base import Limits, RunResult, RunSpec, Sandbox

from ..diagnostics import Diagnostic, diagnose
from ..scoring import ScoreSheet, score
from .plan import REFERENCE_DIR, Plan, PlannedRun, make_plan
from .supervisor_output import ProbeRun, SupervisorOutput, parse
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
    max_attempts: int = 3
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
    notify = progress or (lambda kind, data: None)
    notify("planned", {"tests": [(r.suite, r.name) for r in plan.graded()], "seed": plan.seed})
    finished: dict[int, ProbeRun] = {}
    stopped: dict[int, str] = {}  # probe runs the sandbox stopped during, with the reason
    runtime: dict[str, Any] = {}
    remaining = {r.index for r in plan.runs}
    for _ in range(options.max_attempts):
        output, result = _run_once(root, sandbox, plan, remaining, options.limits, notify)
        runtime = result.runtime
        finished.update(output.results)
        if output.done and result.exit_code == 0:
            break
        for index in output.started:
            if index not in output.results:
                stopped[index] = _why_stopped(result)
        remaining = {i for i in remaining if i not in finished and i not in stopped}
        if not remaining:
            break
    for index in remaining - set(finished) - set(stopped):
        stopped[index] = "the sandbox stopped before this test could run"
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


def _run_once(root: Path, sandbox: Sandbox, plan: Plan, indexes: set[int], limits: Limits,
              notify: ProgressCallback) -> tuple[SupervisorOutput, RunResult]:
    with tempfile.TemporaryDirectory(prefix="grader-job-") as job_dir:
        job_path = Path(job_dir) / "job.json"
        job_path.write_text(json.dumps(plan.job(indexes)))
        job_path.chmod(0o644)
        Path(job_dir).chmod(0o755)
        wall = STARTUP_MARGIN_S + sum(r.timeout_s + 1.0 for r in plan.runs if r.index in indexes)
        spec = RunSpec(
            submission=root,
            code={
                REPO / "capstone_tests": "/grader/capstone_tests",
                REPO / "sandbox" / "runner": "/grader/runner",
                REPO / "tinytorch_reference" / "tinytorch": f"{REFERENCE_DIR}/tinytorch",
                Path(job_dir): "/job",
            },
            argv=["python3", SUPERVISOR, "/job/job.json"],
            env={"PYTHONPATH": "/grader", "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1",
                 "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "LANG": "C.UTF-8"},
            limits=replace(limits, wall_seconds=wall, output_bytes=max(limits.output_bytes, SUPERVISOR_OUTPUT_BYTES)),
        )
        result = sandbox.run(spec)
    output = parse(result.stdout)
    for index in sorted(output.results):
        run = plan.runs[index]
        if run.test is not None and run.package == "student":
            notify("test_finished", {"suite": run.suite, "name": run.name})
    return output, result


def _why_stopped(result: RunResult) -> str:
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
            "seconds": max(0.0, got.seconds - floor.seconds),  # type: ignore[operator]
            "cpu_seconds": max(0.0, got.cpu_seconds - floor.cpu_seconds),  # type: ignore[operator]
            "peak_bytes": max(0, got.max_rss_bytes - floor.max_rss_bytes),  # type: ignore[operator]
        }
    return measured
