"""The charts' data for one assignment, over each student's counting submission (grader.courses.counting):

    score_histogram(session, user, course, "capstone")   # counted scores in bands of 0-100 %
    failure_rates(session, user, course, "capstone")     # per test, the share of students not passing it
    module_failures(session, user, course, "capstone")   # per module, the share of students failing in it

An assignment nobody has a grade in yet gives empty charts, never an error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..db.models import Course, User
from ..errors import BadRequest
from ..grading.report import module_label_of
from .access import course_assignment, require_teaches
from .coursework import Counted, failing, load_coursework, load_results

HISTOGRAM_BINS = 10
MAX_BINS = 100


def _graded_counting(session: Session, user: User, course: Course, slug: str,
                     with_results: bool = False) -> tuple[str, list[Counted]]:
    require_teaches(session, user, course)
    assignment = course_assignment(session, course, slug)
    counted = load_coursework(session, course, assignment).graded_counting(assignment.id)
    if with_results:
        load_results(session, [c.submission for c in counted])
    return assignment.slug, counted


def score_histogram(session: Session, user: User, course: Course, assignment_slug: str,
                    bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """How many students' counted scores fall in each of `bins` equal bands of 0-100 %; 100 % is in the last."""
    require_teaches(session, user, course)
    if not 1 <= bins <= MAX_BINS:
        raise BadRequest(f"bins must be between 1 and {MAX_BINS}, not {bins}")
    slug, counted = _graded_counting(session, user, course, assignment_slug)
    tally = [0] * bins
    percents = []
    for entry in counted:
        # Percent, not points: the rubric (and so max_score) may differ between submissions graded at
        # different times. An override above a since-lowered max_score still lands in the last band.
        max_score = entry.submission.max_score
        percent = 100.0 * (entry.score or 0.0) / max_score if max_score else 0.0
        percents.append(percent)
        tally[max(0, min(bins - 1, int(percent * bins / 100.0)))] += 1
    width = 100.0 / bins
    return {
        "assignment": slug,
        "graded": len(percents),
        "mean_percent": sum(percents) / len(percents) if percents else None,
        "bins": [{"lo": i * width, "hi": (i + 1) * width, "count": c} for i, c in enumerate(tally)],
    }


def failure_rates(session: Session, user: User, course: Course, assignment_slug: str) -> dict[str, Any]:
    """Per test, the share of students whose counting submission did not pass it; worst first."""
    slug, counted = _graded_counting(session, user, course, assignment_slug, with_results=True)
    tests: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in counted:
        for result in entry.submission.results:
            row = tests.setdefault((result.suite, result.name), {
                "suite": result.suite, "name": result.name, "priority": result.priority, "module": result.module,
                "attempted": 0, "failed": 0,
            })
            row["attempted"] += 1
            row["failed"] += result.outcome != "passed"
    rows = [{**t, "rate": t["failed"] / t["attempted"]} for t in tests.values()]
    rows.sort(key=lambda t: (-t["rate"], t["priority"] if t["priority"] is not None else 1_000, t["name"]))
    return {"assignment": slug, "students": len(counted), "tests": rows}


def module_failures(session: Session, user: User, course: Course, assignment_slug: str) -> dict[str, Any]:
    """What the class got wrong, by the diagnostics' module attribution (TestResult.module of failed, errored
    and timed-out tests): per module how many students' counting submissions fail a test in it, their share,
    and which of its tests fail for someone ("suite::name"); worst first, tests no diagnostic attributed (module null)
    last. Beside it, per priority the students' mean score as graded (before late penalties and overrides,
    which apply to the whole grade, not to a priority)."""
    slug, counted = _graded_counting(session, user, course, assignment_slug, with_results=True)
    students: dict[str | None, set[int]] = {}
    tests: dict[str | None, set[tuple[str, str]]] = {}
    labels: dict[str | None, str | None] = {}
    for entry in counted:
        for result in failing(entry.submission.results):
            students.setdefault(result.module, set()).add(entry.submission.user_id)
            tests.setdefault(result.module, set()).add((result.suite, result.name))
            labels[result.module] = labels.get(result.module) or module_label_of(result.diagnostic)
    total = len(counted)
    modules = [{"module": module, "label": labels.get(module), "students_failing": len(who), "share": len(who) / total,
                "tests_failing": sorted(f"{suite}::{name}" for suite, name in tests[module])}
               for module, who in students.items()]
    modules.sort(key=lambda m: (m["module"] is None, -m["students_failing"], m["module"] or ""))
    return {"assignment": slug, "students": total, "modules": modules, "priorities": _priority_means(counted)}


def _priority_means(counted: list[Counted]) -> list[dict[str, Any]]:
    groups: dict[tuple[int | None, str], dict[str, Any]] = {}
    for entry in counted:
        for group in entry.submission.priorities or []:
            if not isinstance(group, dict) or not isinstance(group.get("score"), int | float):
                continue  # a row graded before priorities were kept, or hand-edited: nothing to average
            priority = group.get("priority")
            # Priorities are keyed by number (their names may change with the rubric); suites without priorities
            # by name.
            key = (priority, "" if priority is not None else str(group.get("name")))
            row = groups.setdefault(key, {"priority": priority, "name": group.get("name"), "scores": [],
                                          "max_score": 0.0})
            row["scores"].append(float(group["score"]))
            row["name"] = group.get("name") or row["name"]
            if isinstance(group.get("max_score"), int | float):
                row["max_score"] = max(row["max_score"], float(group["max_score"]))
    ordered_keys = sorted(groups, key=lambda k: (k[0] is None, k[0] or 0, k[1]))
    return [{"priority": groups[k]["priority"], "name": groups[k]["name"],
             "mean_score": sum(groups[k]["scores"]) / len(groups[k]["scores"]), "max_score": groups[k]["max_score"]}
            for k in ordered_keys]
