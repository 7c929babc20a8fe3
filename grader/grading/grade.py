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
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from capstone_tests.boundary.session import LinkBroken, SandboxLink, Session
from capstone_tests.editions import EDITIONS
from capstone_tests.editions import detect_in as detect_edition
from capstone_tests.harness import judge, warm_reference
from capstone_tests.remote import RemoteRun, measure_remote, run_remote
from capstone_tests.rubric import load_rubric
from capstone_tests.verdict import Verdict
from sandbox.base import Sandbox, SandboxError

from ..diagnostics import Diagnostic, diagnose
from ..scoring import ScoreSheet, score
from . import limits as limit_rules
from .launch import INSIDE, MOUNT, REFERENCE_ROOT, sandbox_link
from .options import GradeOptions
from .plan import Plan, PlannedTest, make_plan
from .versions import suite_version

__all__ = ["INSIDE", "MOUNT", "GradeOptions", "GradeReport", "GradedTestResult", "grade"]
SWITCH_INTERVAL_S = 0.0005
MAX_SANDBOX_STARTS = 6  # a package that kills its sandbox in every test stops being restarted after this

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
        grading = _Grading(root, sandbox, options, plan)
        grading.start(student_link)
        student_link = None  # the grading's now: it closes it
        # What the checks will ask of the reference is computed in a thread of its own, from now on, in plan
        # order: while the sandbox starts, and then while this thread waits for the student's answers (harness.py
        # runs one reference probe at a time, so a check that needs one first computes it itself or waits).
        # A short switch interval: that thread's Python work must not hold up this one's wake-ups (at the
        # default 5 ms, ~200 waits for an answer would each lose up to that).
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        threading.Thread(target=warm_reference, args=([(p.test, p.challenge) for p in plan.tests], stop.is_set),
                         name="warm-reference", daemon=True).start()
        verdicts = {}
        for planned in plan.tests:
            verdicts[planned.index] = grading.run(planned)
            notify("test_finished", {"suite": planned.suite, "name": planned.name})
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


class _Grading:
    """The sandboxes of one grading: the student's (restarted if it dies) and, for P7, the reference's."""

    def __init__(self, root: Path, sandbox: Sandbox, options: GradeOptions, plan: Plan) -> None:
        self.root, self.sandbox, self.options, self.plan = root, sandbox, options, plan
        self.sessions: dict[str, Session] = {}
        self.starts = 0
        self.strikes = 0
        self.started = time.monotonic()
        self.round_trips = 0
        self.waited_s = 0.0
        self.runtime: dict[str, Any] = {}
        # tests ended without waiting for the supervisor's figures: (plan index, session, the session's number)
        self.pending: list[tuple[int, Session, int]] = []
        self.ended: dict[int, str] = {}  # test index -> its captured output
        # Started by start() (the student's) and _session() (the reference's, only when the plan has P7 tests).
        self.reference_link: SandboxLink | None = None
        self.student_link: SandboxLink | None = None

    def _link(self, root: Path) -> SandboxLink:
        return sandbox_link(root, self.sandbox, self.options)

    def start(self, student_link: SandboxLink | None = None) -> None:
        """Start the student's sandbox without waiting (the first test waits). The reference's, needed only by P7
        tests, starts once the student's supervisor is up (see _session): two sandboxes starting together on a
        small machine delay the first test by the second one's start (measured: ~0.13 s of a 2 s grading)."""
        self.starts += 1
        self.student_link = student_link or self._link(self.root)

    def _session(self, side: str) -> Session:
        if side in self.sessions:
            return self.sessions[side]
        if side == "reference":
            link = self.reference_link or self._link(REFERENCE_ROOT)
            self.reference_link = None
        elif self.student_link is not None:
            link, self.student_link = self.student_link, None
        else:
            self.starts += 1
            link = self._link(self.root)
        try:
            session = Session(link)
        except LinkBroken as broken:
            result = link.close()  # raises the SandboxError of a sandbox that could not start
            raise SandboxError(f"the {side} sandbox did not start the supervisor ({broken}); exit "
                               f"{getattr(result, 'exit_code', None)}: "
                               f"{getattr(result, 'stderr', b'')[-1500:].decode(errors='replace')}") from None
        self.sessions[side] = session
        if side == "student" and self.plan.measured and not self.reference_link and "reference" not in self.sessions:
            self.reference_link = self._link(REFERENCE_ROOT)  # starts while the first tests run
        if side == "student" and not self.runtime:
            self.runtime = {"supervisor": {k: v for k, v in session.info.items() if k != "event"}}
        return session

    def _drop(self, side: str) -> Any:
        """Forget a sandbox whose link broke; returns its RunResult (why it ended), if any."""
        session = self.sessions.pop(side, None)
        if session is None:
            return None
        self.waited_s += session.waited_s
        try:
            return session.close()
        except SandboxError:
            if side == "reference":
                raise
            return None

    def limit(self, planned: PlannedTest) -> float:
        if self.strikes >= limit_rules.STRIKES:
            return min(planned.limit_s, limit_rules.short_limit(planned.test))
        return planned.limit_s

    def run(self, planned: PlannedTest) -> tuple[Verdict, RemoteRun | None]:
        module = planned.test.module
        if self.strikes >= limit_rules.STRIKES and time.monotonic() - self.started > limit_rules.BUDGET_S:
            return Verdict("error", f"not run: the grading's time budget ({limit_rules.BUDGET_S:g} s) was used up by "
                           f"{self.strikes} tests that timed out", module), None
        if self.starts >= MAX_SANDBOX_STARTS and "student" not in self.sessions:
            return Verdict("error", "not run: the package stopped its sandbox in every earlier test", module), None
        limit = self.limit(planned)
        for attempt in range(2):
            session = None
            try:
                session = self._session("student")
                # The supervisor cleans up after the test while the check below runs (a P7 test's figures are
                # needed first: its graded run is the student's first measured run).
                measured_test = planned.test.measure is not None
                run = run_remote(session, planned.test, planned.challenge, limit, wait_end=measured_test,
                                 measure_memory=planned.test.measure == "memory",
                                 measure_cpu=planned.test.measure == "time")
                break
            except LinkBroken as broken:
                result = self._drop("student")
                if broken.before_test and attempt == 0 and self.starts < MAX_SANDBOX_STARTS:
                    continue  # the sandbox died with an earlier test: this one never ran, so it runs anew
                why = "ran out of memory" if getattr(result, "oom_killed", False) else "stopped"
                return Verdict("error", f"the sandbox {why} during this test", module), None
        self.round_trips += run.round_trips
        if run.end is None:
            self.pending.append((planned.index, session, run.number))
        else:
            self.ended[planned.index] = run.end.output
        if run.envelope["status"] == "timeout":
            self.strikes += 1
        measured = None
        if planned.test.measure is not None and run.envelope["status"] == "ok":
            measured = self._measure(planned, limit, run)
        return judge(planned.test, planned.challenge, run.envelope, measured), run

    def _measure(self, planned: PlannedTest, limit: float, graded_run: RemoteRun) -> dict[str, Any] | None:
        sessions = {"student": self._session("student"), "reference": self._session("reference")}
        try:
            # The student's graded run of this challenge is its first measured run too.
            measured = measure_remote(sessions, planned.test, planned.challenge, limit, graded_run,
                                      reference_timeout_s=planned.limit_s)
        except LinkBroken as broken:
            if sessions["reference"].link.dead:  # whose link broke decides whose fault it is
                raise SandboxError(f"the reference's sandbox stopped while measuring {planned.test.id}: {broken}") \
                    from None
            self._drop("student")
            return None
        if measured.get("reference", {}).get("status") != "ok":
            raise SandboxError(f"the reference could not be measured for {planned.test.id}: "
                               f"{measured.get('reference')}")
        return measured

    def outputs(self) -> dict[int, str]:
        """Each test's captured output (stdout and stderr of its processes), from what the supervisors reported."""
        for index, session, number in self.pending:
            if session not in self.sessions.values():
                continue  # its sandbox died: what it captured is gone with it
            try:
                self.ended[index] = session.collect(number).output
            except LinkBroken:
                self._drop("student")
        self.pending.clear()
        return self.ended

    def close(self) -> None:
        self.runtime["sandbox_runs"] = self.starts
        self.runtime["round_trips"] = self.round_trips
        # Both sandboxes wind down at once (each one's supervisor cleans up, then the sandbox is removed).
        with ThreadPoolExecutor(max_workers=2) as pool:
            closing = {side: pool.submit(self._drop, side) for side in list(self.sessions)}
            for unused in (self.reference_link, self.student_link):  # started, never used (no test ran there)
                if unused is not None:
                    pool.submit(unused.close)
            results = {side: future.result() for side, future in closing.items()}
        if results.get("student") is not None:
            self.runtime.update(results["student"].runtime)
        # Time the grader spent waiting for the sandboxes' side (start-up, the student's code, transport); the
        # rest of a grading's wall time is the harness's own (probes, encoding, checks).
        self.runtime["waited_s"] = round(self.waited_s, 3)
