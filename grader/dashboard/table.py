"""The grade table: the course's students x its assignments, per cell the submission that counts.

A cell shows both grades: `score` is what the work counts for (staff's override if there is one, else the raw
score less any late penalty, counted from the student's extension if they have one) and `raw_score` the
automatic grade; `override_score`/`override_comment` say when and why staff changed it.

    table = grade_table(session, user, course)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..courses.late import late_report
from ..db.models import Assignment, Course, CourseRole, Enrollment, Role, Submission, User
from .access import assignment_json, ordered, require_teaches
from .coursework import Counted, Coursework, failed_modules, failed_tests, load_coursework, load_results


@dataclass(frozen=True)
class Student:
    user: User
    section: str | None = None
    sis_id: str | None = None


def roster(session: Session, course: Course) -> list[Student]:
    """The course's students, by email: enrolled as students, anyone else who handed in, and in an open course
    every user with the student role. A dropped student, and course staff who handed in to try an assignment,
    are not in it (their submissions stay, and their history can still be read)."""
    enrollments = {e.user_id: e for e in session.scalars(select(Enrollment).where(Enrollment.course_id == course.id))}
    students: dict[int, Student] = {}

    def admit(user: User) -> None:
        enrollment = enrollments.get(user.id)
        if enrollment is None:
            students[user.id] = Student(user)
        elif enrollment.role == CourseRole.student.value and enrollment.dropped_at is None:
            students[user.id] = Student(user, enrollment.section, enrollment.sis_id)

    enrolled = select(User).join(Enrollment).where(Enrollment.course_id == course.id)
    for user in session.scalars(enrolled):
        admit(user)
    submitted = (select(User).join(Submission, Submission.user_id == User.id).join(Assignment)
                 .where(Assignment.course_id == course.id).distinct())
    for user in session.scalars(submitted):
        admit(user)
    if course.open_to_all_students:
        for user in session.scalars(select(User).where(User.role == Role.student.value)):
            admit(user)
    return sorted(students.values(), key=lambda s: s.user.email)


def cell_json(counted: Counted | None, assignment: Assignment) -> dict[str, Any] | None:
    if counted is None:
        return None
    chosen = counted.submission
    raw = chosen.score if counted.graded else None
    return {
        "submission_id": str(chosen.id),
        "score": counted.score,
        "raw_score": raw,
        "override_score": chosen.override_score,
        "override_comment": chosen.override_comment,
        "late": late_report(assignment, chosen.created_at, raw, counted.due_at),
        "max_score": chosen.max_score,
        "status": chosen.status,
        "graded_at": chosen.graded_at.isoformat() if chosen.graded_at else None,
        "submissions": counted.submissions,
        "failed_tests": failed_tests(chosen) if counted.graded else [],
        "failed_modules": failed_modules(chosen) if counted.graded else [],
    }


def counting_cells(session: Session, work: Coursework, assignments: list[Assignment],
                   students: list[Student]) -> dict[int, dict[str, Counted | None]]:
    """{user id: {assignment slug: the counting submission}}, with the chosen ones' test results loaded."""
    cells = {s.user.id: {a.slug: work.counting(a.id, s.user.id) for a in assignments} for s in students}
    load_results(session, [c.submission for row in cells.values() for c in row.values() if c is not None])
    return cells


def grade_table(session: Session, user: User, course: Course) -> dict[str, Any]:
    """Roster x assignments: per cell the counting submission (grader.courses.counting), or None."""
    require_teaches(session, user, course)
    assignments = ordered(course.assignments)
    students = roster(session, course)
    cells = counting_cells(session, load_coursework(session, course), assignments, students)
    rows = [{"user_id": s.user.id, "email": s.user.email, "name": s.user.name, "section": s.section,
             "grades": {a.slug: cell_json(cells[s.user.id][a.slug], a) for a in assignments}}
            for s in students]
    return {
        "course": {"slug": course.slug, "name": course.name},
        "assignments": [assignment_json(a) for a in assignments],
        "rows": rows,
    }
