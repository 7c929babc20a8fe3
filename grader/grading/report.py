"""The report's shape, shared by every path that shows one: a fresh GradeReport (`grader grade --json`,
public_report) and a stored submission (grader.submissions.report) both build their tests and priorities with
shape_test / shape_priorities, so the CLI, the API and the dashboard say the same things the same way.

    public_report(report)                           # `grader grade --json`, and what record_grade stores
    shape_test(name=..., diagnostic=..., traceback=[...], ...)   # one test: + where / what / hint
    reproduce_command(seed, failing_names)          # `pytest capstone_tests --tinytorch . --seed 7 -k '...'`
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from typing import Any

from capstone_tests.blame import is_student, short_path

from ..intake import CompileProblem
from .grade import GradeReport

OUTPUT_LIMIT = 4000
FAILING = ("failed", "error", "timeout")
# Diagnostic.text(): "<Module NN name>: <cause> Hint: <hint>." (label and hint each optional).
MODULE_LABEL = re.compile(r"^Module \d+ [A-Za-z_]\w*: ")
# The same label, captured: "Module 06 optimizers" -> "06 optimizers".
_LABEL_PARTS = re.compile(r"^Module (\d+ [A-Za-z_]\w*): ")
HINT_MARK = " Hint: "


def public_report(report: GradeReport, submission_id: str | None = None,
                  compile_errors: Sequence[CompileProblem] = ()) -> dict[str, Any]:
    """`compile_errors`: what intake's compile check found in the package graded (Listing.compile_errors)."""
    tests = []
    for scored in report.sheet.tests:
        result = report.results.get((scored.suite, scored.name))
        diagnostic = result.diagnostic if result else None
        tests.append(shape_test(
            name=scored.name, suite=scored.suite, priority=scored.priority, outcome=scored.outcome,
            points=scored.points, max_points=scored.max_points, counts_toward_grade=scored.counts,
            module=diagnostic.module_number if diagnostic else None,  # in the package's edition
            diagnostic=diagnostic.text() if diagnostic else None,
            what=diagnostic.cause if diagnostic else None, hint=(diagnostic.hint or None) if diagnostic else None,
            evidence=diagnostic.evidence if diagnostic else {},
            traceback=list(diagnostic.traceback) if diagnostic else [],
            output=(result.output[-OUTPUT_LIMIT:] if result else "")))
    return {
        "id": submission_id,
        "status": "graded",
        "score": report.sheet.score,
        "max_score": report.sheet.max_score,
        "priorities": shape_priorities(
            {"priority": g.priority, "name": g.name, "score": g.score, "max_score": g.max_score}
            for g in report.sheet.groups),
        "compile_errors": [problem.as_dict() for problem in compile_errors],
        "tests": tests,
        "reproduce": reproduce_command(report.seed, failing_names(tests)),
        "seed": report.seed,
        "edition": report.edition,
        "suite_version": report.suite_version,
        "sandbox": report.runtime,
        "created_at": report.started_at.isoformat(),
        "graded_at": report.finished_at.isoformat(),
    }


def shape_test(*, name: str, suite: str, priority: int | None, outcome: str, points: float | None,
               max_points: float, counts_toward_grade: bool, module: Any, diagnostic: str | None,
               evidence: dict[str, Any] | None, traceback: Sequence[Any] | None, output: str,
               what: str | None = None, hint: str | None = None) -> dict[str, Any]:
    """One test of the report. `what`/`hint`: the diagnostic's two halves when known (a fresh Diagnostic); else
    split from the stored text. `where`: the innermost frame of the student's own code, when one is known."""
    if diagnostic and what is None:
        what, hint = split_diagnostic(diagnostic)
    return {
        "name": name, "suite": suite, "priority": priority, "outcome": outcome, "points": points,
        "max_points": max_points, "module": module, "module_label": module_label_of(diagnostic),
        "diagnostic": diagnostic, "where": where_of(traceback, evidence), "what": what, "hint": hint,
        "evidence": evidence or {}, "traceback": list(traceback or []), "output": output,
        # An extra or a test of an uncounted suite: the page marks its points as not counted.
        "counts_toward_grade": counts_toward_grade,
    }


def shape_priorities(groups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"priority": g.get("priority"), "name": g.get("name"), "score": g.get("score"),
             "max_score": g.get("max_score")} for g in groups]


def module_label_of(diagnostic: str | None) -> str | None:
    """The course module a diagnostic names, in the student's edition ("06 optimizers"), or None: `module`
    alone is a number, and people read the module's name."""
    found = _LABEL_PARTS.match(diagnostic or "")
    return found[1] if found else None


def split_diagnostic(text: str) -> tuple[str, str | None]:
    """The stored diagnostic text back into what went wrong and the hint (the inverse of Diagnostic.text())."""
    what, marked, hint = text.partition(HINT_MARK)
    what = MODULE_LABEL.sub("", what.strip(), count=1)
    if not marked:
        return what, None
    hint = hint.strip()
    return what, (hint[:-1] if hint.endswith(".") else hint) or None


def where_of(traceback: Sequence[Any] | None, evidence: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """{module, file, function, line} of the innermost frame in the student's files (the traceback, else a
    `file`/`line` the check's evidence names); None when the failure points at no line of theirs."""
    frames = [f for f in (traceback or []) if isinstance(f, dict) and is_student(f)]
    if frames:
        frame = frames[-1]
        path, line, function = str(frame.get("file", "")), frame.get("line"), frame.get("function")
    elif evidence and isinstance(evidence.get("file"), str) and "tinytorch/" in str(evidence["file"]):
        path, line, function = str(evidence["file"]), evidence.get("line"), evidence.get("function")
    else:
        return None
    file = short_path(path)
    module = file.removesuffix(".py").replace("/", ".").removesuffix(".__init__") if file.endswith(".py") else None
    return {"module": module, "file": file, "function": str(function) if function else None,
            "line": line if isinstance(line, int) else None}


def failing_names(tests: Iterable[dict[str, Any]]) -> list[str]:
    return [t["name"] for t in tests if t.get("outcome") in FAILING]


def reproduce_command(seed: int | None, failing: Sequence[str]) -> str | None:
    """The command that grades the package the same way locally, from the folder that holds its tinytorch/:
    the same challenges (seed), only the tests that did not pass (all of them when every one did)."""
    if seed is None:
        return None
    command = f"pytest capstone_tests --tinytorch . --seed {int(seed)}"
    if failing:
        command += " -k " + shlex.quote(" or ".join(dict.fromkeys(failing)))
    return command
