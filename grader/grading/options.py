"""What one grading is asked to do. Light on purpose: the command line builds it before the suites are loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sandbox.base import Limits


@dataclass(frozen=True)
class GradeOptions:
    suites: list[str]
    seed: int | None = None
    timeout_per_test_s: float | None = None  # a cap on every test's limit (limits.py derives them)
    limits: Limits = field(default_factory=Limits)
    only: frozenset[str] | None = None  # grade only the tests of these names (scores then cover only them)
    edition: str | None = None  # the course edition the assignment follows (editions.py); None: from the package
    lanes: int = 2  # the student's sandboxes run at once, at most (running.py; fewer when cores are busy)
    lane_slots: Path | None = None  # where the machine's gradings share its cores (lanes.py); None: the default
