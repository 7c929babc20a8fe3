"""Running a plan's tests in the sandboxes of one grading: the student's (one per lane, restarted if it dies) and,
for P7, the reference's.

Lanes: the tests are independent (each runs in a fresh object server), so those that are not measured run in
up to `options.lanes` sandboxes of the student's package at once, each lane taking the next test of one queue
(longest first). An extra lane starts once the first lane's sandbox is up, runs only while the machine has a
core to spare for it (lanes.py), and retires without failing anything: if its sandbox cannot start, its test
goes back to the queue. Every sandbox of a grading is isolated from the others as from the host (own PID, IPC,
network and mount namespaces, own writable places), as the reference's and the student's always were. The P7
tests run last, in the first lane, when the other lanes are done: what they measure meets no other lane.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from capstone_tests.boundary.session import LinkBroken, SandboxLink, Session
from capstone_tests.harness import judge
from capstone_tests.remote import RemoteRun, measure_remote, run_remote
from capstone_tests.verdict import Verdict
from sandbox.base import Sandbox, SandboxError

from . import limits as limit_rules
from .lanes import DEFAULT_FOLDER, CoreSlots, ExtraLane
from .launch import REFERENCE_ROOT, sandbox_link
from .options import GradeOptions
from .plan import Plan, PlannedTest

MAX_SANDBOX_STARTS = 6  # a package that kills its sandbox in every test stops being restarted after this
TESTS_PER_LANE = 24  # unmeasured tests it takes for one more lane to pay (extra_lanes)
FIRST = "student"  # the first lane's side; the extra lanes are "student-2", ...

Outcome = tuple[Verdict, RemoteRun | None]
Notify = Callable[[str, dict[str, Any]], None]


def run_order(plan: Plan) -> list[PlannedTest]:
    """Unmeasured tests longest first (the lanes then end together), the measured ones last."""
    seconds = limit_rules.reference_seconds()
    unmeasured = [p for p in plan.tests if p.test.measure is None]
    unmeasured.sort(key=lambda p: -seconds.get(p.test.id, limit_rules.UNKNOWN_S))
    return unmeasured + [p for p in plan.tests if p.test.measure is not None]


class Grading:
    def __init__(self, root: Path, sandbox: Sandbox, options: GradeOptions, plan: Plan) -> None:
        self.root, self.sandbox, self.options, self.plan = root, sandbox, options, plan
        self.lock = threading.Lock()
        self.sessions: dict[str, Session] = {}
        self.starts = 0
        self.strikes = 0
        self.started = time.monotonic()
        self.round_trips = 0
        self.waited_s = 0.0
        self.runtime: dict[str, Any] = {}
        # tests ended without waiting for the supervisor's figures: (plan index, side, session, its number)
        self.pending: list[tuple[int, str, Session, int]] = []
        self.ended: dict[int, str] = {}  # test index -> its captured output
        self.lanes_used = 1
        self.failed = False  # a lane hit an infrastructure fault: the others stop taking tests
        self.lane_threads: list[threading.Thread] = []  # joined by close(): each removes its own sandbox
        # Started by start() (the first lane's), by the extra lanes, and once the student's lanes are up the
        # reference's, needed only by P7 tests.
        self.reference_link: SandboxLink | None = None
        self.student_link: SandboxLink | None = None

    def _link(self, root: Path) -> SandboxLink:
        return sandbox_link(root, self.sandbox, self.options)

    def start(self, student_link: SandboxLink | None = None) -> None:
        """Start the first lane's sandbox without waiting (the first test waits). The others start once it is
        up: sandboxes starting together on a small machine delay the first test (measured: ~0.13 s of a 2 s
        grading for one more)."""
        self.starts += 1
        self.student_link = student_link or self._link(self.root)

    # ---------------------------------------------------------------------------------------------- sandboxes
    def _session(self, side: str) -> Session:
        with self.lock:
            if side in self.sessions:
                return self.sessions[side]
            if side == "reference":
                link = self.reference_link or self._link(REFERENCE_ROOT)
                self.reference_link = None
            elif side == FIRST and self.student_link is not None:
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
        with self.lock:
            self.sessions[side] = session
            if side == FIRST and not self.runtime:
                self.runtime = {"supervisor": {k: v for k, v in session.info.items() if k != "event"}}
        return session

    def _start_reference(self) -> None:
        """The reference's sandbox, for the P7 tests at the end: started while the other tests run."""
        with self.lock:
            if self.plan.measured and self.reference_link is None and "reference" not in self.sessions:
                self.reference_link = self._link(REFERENCE_ROOT)

    def _drop(self, side: str) -> Any:
        """Forget a sandbox whose link broke or whose lane is done; returns its RunResult (why it ended), if any."""
        with self.lock:
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

    # ---------------------------------------------------------------------------------------------- lanes
    def run_all(self, order: list[PlannedTest], notify: Notify) -> dict[int, Outcome]:
        """Every test of `order`, in the lanes; returns each one's outcome by plan index."""
        outcomes: dict[int, Outcome] = {}
        queue = deque(p for p in order if p.test.measure is None)
        slots = CoreSlots(self.options.lane_slots or DEFAULT_FOLDER) if self.options.lanes > 1 else None
        extras: list[threading.Event] = []  # set when an extra lane's tests are over
        errors: list[BaseException] = []

        def take() -> PlannedTest | None:
            with self.lock:
                return None if self.failed or not queue else queue.popleft()

        def finish(planned: PlannedTest, outcome: Outcome) -> None:
            with self.lock:
                outcomes[planned.index] = outcome
                notify("test_finished", {"suite": planned.suite, "name": planned.name})

        try:
            if queue:
                self._session(FIRST)
                if slots is not None and slots.hold_first():
                    for number in range(2, self.extra_lanes(len(queue)) + 2):
                        lane = ExtraLane(slots)
                        if lane.retired:
                            break
                        extras.append(threading.Event())
                        thread = threading.Thread(target=self._extra_lane, name=f"lane-{number}", daemon=True,
                                                  args=(f"{FIRST}-{number}", lane, queue, take, finish, errors,
                                                        extras[-1]))
                        thread.start()
                        self.lane_threads.append(thread)
                if not extras:
                    self._start_reference()
            while (planned := take()) is not None:
                if slots is not None:
                    slots.hold_first()  # a grading that found every core taken asks again before each test
                try:
                    finish(planned, self.run(planned, FIRST))
                except BaseException:
                    self.failed = True
                    raise
        finally:
            for done in extras:
                done.wait()
            if slots is not None:
                slots.close()
        if errors:
            raise errors[0]
        # An extra lane that retired in the middle puts back the test it could not run, possibly after the first
        # lane found the queue empty: those run here, so no test is ever left without an outcome.
        while (planned := take()) is not None:
            finish(planned, self.run(planned, FIRST))
        self._start_reference()
        for planned in order:
            if planned.test.measure is not None:
                finish(planned, self.run(planned, FIRST))
        return outcomes

    def extra_lanes(self, tests: int) -> int:
        """How many lanes beyond the first `tests` unmeasured tests are worth: a sandbox's start (0.3-0.7 s for a
        container on a busy core) pays for itself only over a few dozen tests (the capstone's 12 gain nothing)."""
        return max(0, min(self.options.lanes - 1, tests // TESTS_PER_LANE - 1))

    def _extra_lane(self, side: str, lane: ExtraLane, queue: deque[PlannedTest],
                    take: Callable[[], PlannedTest | None], finish: Callable[[PlannedTest, Outcome], None],
                    errors: list[BaseException], done: threading.Event) -> None:
        try:
            self._session(side)
        except SandboxError:
            lane.close()  # an extra lane is a bonus: the first lane runs what this one cannot
            done.set()
            return
        finally:
            self._start_reference()
        with self.lock:
            self.lanes_used += 1
        try:
            while lane.may_run() and (planned := take()) is not None:
                if side not in self.sessions and self.starts >= MAX_SANDBOX_STARTS:
                    with self.lock:
                        queue.appendleft(planned)  # the first lane says what is left to say about it
                    return
                try:
                    outcome = self.run(planned, side)
                except SandboxError:
                    with self.lock:
                        queue.appendleft(planned)  # it never ran (its sandbox would not start again)
                    return
                finish(planned, outcome)
        except BaseException as error:
            errors.append(error)
            self.failed = True
        finally:
            lane.close()
            self.collect_outputs(side)
            done.set()  # the first lane goes on now; removing this sandbox (~0.2 s for a container) is not its wait
            self._drop(side)

    # ---------------------------------------------------------------------------------------------- one test
    def limit(self, planned: PlannedTest) -> float:
        if self.strikes >= limit_rules.STRIKES:
            return min(planned.limit_s, limit_rules.short_limit(planned.test))
        return planned.limit_s

    def run(self, planned: PlannedTest, side: str) -> Outcome:
        module = planned.test.module
        if self.strikes >= limit_rules.STRIKES and time.monotonic() - self.started > limit_rules.BUDGET_S:
            return Verdict("error", f"not run: the grading's time budget ({limit_rules.BUDGET_S:g} s) was used up by "
                           f"{self.strikes} tests that timed out", module), None
        if self.starts >= MAX_SANDBOX_STARTS and side not in self.sessions:
            return Verdict("error", "not run: the package stopped its sandbox in every earlier test", module), None
        limit = self.limit(planned)
        for attempt in range(2):
            session = None
            try:
                session = self._session(side)
                # The supervisor cleans up after the test while the check below runs (a P7 test's figures are
                # needed first: its graded run is the student's first measured run).
                measured_test = planned.test.measure is not None
                run = run_remote(session, planned.test, planned.challenge, limit, wait_end=measured_test,
                                 measure_memory=planned.test.measure == "memory",
                                 measure_cpu=planned.test.measure == "time")
                break
            except LinkBroken as broken:
                result = self._drop(side)
                if broken.before_test and attempt == 0 and self.starts < MAX_SANDBOX_STARTS:
                    continue  # the sandbox died with an earlier test: this one never ran, so it runs anew
                why = "ran out of memory" if getattr(result, "oom_killed", False) else "stopped"
                return Verdict("error", f"the sandbox {why} during this test", module), None
        with self.lock:
            self.round_trips += run.round_trips
            if run.end is None:
                self.pending.append((planned.index, side, session, run.number))
            else:
                self.ended[planned.index] = run.end.output
            if run.envelope["status"] == "timeout":
                self.strikes += 1
        measured = None
        if planned.test.measure is not None and run.envelope["status"] == "ok":
            measured = self._measure(planned, limit, run)
        return judge(planned.test, planned.challenge, run.envelope, measured), run

    def _measure(self, planned: PlannedTest, limit: float, graded_run: RemoteRun) -> dict[str, Any] | None:
        sessions = {"student": self._session(FIRST), "reference": self._session("reference")}
        try:
            # The student's graded run of this challenge is its first measured run too.
            measured = measure_remote(sessions, planned.test, planned.challenge, limit, graded_run,
                                      reference_timeout_s=planned.limit_s)
        except LinkBroken as broken:
            if sessions["reference"].link.dead:  # whose link broke decides whose fault it is
                raise SandboxError(f"the reference's sandbox stopped while measuring {planned.test.id}: {broken}") \
                    from None
            self._drop(FIRST)
            return None
        if measured.get("reference", {}).get("status") != "ok":
            raise SandboxError(f"the reference could not be measured for {planned.test.id}: "
                               f"{measured.get('reference')}")
        return measured

    # ---------------------------------------------------------------------------------------------- the end
    def collect_outputs(self, side: str | None = None) -> None:
        """Each ended test's captured output (stdout and stderr of its processes), from what the supervisors
        reported: of one lane's tests (before its sandbox is closed), or of all."""
        with self.lock:
            mine = [p for p in self.pending if side is None or p[1] == side]
            self.pending = [p for p in self.pending if p not in mine]
        for index, lane, session, number in mine:
            if self.sessions.get(lane) is not session:
                continue  # its sandbox died: what it captured is gone with it
            try:
                self.ended[index] = session.collect(number).output
            except LinkBroken:
                self._drop(lane)

    def outputs(self) -> dict[int, str]:
        self.collect_outputs()
        return self.ended

    def close(self) -> None:
        self.runtime["sandbox_runs"] = self.starts
        self.runtime["round_trips"] = self.round_trips
        self.runtime["lanes"] = self.lanes_used
        # Every sandbox winds down at once (each one's supervisor cleans up, then the sandbox is removed).
        with ThreadPoolExecutor(max_workers=4) as pool:
            closing = {side: pool.submit(self._drop, side) for side in list(self.sessions)}
            for unused in (self.reference_link, self.student_link):  # started, never used (no test ran there)
                if unused is not None:
                    pool.submit(unused.close)
            results = {side: future.result() for side, future in closing.items()}
        for thread in self.lane_threads:
            thread.join()
        if results.get(FIRST) is not None:
            self.runtime.update(results[FIRST].runtime)
        # Time the grader spent waiting for the sandboxes' side (start-up, the student's code, transport), summed
        # over the lanes; with one lane, the rest of a grading's wall time is the harness's own.
        self.runtime["waited_s"] = round(self.waited_s, 3)
