"""How long one test may take, and how long a whole grading may take.

A test's limit is a generous multiple of the reference's own time for it (capstone_tests/reference_seconds.json,
written by `python -m benchmarks.reference_seconds --write`), never below a floor that covers a slow machine's
start-up, never above a cap: the course's own solution runs its Conv2d as Python loops, about 2,000 times slower
than the reference (docs/tinytorch-api.md), and must still finish. A package that hangs is then stopped at the
limit; after STRIKES timeouts in one grading, the remaining tests get a short limit, and the whole grading has
a budget: a package that spins forever costs minutes, not a quarter of an hour.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not at run time: launch.py uses this module before the suites are loaded
    from capstone_tests.registry import GradedTest

TIMES = Path(__file__).resolve().parents[2] / "capstone_tests" / "reference_seconds.json"
MULTIPLE = 2_500.0
FLOOR_S = 10.0
CAP_S = 60.0
UNKNOWN_S = 0.02  # a test missing from the table (a new one) counts as this
STRIKES = 2  # timeouts after which every further test gets the short limit
SHORT_FLOOR_S = 2.0
SHORT_MULTIPLE = 50.0
BUDGET_S = 300.0  # the whole grading, after which the tests not yet run are not run
SLACK_TESTS = 20  # tests newer than the table, counted into a sandbox's backstop


@cache
def reference_seconds() -> dict[str, float]:
    try:
        table = json.loads(TIMES.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in table.get("seconds", {}).items()}


def test_limit(test: GradedTest, cap_s: float | None = None) -> float:
    seconds = reference_seconds().get(test.id, UNKNOWN_S)
    return min(cap_s or CAP_S, max(FLOOR_S, MULTIPLE * seconds))


def short_limit(test: GradedTest) -> float:
    seconds = reference_seconds().get(test.id, UNKNOWN_S)
    return max(SHORT_FLOOR_S, SHORT_MULTIPLE * seconds)


def sandbox_wall_s(suites: list[str]) -> float:
    """The backstop on one sandbox of a grading: every test of `suites` at the cap, run four times (P7's extra
    runs), plus start-up. The tests have their own limits and the grading its budget; this stops a sandbox only if
    the grader itself never ends it. From the table, not the suites, so that it is known before they are loaded;
    SLACK_TESTS more tests cover those newer than the table."""
    count = sum(1 for test_id in reference_seconds() if test_id.split("::", 1)[0] in suites)
    return (count + SLACK_TESTS) * CAP_S * 4 + 120.0
