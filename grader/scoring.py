"""Verdicts + rubric → points per test, per priority, per suite and in total. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from capstone_tests.rubric import SuiteRubric
from capstone_tests.verdict import Verdict


@dataclass(frozen=True)
class ScoredTest:
    suite: str
    name: str
    priority: int | None
    outcome: str
    points: float
    max_points: float
    counts: bool  # whether this test counts toward the grade: its suite does and it is no uncounted extra
    visibility: str


@dataclass(frozen=True)
class Group:
    """A priority of the capstone, or a whole module suite."""

    key: str
    priority: int | None
    name: str
    score: float
    max_score: float
    counts: bool = True  # False for a suite the rubric does not count (its name then says so)


# Appended to the name of a suite the rubric does not count, wherever its points are shown (the public report,
# the CLI, the pages), so "0 / 6" is never read as points lost.
NOT_COUNTED = " (not counted toward the grade)"


@dataclass(frozen=True)
class ScoreSheet:
    score: float
    max_score: float
    groups: tuple[Group, ...]
    tests: tuple[ScoredTest, ...]


def score(verdicts: Mapping[tuple[str, str], Verdict], rubrics: Mapping[str, SuiteRubric],
          suites: list[str]) -> ScoreSheet:
    """Full points for a passed test, none otherwise; a test without a verdict counts as failed. Extras the
    rubric does not count are scored and listed, but left out of their group's and the total's points."""
    tests: list[ScoredTest] = []
    groups: list[Group] = []
    for suite in suites:
        rubric = rubrics[suite]
        scored = []
        for item in rubric.tests:
            verdict = verdicts.get((suite, item.name))
            outcome = verdict.outcome if verdict else "error"
            points = item.points if outcome == "passed" else 0.0
            scored.append(ScoredTest(suite, item.name, item.priority, outcome, points, item.points,
                                     rubric.counts_toward_grade and item.counted, item.visibility))
        tests += scored
        # A group adds up the tests its suite counts; an uncounted suite still shows all of its own.
        counted_names = {item.name for item in rubric.tests if item.counted}
        counted_tests = [t for t in scored if t.name in counted_names]
        if any(t.priority is not None for t in scored):
            names = {t.priority: t.priority_name for t in rubric.tests}
            for priority in sorted({t.priority for t in scored if t.priority is not None}):
                members = [t for t in counted_tests if t.priority == priority]
                groups.append(Group(f"{suite}:P{priority}", priority, _label(
                    names.get(priority) or f"Priority {priority}", rubric.counts_toward_grade),
                    _sum(t.points for t in members), _sum(t.max_points for t in members), rubric.counts_toward_grade))
        else:
            groups.append(Group(suite, None, _label(suite, rubric.counts_toward_grade),
                                _sum(t.points for t in counted_tests), _sum(t.max_points for t in counted_tests),
                                rubric.counts_toward_grade))
    counted = [t for t in tests if t.counts]
    return ScoreSheet(_sum(t.points for t in counted), _sum(t.max_points for t in counted), tuple(groups),
                      tuple(tests))


def _label(name: str, counts: bool) -> str:
    return name if counts else name + NOT_COUNTED


def _sum(values: object) -> float:
    return round(sum(values), 6)  # type: ignore[arg-type]
