"""grade() reports each graded test exactly once, as the supervisor finishes it (live progress)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from capstone_tests.registry import load_suite
from grader.grading.grade import GradeOptions, grade
from sandbox import get_sandbox

REFERENCE = Path(__file__).resolve().parents[2] / "tinytorch_reference"


def test_progress_reports_each_test_once_while_the_sandbox_runs(sandbox_ready: None) -> None:
    events: list[tuple[float, str, dict[str, Any]]] = []
    start = time.monotonic()
    report = grade(REFERENCE, get_sandbox("bwrap"), GradeOptions(suites=["capstone"], seed=3),
                   lambda kind, data: events.append((time.monotonic() - start, kind, data)))
    total = time.monotonic() - start
    assert report.sheet.score == report.sheet.max_score
    assert events[0][1] == "planned" and len(events[0][2]["tests"]) == 14
    finished = [(at, data["name"]) for at, kind, data in events if kind == "test_finished"]
    # Each test once; in the order they ran (longest first, P7 last: grader/grading/running.py).
    assert sorted(name for _, name in finished) == sorted(t.name for t in load_suite("capstone"))
    # Live: the first test is reported well before the grading ends, not all at once at the end.
    assert finished[0][0] < finished[-1][0] < total
    assert finished[0][0] < 0.8 * total
