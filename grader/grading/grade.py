"""One submission, end to end: the student's package in a sandbox, the probes here, verdicts, score, diagnostics.

The sandbox runs the supervisor (capstone_tests/boundary/inside/supervisor.py) with the student's package and
nothing of the grader but the object server. Every test runs here, in this process: its probe drives the
student's objects through the boundary (capstone_tests/remote.py), its check decides from what came back, which
is untrusted data throughout. So no probe, check, challenge or reference is ever where the student's code runs,
and nothing the student's code does can write a verdict: it can only answer requests about its own objects.

If the sandbox itself dies during a test (out of memory, killed), that test is charged as an error and the
remaining tests go on in a fresh sandbox. P7 tests are measured on a second sandbox holding only the reference,
at the same time as the student's runs. A reference that cannot be measured, or any failure of the sandbox to start,
is an infrastructure fault (SandboxError), never the student's score.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from capstone_tests.boundary.session import SandboxLink
from capstone_tests.editions import EDITIONS
from capstone_tests.editions import detect_in as detect_edition
from capstone_tests.harness import warm_reference
from capstone_tests.rubric import load_rubric
from capstone_tests.verdict import Verdict
from sandbox.base import Sandbox

from ..diagnostics import Diagnostic, diagnose
from ..scoring import ScoreSheet, score
from .launch import INSIDE, MOUNT
from .options import GradeOptions
from .plan import make_plan
from .running import Grading, run_order
from .versions import suite_version

__all__ = ["INSIDE", "MOUNT", "GradeOptions", "GradeReport", "GradedTestResult", "grade"]
SWITCH_INTERVAL_S = 0.0005

ProgressCallback = Callable[[str, dict[str, Any]], None]


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
    edition: str = "2025-12"  # editions.py: whose module numbers and names the diagnostics use


def grade(root: Path, sandbox: Sandbox, options: GradeOptions, progress: ProgressCallback | None = None,
          student_link: SandboxLink | None = None) -> GradeReport:
    """Grade the package folder `root` (which contains `tinytorch/`) with `sandbox`. `student_link`: the student's
    sandbox, if the caller started it already (launch.sandbox_link over the same root, sandbox and options)."""
    started_at = datetime.now(UTC)
    grading = None
    stop = threading.Event()  # ends the reference's warm-up thread with the grading
    try:
        plan = make_plan(options.suites, options.seed, options.timeout_per_test_s, options.only)
        notify = progress or (lambda kind, data: None)
        notify("planned", {"tests": [(p.suite, p.name) for p in plan.tests], "seed": plan.seed})
        grading = Grading(root, sandbox, options, plan)
        grading.start(student_link)
        student_link = None  # the grading's now: it closes it
        # What the checks will ask of the reference is computed in a thread of its own, from now on, in plan
        # order: while the sandbox starts, and then while this thread waits for the student's answers (harness.py
        # runs one reference probe at a time, so a check that needs one first computes it itself or waits).
        # A short switch interval: that thread's Python work must not hold up this one's wake-ups (at the
        # default 5 ms, ~200 waits for an answer would each lose up to that).
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        order = run_order(plan)
        threading.Thread(target=warm_reference, args=([(p.test, p.challenge) for p in order], stop.is_set),
                         name="warm-reference", daemon=True).start()
        verdicts = grading.run_all(order, notify)
        outputs = grading.outputs()
    finally:
        stop.set()
        if grading is not None:
            grading.close()
        if student_link is not None:  # started by the caller, never taken over (the plan failed)
            student_link.close()
    edition = EDITIONS[options.edition] if options.edition in EDITIONS else detect_edition(root)
    results = {}
    for planned in plan.tests:
        verdict, run = verdicts[planned.index]
        results[(planned.suite, planned.name)] = GradedTestResult(
            planned.suite, planned.name, verdict, diagnose(verdict, planned.test.module, edition),
            outputs.get(planned.index, ""), round(run.seconds, 4) if run else None)
    sheet = score({key: r.verdict for key, r in results.items()}, load_rubric(), options.suites)
    return GradeReport(plan.seed, options.suites, sheet, results, grading.runtime, suite_version(), started_at,
                       datetime.now(UTC), edition.key)
