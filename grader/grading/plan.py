"""Which tests run, with which challenge, and how long each may take.

Every graded test runs once on the student's package, in a fresh object server, with a challenge drawn from a
seed the grader picks (never sent into the sandbox: the probe that uses it runs here). P7 tests are measured again
on the reference and the student at the same time (capstone_tests/remote.py). Time limits come from limits.py.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from capstone_tests.harness import make_challenge
from capstone_tests.registry import GradedTest, load_suite

from .limits import test_limit


@dataclass(frozen=True)
class PlannedTest:
    index: int
    test: GradedTest
    challenge: dict[str, Any]
    limit_s: float

    @property
    def suite(self) -> str:
        return self.test.suite

    @property
    def name(self) -> str:
        return self.test.name


@dataclass(frozen=True)
class Plan:
    seed: int
    tests: tuple[PlannedTest, ...]

    @property
    def measured(self) -> bool:
        return any(p.test.measure is not None for p in self.tests)


def make_plan(suites: list[str], seed: int | None = None, limit_cap_s: float | None = None,
              only: frozenset[str] | None = None) -> Plan:
    """Every test of `suites` (or, with `only`, those of these names)."""
    seed = secrets.randbits(31) if seed is None else seed
    tests = [test for suite in suites for test in load_suite(suite) if only is None or test.name in only]
    return Plan(seed, tuple(PlannedTest(i, test, make_challenge(test, seed), test_limit(test, limit_cap_s))
                            for i, test in enumerate(tests)))
