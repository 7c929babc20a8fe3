"""Which probe runs happen in the sandbox, with which challenge, and in which order.

Every graded test runs once on the student's package. A test whose figure must be measured from
outside (P7: time, memory) also runs on the reference, and each package gets a *baseline* run (import
only), so the measured figure is the probe's own cost on both sides. The reference's runs happen in a
sandbox of their own (grade.py): the reference must never be readable where student code runs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Literal

from capstone_tests.harness import make_challenge
from capstone_tests.registry import GradedTest, load_suite

Package = Literal["student", "reference"]
BASELINE = "__baseline__"
STUDENT_DIR = "/sub"
REFERENCE_DIR = "/ref"


@dataclass(frozen=True)
class PlannedRun:
    index: int
    test: GradedTest | None  # None for a baseline run
    challenge: dict[str, Any]
    package: Package
    timeout_s: float

    @property
    def suite(self) -> str:
        return self.test.suite if self.test else BASELINE

    @property
    def name(self) -> str:
        return self.test.name if self.test else BASELINE


@dataclass(frozen=True)
class Plan:
    seed: int
    runs: tuple[PlannedRun, ...]

    def graded(self) -> list[PlannedRun]:
        return [r for r in self.runs if r.test is not None and r.package == "student"]

    def calibration_for(self, run: PlannedRun) -> PlannedRun | None:
        return next((r for r in self.runs if r.package == "reference" and r.test is run.test), None)

    def baseline(self, package: Package) -> PlannedRun | None:
        return next((r for r in self.runs if r.test is None and r.package == package), None)

    def job(self, indexes: set[int] | None = None) -> dict[str, Any]:
        """The job file the supervisor reads inside the sandbox."""
        # "sandboxed": the supervisor may kill(-1) between probes (it owns the sandbox's PID namespace).
        return {"sandboxed": True, "tests": [
            {"index": r.index, "suite": r.suite, "name": r.name, "challenge": r.challenge, "timeout_s": r.timeout_s,
             "package_dir": STUDENT_DIR if r.package == "student" else REFERENCE_DIR}
            for r in self.runs if indexes is None or r.index in indexes
        ]}


def make_plan(suites: list[str], timeout_s: float, seed: int | None = None) -> Plan:
    seed = secrets.randbits(31) if seed is None else seed
    tests = [test for suite in suites for test in load_suite(suite)]
    runs: list[PlannedRun] = []

    def add(test: GradedTest | None, challenge: dict[str, Any], package: Package) -> None:
        runs.append(PlannedRun(len(runs), test, challenge, package, timeout_s))

    for test in tests:
        add(test, make_challenge(test, seed), "student")
    measured = [t for t in tests if t.measure is not None]
    if measured:
        add(None, {"seed": 0}, "student")
        add(None, {"seed": 0}, "reference")
        for test in measured:
            add(test, make_challenge(test, seed), "reference")
    return Plan(seed, tuple(runs))
