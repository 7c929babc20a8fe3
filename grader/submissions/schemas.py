"""Response models of the submissions API (the public shapes of docs/architecture.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class CompileError(BaseModel):
    """A package file that does not compile (grader.intake.compile_check.CompileProblem)."""

    file: str
    line: int | None
    column: int | None
    text: str
    message: str


class Accepted(BaseModel):
    id: str
    status: str
    status_url: str
    # Known at once: the upload is graded all the same, and the student sees which file will fail.
    compile_errors: list[CompileError] = []


class PriorityScore(BaseModel):
    priority: int | None
    name: str
    score: float
    max_score: float


class Where(BaseModel):
    """The innermost line of the student's own code a failure went through."""

    module: str | None  # the Python module, e.g. tinytorch.core.autograd
    file: str  # from the package's tinytorch/ folder on, e.g. tinytorch/core/autograd.py
    function: str | None
    line: int | None


class TestReport(BaseModel):
    __test__ = False  # not a pytest class

    name: str
    suite: str
    priority: int | None
    outcome: str
    points: float | None
    max_points: float
    module: str | None = None
    # The module's number and name in the student's edition ("06 optimizers"), when a diagnostic named it.
    module_label: str | None = None
    # The whole diagnostic, and its parts: where in the student's code, what went wrong, how to fix it.
    diagnostic: str | None
    where: Where | None = None
    what: str | None = None
    hint: str | None = None
    evidence: dict[str, Any] = {}
    output: str
    counts_toward_grade: bool = True


class LateReport(BaseModel):
    """How late a submission was (grader.courses.late); the report's score stays the raw score."""

    days_late: int
    # Share of the score taken off, 0-1; 1 when past max_late_days.
    penalty: float
    # What the score counts for; None until graded.
    adjusted_score: float | None
    # False past max_late_days: graded for feedback, counts 0.
    counts: bool
    penalty_per_day: float = 0.0
    max_late_days: int | None = None


class Override(BaseModel):
    """A score set by course staff: it counts instead of the automatic score, which stays and is shown too."""

    score: float
    comment: str | None
    by: str | None  # the staff member's email
    at: str | None


class Report(BaseModel):
    id: str
    status: str
    course: str | None = None
    assignment: str
    filename: str | None = None  # the upload's file name, cleaned
    score: float | None
    max_score: float | None
    # None when handed in on time (or the assignment has no due date). Listed in docs/architecture.md.
    late: LateReport | None = None
    override: Override | None = None
    priorities: list[PriorityScore]
    edition: str | None = None  # the course edition of the diagnostics' module numbers; None until graded
    compile_errors: list[CompileError] = []
    tests: list[TestReport]
    # `pytest capstone_tests --tinytorch . --seed N -k '...'`: the grade's failing tests, locally; None until graded.
    reproduce: str | None = None
    error: str | None
    # The words shown while grading waits on the grading machine's own problem; None otherwise.
    delayed: str | None = None
    created_at: str
    graded_at: str | None


class SubmissionSummary(BaseModel):
    id: str
    status: str
    course: str
    assignment: str
    score: float | None
    max_score: float | None
    filename: str | None
    created_at: str
    graded_at: str | None
    counts: bool  # the submission whose score counts for its assignment (grader.courses.counting)


class GradingStatus(BaseModel):
    grading: Literal["ok", "paused", "delayed"]
    message: str  # in words for students: no operator detail
