"""A GradeReport in the public shape of `GET /api/v1/submissions/{id}` (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..intake import CompileProblem
from .grade import GradeReport

OUTPUT_LIMIT = 4000


def public_report(report: GradeReport, submission_id: str | None = None,
                  compile_errors: Sequence[CompileProblem] = ()) -> dict[str, Any]:
    """`compile_errors`: what intake's compile check found in the package graded (Listing.compile_errors)."""
    tests = []
    for scored in report.sheet.tests:
        result = report.results.get((scored.suite, scored.name))
        diagnostic = result.diagnostic if result else None
        tests.append({
            "name": scored.name,
            "suite": scored.suite,
            "priority": scored.priority,
            "outcome": scored.outcome,
            "points": scored.points,
            "max_points": scored.max_points,
            "module": diagnostic.module_number if diagnostic else None,  # in the package's edition
            "diagnostic": diagnostic.text() if diagnostic else None,
            "evidence": diagnostic.evidence if diagnostic else {},
            "traceback": list(diagnostic.traceback) if diagnostic else [],
            "output": (result.output[-OUTPUT_LIMIT:] if result else ""),
            "counts_toward_grade": scored.counts,
        })
    return {
        "id": submission_id,
        "status": "graded",
        "score": report.sheet.score,
        "max_score": report.sheet.max_score,
        "priorities": [
            {"priority": g.priority, "name": g.name, "score": g.score, "max_score": g.max_score}
            for g in report.sheet.groups
        ],
        "compile_errors": [problem.as_dict() for problem in compile_errors],
        "tests": tests,
        "seed": report.seed,
        "edition": report.edition,
        "suite_version": report.suite_version,
        "sandbox": report.runtime,
        "created_at": report.started_at.isoformat(),
        "graded_at": report.finished_at.isoformat(),
    }
