"""Load and validate `rubric.toml`: points and priority for every graded test."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .registry import SUITES, load_suite

Visibility = Literal["visible", "after_due_date", "hidden"]
VISIBILITIES = ("visible", "after_due_date", "hidden")
RUBRIC_PATH = Path(__file__).with_name("rubric.toml")


class RubricError(ValueError):
    """A rubric that does not match the suites it grades."""


@dataclass(frozen=True)
class TestPoints:
    __test__ = False  # not a pytest class, despite the name

    suite: str
    name: str
    points: float
    priority: int | None
    priority_name: str | None
    visibility: Visibility


@dataclass(frozen=True)
class SuiteRubric:
    suite: str
    counts_toward_grade: bool
    tests: tuple[TestPoints, ...]

    @property
    def max_points(self) -> float:
        return sum(t.points for t in self.tests)


def load_rubric(path: Path = RUBRIC_PATH) -> dict[str, SuiteRubric]:
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    suites = raw.get("suites")
    if not isinstance(suites, dict):
        raise RubricError(f"{path}: no [suites] table")
    return {name: _suite(name, spec) for name, spec in suites.items()}


def _suite(name: str, spec: dict[str, Any]) -> SuiteRubric:
    if name not in SUITES:
        raise RubricError(f"rubric names an unknown suite {name!r}")
    registered = [t.name for t in load_suite(name)]
    visibility = spec.get("visibility", "visible")
    if visibility not in VISIBILITIES:
        raise RubricError(f"suite {name}: visibility must be one of {VISIBILITIES}, not {visibility!r}")
    if "tests" in spec:
        listed, priorities = spec["tests"], {int(k): v for k, v in spec.get("priorities", {}).items()}
        unknown = sorted(set(listed) - set(registered))
        missing = sorted(set(registered) - set(listed))
        if unknown or missing:
            raise RubricError(f"suite {name}: rubric lists unknown tests {unknown} and omits {missing}")
        tests = tuple(
            TestPoints(name, test, float(listed[test]["points"]), int(listed[test]["priority"]),
                       priorities.get(int(listed[test]["priority"])),
                       listed[test].get("visibility", visibility))
            for test in registered
        )
    else:
        points = float(spec.get("points_per_test", 1))
        tests = tuple(TestPoints(name, test, points, None, None, visibility) for test in registered)
    return SuiteRubric(name, bool(spec.get("counts_toward_grade", True)), tests)
