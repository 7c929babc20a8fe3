"""An assignment's own points: `points` = {"P3": 20} (a priority's total) or {"capstone::test_x": 5} (one test)
rescale the rubric's points when a grade is written. Pure: no I/O.

    public = apply_points(assignment.points, public)     # the public report with tests, groups and totals rescaled

A test's own points win over its priority's total: a priority's other counted tests share what is left of it in
the rubric's proportions (tests that do not count toward the grade keep their rubric points). A passed test earns
its new maximum, a failed one nothing; {} keeps the rubric's points.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

_PRIORITY_KEY = re.compile(r"P([1-9])")


def _round(value: float) -> float:
    return round(value, 6)


def _new_maxima(points: Mapping[str, float], tests: list[dict[str, Any]]) -> dict[int, float]:
    """The new max_points of each test whose points change, by its index in `tests`."""
    new: dict[int, float] = {}
    for i, test in enumerate(tests):
        key = f"{test['suite']}::{test['name']}"
        if key in points:
            new[i] = float(points[key])
    for key, total in points.items():
        match = _PRIORITY_KEY.fullmatch(key)
        if not match:
            continue
        # The tests that count: the total is what the priority is worth in the grade (uncounted extras keep theirs).
        members = [i for i, t in enumerate(tests)
                   if t.get("priority") == int(match.group(1)) and t.get("counts_toward_grade", True)]
        fixed = sum(new.get(i, 0.0) for i in members if i in new)
        free = [i for i in members if i not in new]
        rubric_total = sum(float(tests[i]["max_points"]) for i in free)
        left = max(0.0, float(total) - fixed)
        for i in free:
            share = float(tests[i]["max_points"]) / rubric_total if rubric_total else 1.0 / len(free)
            new[i] = left * share
    return new


def apply_points(points: Mapping[str, Any] | None, public: dict[str, Any]) -> dict[str, Any]:
    """`public` (a public report: tests, priorities, score, max_score) with the assignment's points applied."""
    if not points:
        return public
    report = copy.copy(public)
    tests = [dict(t) for t in public["tests"]]
    groups = [dict(g) for g in public["priorities"]]
    for i, new_max in _new_maxima(points, tests).items():
        test = tests[i]
        old_max, old_points = float(test["max_points"]), float(test["points"])
        new_points = new_max * (old_points / old_max) if old_max else (new_max if test["outcome"] == "passed" else 0.0)
        test["points"], test["max_points"] = _round(new_points), _round(new_max)
        if not test.get("counts_toward_grade", True):
            continue
        # The test's group: its priority's, or its suite's for a suite without priorities.
        for group in groups:
            if (test["priority"] is not None and group["priority"] == test["priority"]) or \
                    (test["priority"] is None and group["priority"] is None
                     and str(group["name"]).startswith(test["suite"])):
                group["score"] = _round(group["score"] + new_points - old_points)
                group["max_score"] = _round(group["max_score"] + new_max - old_max)
                break
    counted = [t for t in tests if t.get("counts_toward_grade", True)]
    report["tests"], report["priorities"] = tests, groups
    report["score"] = _round(sum(t["points"] for t in counted))
    report["max_score"] = _round(sum(t["max_points"] for t in counted))
    return report
