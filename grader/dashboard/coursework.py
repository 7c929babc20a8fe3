"""A course's submissions as the dashboard reads them: grouped per student and assignment, with each student's
extension, and which one counts (grader.courses.counting, the same rules as the student's page).

Loaded per course in a few queries (submissions, extensions, the counting submissions' test results), never one
query per student.

    work = load_coursework(session, course)               # or assignment=... for one assignment's charts
    chosen = work.counting(assignment_id, user_id)        # a Counted, or None
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..courses.counting import counted_score, counting_submission
from ..db.models import Assignment, Course, Extension, Outcome, Submission, SubmissionStatus, TestResult

# What the class "got wrong": a test that ran and did not pass. Skipped tests are the suite's choice, not a fault.
FAILING_OUTCOMES = frozenset({Outcome.failed.value, Outcome.error.value, Outcome.timeout.value})


@dataclass(frozen=True)
class Counted:
    """One student's counting submission for one assignment, and the due date that applies to them."""

    submission: Submission
    due_at: datetime | None  # their extension's, else None (the assignment's own)
    submissions: int  # how many they handed in for it

    @property
    def graded(self) -> bool:
        return self.submission.status == SubmissionStatus.graded.value and self.submission.score is not None

    @property
    def score(self) -> float | None:
        """What it counts for: the override, else the raw score less any late penalty; None until graded."""
        return counted_score(self.submission, self.due_at) if self.graded else None


@dataclass
class Coursework:
    by_student: dict[tuple[int, int], list[Submission]] = field(default_factory=dict)  # (assignment, user)
    extensions: dict[tuple[int, int], datetime] = field(default_factory=dict)
    policies: dict[int, str] = field(default_factory=dict)  # assignment id -> score policy

    def due_for(self, assignment_id: int, user_id: int) -> datetime | None:
        return self.extensions.get((assignment_id, user_id))

    def counting(self, assignment_id: int, user_id: int) -> Counted | None:
        submissions = self.by_student.get((assignment_id, user_id), [])
        due_at = self.due_for(assignment_id, user_id)
        chosen = counting_submission(submissions, self.policies[assignment_id], due_at)
        return None if chosen is None else Counted(chosen, due_at, len(submissions))

    def graded_counting(self, assignment_id: int) -> list[Counted]:
        """Every student's counting submission for the assignment that has a grade (what the charts read)."""
        found = (self.counting(a, u) for a, u in self.by_student if a == assignment_id)
        return [c for c in found if c is not None and c.graded]


def extensions_of(session: Session, assignment_ids: Iterable[int]) -> dict[tuple[int, int], datetime]:
    """{(assignment id, user id): the student's own due date} for the assignments, in one query."""
    ids = list(assignment_ids)
    if not ids:
        return {}
    rows = session.execute(select(Extension.assignment_id, Extension.user_id, Extension.due_at)
                           .where(Extension.assignment_id.in_(ids))).all()
    return {(a, u): due for a, u, due in rows}


def extension_for(session: Session, submission: Submission) -> datetime | None:
    return extensions_of(session, [submission.assignment_id]).get((submission.assignment_id, submission.user_id))


def load_coursework(session: Session, course: Course, assignment: Assignment | None = None) -> Coursework:
    """The course's submissions (or one assignment's), grouped, with extensions and score policies."""
    assignments = [assignment] if assignment is not None else list(course.assignments)
    query = select(Submission).options(selectinload(Submission.assignment))
    if assignment is not None:
        query = query.where(Submission.assignment_id == assignment.id)
    else:
        query = query.join(Assignment).where(Assignment.course_id == course.id)
    work = Coursework(extensions=extensions_of(session, [a.id for a in assignments]),
                      policies={a.id: a.score_policy for a in assignments})
    for submission in session.scalars(query):
        work.by_student.setdefault((submission.assignment_id, submission.user_id), []).append(submission)
    return work


def load_results(session: Session, submissions: Sequence[Submission]) -> None:
    """Load the test results of every submission given, in one query, not one per student."""
    if submissions:
        session.scalars(select(Submission).where(Submission.id.in_([s.id for s in submissions]))
                        .options(selectinload(Submission.results))).all()


def failing(results: Iterable[TestResult]) -> list[TestResult]:
    return [r for r in results if r.outcome in FAILING_OUTCOMES]


def failed_tests(submission: Submission) -> list[str]:
    return [f"{r.suite}::{r.name}" for r in failing(submission.results)]


def failed_modules(submission: Submission) -> list[str]:
    return sorted({r.module for r in failing(submission.results) if r.module})
