"""Two lanes grade exactly as one, cannot reach each other, and an extra lane that fails costs nothing.

A grading runs the tests it does not measure in up to two sandboxes of the package at once (grader/grading/
running.py). Each lane is a sandbox of its own, as isolated from the other as from the host; these gradings force
two lanes (a folder of core slots of their own, so other gradings on the machine do not take the spare core).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from capstone_tests.registry import SUITES
from grader.grading import running
from grader.grading.grade import GradeOptions, GradeReport, grade
from sandbox import SandboxError, get_sandbox
from tests.fixtures.students.build import FIXTURES_BY_NAME, Patch, apply_patch, build_fixture, copy_reference

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO / "tinytorch_reference"
ALL = list(SUITES)
P7 = {"test_training_performance", "test_memory_efficiency"}
SEED = 11

# At every import of the package (each test's fresh object server): look for what any earlier process left in
# every place a process of this sandbox can write or listen, say what it found, then leave all of it again, a
# daemon listening on an abstract socket included. Tests of the same lane never find it (cleanup between tests),
# and a lane never finds the other's (separate namespaces and writable places).
SPY = '''
def _lane_spy():
    import ctypes, os, socket
    found = []
    for folder in ("/tmp", "/dev/shm", "/out"):
        if os.path.exists(os.path.join(folder, "lane-spy-marker")):
            found.append(folder)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.shmget(0x7A7A7A7A, 0, 0) >= 0:
        found.append("sysv-shm")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect("\\0lane-spy-socket")
        found.append("abstract-socket")
    except OSError:
        pass
    probe.close()
    print("LANE-SPY FOUND " + ",".join(found) if found else "LANE-SPY ARMED", flush=True)
    for folder in ("/tmp", "/dev/shm", "/out"):
        try:
            with open(os.path.join(folder, "lane-spy-marker"), "w") as marker:
                marker.write("here")
        except OSError:
            pass
    libc.shmget(0x7A7A7A7A, 4096, 0o1666)
    if os.fork() == 0:
        try:
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind("\\0lane-spy-socket")
            server.listen(8)
            while True:
                server.accept()
        finally:
            os._exit(0)


_lane_spy()
'''


def graded(root: Path, kind: str, lanes: int, slots: Path, sandbox: Any = None) -> GradeReport:
    """The grading, and its progress: every test reported finished exactly once, whichever lane ran it."""
    options = GradeOptions(suites=ALL, seed=SEED, lanes=lanes, lane_slots=slots)
    finished: list[tuple[str, str]] = []
    report = grade(root, sandbox or get_sandbox(kind), options,
                   lambda kind, data: finished.append((data["suite"], data["name"])) if kind == "test_finished"
                   else None)
    assert sorted(finished) == sorted(report.results)
    return report


def outcomes(report: GradeReport) -> dict[tuple[str, str], tuple[Any, ...]]:
    """What a grading decided of each test; P7 messages carry measured figures, which vary between runs."""
    return {key: (r.verdict.outcome, r.verdict.module, r.diagnostic.module if r.diagnostic else None,
                  None if key[1] in P7 else r.verdict.message) for key, r in report.results.items()}


@pytest.fixture
def slots(tmp_path: Path) -> Path:
    return tmp_path / "slots"


@pytest.mark.parametrize("kind", ["bwrap", "docker"])
def test_two_lanes_grade_exactly_as_one(sandbox_ready: None, tmp_path: Path, slots: Path, kind: str) -> None:
    tmp_path.chmod(0o755)
    root = build_fixture(FIXTURES_BY_NAME["optimizer_memoryview"], tmp_path)
    one, two = graded(root, kind, 1, slots), graded(root, kind, 2, slots)
    assert one.runtime["lanes"] == 1 and two.runtime["lanes"] == 2, (one.runtime, two.runtime)
    assert len(one.results) > 100 and outcomes(two) == outcomes(one)
    assert two.sheet.score == one.sheet.score < one.sheet.max_score  # the bug costs points, the same in both


@pytest.mark.parametrize("kind", ["bwrap", "docker"])
def test_lanes_cannot_reach_each_other(sandbox_ready: None, tmp_path: Path, slots: Path, kind: str) -> None:
    tmp_path.chmod(0o755)
    root = tmp_path / "spy"
    copy_reference(root / "tinytorch")
    init = (root / "tinytorch" / "__init__.py").read_text()
    apply_patch(Patch("__init__.py", init, init + SPY), root / "tinytorch", "lane spy")
    report = graded(root, kind, 2, slots)
    assert report.runtime["lanes"] == 2, report.runtime
    assert report.sheet.score == report.sheet.max_score, [
        (key, r.verdict.message) for key, r in report.results.items() if r.verdict.outcome != "passed"]
    said = [r.output for r in report.results.values()]
    assert not [line for output in said for line in output.splitlines() if "LANE-SPY FOUND" in line]
    assert sum("LANE-SPY ARMED" in output for output in said) > 100, "the spy must have run in (nearly) every test"


class FailsSecondStart:
    """The machine's sandbox, except that its second run (the extra lane's) fails to start."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox, self.runs = sandbox, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sandbox, name)

    def run(self, spec: Any) -> Any:
        self.runs += 1
        if self.runs == 2:
            raise SandboxError("injected: this sandbox could not start")
        return self.sandbox.run(spec)


def test_an_extra_lane_that_cannot_start_costs_nothing(sandbox_ready: None, slots: Path) -> None:
    sandbox = FailsSecondStart(get_sandbox("bwrap"))
    report = graded(REFERENCE, "bwrap", 2, slots, sandbox)
    assert sandbox.runs >= 3, "the extra lane tried to start (the reference's sandbox is the third run)"
    assert report.runtime["lanes"] == 1
    assert report.sheet.score == report.sheet.max_score


def test_a_test_put_back_after_the_first_lane_ran_out_still_runs(sandbox_ready: None, slots: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The extra lane's sandbox breaks on its last test only once the first lane has found the queue empty and
    is waiting for it: the test it puts back runs in the first lane, before the P7 tests, and every test of the
    grading has its outcome."""
    real_run = running.Grading.run
    finished: list[str] = []
    broke: list[str] = []

    def run(self: running.Grading, planned: Any, side: str) -> Any:
        if side != running.FIRST and not broke:
            deadline = time.monotonic() + 300
            # Hold this test until every other unmeasured test is over: the first lane is then past its loop.
            while len(finished) < total_unmeasured(self) - 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)
            broke.append(planned.name)
            raise SandboxError("injected: the extra lane's sandbox broke")
        return real_run(self, planned, side)

    monkeypatch.setattr(running.Grading, "run", run)
    options = GradeOptions(suites=ALL, seed=SEED, lanes=2, lane_slots=slots)
    report = grade(REFERENCE, get_sandbox("bwrap"), options,
                   lambda kind, data: finished.append(data["name"]) if kind == "test_finished" else None)
    assert broke, "the extra lane never took a test"
    assert report.runtime["lanes"] == 2, report.runtime
    assert sorted(finished) == sorted(name for _, name in report.results)
    assert report.sheet.score == report.sheet.max_score, [
        (key, r.verdict.message) for key, r in report.results.items() if r.verdict.outcome != "passed"]


def total_unmeasured(grading: running.Grading) -> int:
    return sum(1 for planned in grading.plan.tests if planned.test.measure is None)
