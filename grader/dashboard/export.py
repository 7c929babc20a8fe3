"""The course's grades as CSV, one row per student, for a spreadsheet or an LMS import.

Columns: user_id, email, name, section, sis_id, then per assignment (in the table's order)
`<slug> score` (what the work counts for: the override, else the raw score less any late penalty),
`<slug> max_score`, `<slug> raw_score` (the automatic grade), `<slug> override`, `<slug> days_late`,
`<slug> status` (`missing` when nothing was handed in) and one column per priority of the counting
submission as graded (`<slug> P1` ... `<slug> P7`; a suite without priorities by its name).

Names, emails and sections come from rosters and users: a cell starting with = + - @ (or a tab or carriage
return) would run as a formula in a spreadsheet, so such a cell is prefixed with a single quote.

    text = csv_export(session, user, course)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from ..courses.late import lateness
from ..db.models import Assignment, Course, User
from .access import ordered, require_teaches
from .coursework import Counted, load_coursework
from .table import counting_cells, roster

STUDENT_COLUMNS = ("user_id", "email", "name", "section", "sis_id")
ASSIGNMENT_COLUMNS = ("score", "max_score", "raw_score", "override", "days_late", "status")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """The cell's text, made inert for spreadsheets: a leading formula character gets a ' before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _number(value: float | None) -> str:
    # "7" rather than "7.0": spreadsheets and LMS importers read both, people prefer the short form.
    if value is None:
        return ""
    return f"{value:g}" if value == int(value) else repr(value)


def _group_label(group: Any) -> str | None:
    if not isinstance(group, dict):
        return None
    priority = group.get("priority")
    if isinstance(priority, int) and not isinstance(priority, bool):
        return f"P{priority}"
    name = group.get("name")
    return str(name) if name else None


def _group_scores(counted: Counted | None) -> dict[str, float]:
    if counted is None or not counted.graded:
        return {}
    scores = {}
    for group in counted.submission.priorities or []:
        label = _group_label(group)
        if label is not None and isinstance(group.get("score"), int | float):
            scores[label] = float(group["score"])
    return scores


def _label_order(label: str) -> tuple[int, int, str]:
    if label.startswith("P") and label[1:].isdigit():
        return (0, int(label[1:]), "")
    return (1, 0, label)


def _priority_labels(cells: Iterable[Counted | None]) -> list[str]:
    labels = {label for cell in cells for label in _group_scores(cell)}
    return sorted(labels, key=_label_order)


def _assignment_cells(assignment: Assignment, counted: Counted | None, labels: list[str]) -> list[str]:
    if counted is None:
        return ["", "", "", "", "", "missing"] + [""] * len(labels)
    chosen = counted.submission
    late = lateness(assignment, chosen.created_at, counted.due_at)
    groups = _group_scores(counted)
    return [_number(counted.score), _number(chosen.max_score), _number(chosen.score if counted.graded else None),
            _number(chosen.override_score), str(late.days_late if late else 0), chosen.status,
            *(_number(groups.get(label)) for label in labels)]


def csv_export(session: Session, user: User, course: Course) -> str:
    require_teaches(session, user, course)
    assignments = ordered(course.assignments)
    students = roster(session, course)
    cells = counting_cells(session, load_coursework(session, course), assignments, students)
    labels = {a.slug: _priority_labels(row[a.slug] for row in cells.values()) for a in assignments}
    header = list(STUDENT_COLUMNS)
    for a in assignments:
        header += [f"{a.slug} {column}" for column in ASSIGNMENT_COLUMNS]
        header += [f"{a.slug} {label}" for label in labels[a.slug]]
    out = io.StringIO()
    # \r\n (RFC 4180): the writer quotes a cell holding either character of its line terminator, so a name with a
    # bare carriage return in it cannot split a row.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for student in students:
        row = [str(student.user.id), student.user.email, student.user.name, student.section, student.sis_id]
        for a in assignments:
            row += _assignment_cells(a, cells[student.user.id][a.slug], labels[a.slug])
        writer.writerow([neutralise(cell) for cell in row])
    return out.getvalue()
