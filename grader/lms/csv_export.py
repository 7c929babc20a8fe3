"""A course's grades as a CSV an LMS gradebook imports: Canvas's or Moodle's layout, or a plain one.

Per student (the dashboard's roster: enrolled students not dropped; in a course open to all students, every
student) and per assignment, the score that counts under the course's rules (grader.courses.counting through
grader.dashboard.coursework): the best or latest graded submission, less the late penalty counted from the
student's extension if they have one, or staff's override. A student with nothing graded gets an empty cell,
never 0: an empty cell sets no grade in the LMS, a 0 would fail them.

Layouts (columns and how an instructor maps them: docs/lms.md, "Gradebook CSV"):
    canvas  Student, ID, SIS User ID, SIS Login ID, Section, <assignment title>...; a "Points Possible" row first
    moodle  First name, Surname, ID number, Email address, Groups, <assignment title>...
    plain   email, name, section, <slug> score, <slug> max...

    text = gradebook_csv(session, course, "canvas", assignment="hw1")          # the CLI's (no sign-in)
    text = staff_gradebook_csv(session, user, "cs1", "moodle")                  # the API's (staff only)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..courses.service import get_course
from ..dashboard.access import course_assignment, instructor_course, ordered
from ..dashboard.coursework import load_coursework
from ..dashboard.export import neutralise
from ..dashboard.table import Student, roster
from ..db.models import Assignment, Course, User
from ..errors import BadRequest

LAYOUTS = ("canvas", "moodle", "plain")
CANVAS_STUDENT_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_STUDENT_COLUMNS = ("First name", "Surname", "ID number", "Email address", "Groups")
PLAIN_STUDENT_COLUMNS = ("email", "name", "section")
CANVAS_POINTS_ROW = "Points Possible"  # the second line of Canvas's own export; its import reads it too


class Number(float):
    """A score cell: written as a number, never escaped (only text can hold a formula)."""


Cell = str | Number | None


@dataclass(frozen=True)
class Gradebook:
    """The course's (or one assignment's) counted scores: what every layout writes."""

    course: Course
    assignments: list[Assignment]
    students: list[Student]
    scores: dict[tuple[int, int], float | None]  # (user id, assignment id) -> counted score, None: nothing graded
    maxima: dict[int, float | None]  # assignment id -> the highest max_score among its graded counted work

    def score(self, student: Student, assignment: Assignment) -> Number | None:
        value = self.scores.get((student.user.id, assignment.id))
        return None if value is None else Number(value)

    def maximum(self, assignment: Assignment) -> Number | None:
        value = self.maxima.get(assignment.id)
        return None if value is None else Number(value)


def parse_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise BadRequest(f"unknown format {layout!r}: use {', '.join(LAYOUTS)}")
    return layout


def load_gradebook(session: Session, course: Course, assignment: str | None = None) -> Gradebook:
    """Every roster student's counted score per assignment (all of the course's, by due date, or the one named:
    NotFound naming it if the course has no such assignment)."""
    chosen = course_assignment(session, course, assignment) if assignment is not None else None
    assignments = [chosen] if chosen is not None else ordered(course.assignments)
    work = load_coursework(session, course, chosen)
    students = roster(session, course)
    scores: dict[tuple[int, int], float | None] = {}
    maxima: dict[int, float | None] = {a.id: None for a in assignments}
    for a in assignments:
        for student in students:
            counted = work.counting(a.id, student.user.id)
            if counted is None or not counted.graded:
                continue
            scores[(student.user.id, a.id)] = counted.score
            top = counted.submission.max_score
            if top is not None:
                maxima[a.id] = max(top, maxima[a.id] or 0.0)
    return Gradebook(course, assignments, students, scores, maxima)


def number_text(value: float) -> str:
    """A grade as an LMS reads it: plain decimal, at most 4 places, no exponent, no float noise (7, 6.3, 0.3333)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def cell_text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Number):
        return number_text(cell)
    return neutralise(cell)  # names, emails, sections, titles: a leading = + - @ tab or CR gets a '


def column_titles(assignments: Sequence[Assignment]) -> dict[int, str]:
    """Each assignment's column: its title, with its slug in brackets when two assignments share a title (the
    LMS matches columns by name, so two equal headers would land in one grade item)."""
    counts: dict[str, int] = {}
    for a in assignments:
        counts[a.title] = counts.get(a.title, 0) + 1
    return {a.id: a.title if counts[a.title] == 1 else f"{a.title} [{a.slug}]" for a in assignments}


def split_name(name: str | None) -> tuple[str, str]:
    """(first name, surname) for Moodle's two columns: the last word is the surname. Only shown, never matched."""
    words = (name or "").split()
    if len(words) < 2:
        return (words[0] if words else "", "")
    return (" ".join(words[:-1]), words[-1])


def canvas_rows(book: Gradebook) -> list[list[Cell]]:
    titles = column_titles(book.assignments)
    rows: list[list[Cell]] = [[*CANVAS_STUDENT_COLUMNS, *(titles[a.id] for a in book.assignments)]]
    rows.append([CANVAS_POINTS_ROW, "", "", "", "", *(book.maximum(a) for a in book.assignments)])
    for s in book.students:
        # ID is Canvas's own user id, which the grader does not know: left empty, Canvas matches the SIS columns.
        rows.append([s.user.name or s.user.email, "", s.sis_id, s.user.email, s.section,
                     *(book.score(s, a) for a in book.assignments)])
    return rows


def moodle_rows(book: Gradebook) -> list[list[Cell]]:
    titles = column_titles(book.assignments)
    rows: list[list[Cell]] = [[*MOODLE_STUDENT_COLUMNS, *(titles[a.id] for a in book.assignments)]]
    for s in book.students:
        first, last = split_name(s.user.name)
        rows.append([first, last, s.sis_id, s.user.email, s.section, *(book.score(s, a) for a in book.assignments)])
    return rows


def plain_rows(book: Gradebook) -> list[list[Cell]]:
    header: list[Cell] = list(PLAIN_STUDENT_COLUMNS)
    for a in book.assignments:
        header += [f"{a.slug} score", f"{a.slug} max"]
    rows = [header]
    for s in book.students:
        row: list[Cell] = [s.user.email, s.user.name, s.section]
        for a in book.assignments:
            row += [book.score(s, a), book.maximum(a)]
        rows.append(row)
    return rows


ROWS: dict[str, Callable[[Gradebook], list[list[Cell]]]] = {
    "canvas": canvas_rows, "moodle": moodle_rows, "plain": plain_rows}


def write_csv(rows: list[list[Cell]]) -> str:
    out = io.StringIO()
    # RFC 4180: CRLF ends a record; the writer quotes any cell holding a comma, a quote, CR or LF.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([cell_text(cell) for cell in row] for row in rows)
    return out.getvalue()


def gradebook_csv(session: Session, course: Course, layout: str, assignment: str | None = None) -> str:
    """The CSV text in `layout` (BadRequest for an unknown one) for the course or one of its assignments. No
    permission check: the CLI's (the operator's), and the API's after staff_gradebook_csv's."""
    rows = ROWS[parse_layout(layout)]
    return write_csv(rows(load_gradebook(session, course, assignment)))


def course_gradebook_csv(session: Session, slug: str, layout: str, assignment: str | None = None) -> str:
    """gradebook_csv for the course named `slug` (NotFound naming it)."""
    return gradebook_csv(session, get_course(session, slug), layout, assignment)


def staff_gradebook_csv(session: Session, user: User, slug: str, layout: str,
                        assignment: str | None = None) -> str:
    """gradebook_csv for course staff (instructors and TAs; admins): 403 for students, 404 for another course."""
    return gradebook_csv(session, instructor_course(session, user, slug), layout, assignment)


def export_filename(slug: str, layout: str, assignment: str | None = None) -> str:
    # Slugs are a-z 0-9 _ - (courses' and assignments'), so the name needs no quoting inside the header.
    return f"{slug}-{assignment or 'grades'}-{layout}.csv"
