"""Load and validate `rubric.toml`: points and priority for every graded test."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
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
    # An extra grades something the course never assigns (say Tanh's backward): shown to the student, but
    # counted only when the suite's rubric sets `count_extras = true`.
    extra: bool = False
    counted: bool = True


@dataclass(frozen=True)
class SuiteRubric:
    suite: str
    counts_toward_grade: bool
    tests: tuple[TestPoints, ...]

    @property
    def max_points(self) -> float:
        """The points this suite's counted tests are worth (extras not counted are left out)."""
        return sum(t.points for t in self.tests if t.counted)


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
    extras = spec.get("extras", [])
    if not isinstance(extras, list) or not set(extras) <= set(registered):
        raise RubricError(f"suite {name}: extras must list tests of the suite, not {extras!r}")
    counted_extras = bool(spec.get("count_extras", False))
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
    tests = tuple(replace(t, extra=True, counted=counted_extras) if t.name in extras else t for t in tests)
    return SuiteRubric(name, bool(spec.get("counts_toward_grade", True)), tests)
