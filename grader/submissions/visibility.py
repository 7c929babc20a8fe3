"""Which tests' outcomes a student may see: the rubric's per-test visibility, overridden per assignment."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from capstone_tests.rubric import load_rubric

from ..db.models import Assignment, Visibility


@lru_cache(maxsize=1)
def _rubric_visibility() -> dict[str, str]:
    return {f"{t.suite}::{t.name}": t.visibility for rubric in load_rubric().values() for t in rubric.tests}


def visibility_of(assignment: Assignment, suite: str, name: str) -> str:
    key = f"{suite}::{name}"
    return (assignment.rubric_visibility or {}).get(key) or _rubric_visibility().get(key, Visibility.visible.value)


def visible_to_student(assignment: Assignment, suite: str, name: str, now: datetime) -> bool:
    visibility = visibility_of(assignment, suite, name)
    if visibility == Visibility.visible:
        return True
    if visibility == Visibility.after_due_date and assignment.due_at is not None:
        due = assignment.due_at if assignment.due_at.tzinfo else assignment.due_at.replace(tzinfo=UTC)
        return now >= due
    return False
