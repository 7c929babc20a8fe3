"""One submission's report, the one function behind every view of it: the API (`GET /api/v1/submissions/{id}`),
the instructor's dashboard (with `viewer` course staff) and the pages. Tests and priorities are shaped by
grader.grading.report, as `grader grade --json` shapes them.

    submission_report(submission, viewer=CourseRole.student, now=now)   # hidden tests withheld
    submission_report(submission, viewer=CourseRole.instructor)          # everything, plus staff detail
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..courses.late import late_report
from ..db.models import CourseRole, Submission, SubmissionStatus
from ..grading.report import failing_names, reproduce_command, shape_priorities, shape_test
from .visibility import visible_to_student

DELAYED_NOTE = ("Grading is delayed: the grading machine has a problem that is not yours, and it is being fixed. "
                "Your submission is safe in the queue and will be graded as soon as it is; there is nothing to do.")
STAFF = (CourseRole.ta.value, CourseRole.instructor.value)


def submission_report(submission: Submission, *, viewer: CourseRole | str, now: datetime | None = None,
                      grading_paused: bool = False, due_at: datetime | None = None) -> dict[str, Any]:
    """The report's public shape (docs/architecture.md "Public interface", docs/course-api.md "Submissions and
    reports"). `viewer`: the reader's role in the submission's course. A student does not see what tests they may
    not see yet checked (outcome `hidden`; their points still add up to the score); course staff see every test
    and, beside the public fields, who handed it in, the seed, the sandbox image, attempts and tracebacks (the
    dashboard's detail). `late` is None for work on time. `grading_paused`: no worker takes work now
    (grader.submissions.grading_status), so a queued submission is delayed even before a worker marked it.
    `due_at`: the student's own due date (an extension, grader.courses.extensions), from which lateness counts."""
    now = now or datetime.now(UTC)
    staff = str(viewer) in STAFF
    tests = []
    for result in submission.results:
        test = shape_test(
            name=result.name, suite=result.suite, priority=result.priority, outcome=result.outcome,
            points=result.points, max_points=result.max_points, counts_toward_grade=result.counts_toward_grade,
            module=result.module, diagnostic=result.diagnostic, evidence=result.evidence,
            traceback=result.traceback, output=result.output)
        if not staff:
            test.pop("traceback")
            if not visible_to_student(submission.assignment, result.suite, result.name, now):
                test.update(outcome="hidden", points=None, diagnostic=None, evidence={}, output="", module=None,
                            module_label=None, where=None, what=None, hint=None)
        tests.append(test)
    graded = submission.status == SubmissionStatus.graded.value
    report: dict[str, Any] = {
        "id": str(submission.id),
        "status": submission.status,
        "course": submission.assignment.course.slug,
        "assignment": submission.assignment.slug,
        "filename": submission.filename,
        "score": submission.score,
        "max_score": submission.max_score,
        "late": late_report(submission.assignment, submission.created_at, submission.score, due_at),
        "override": override_of(submission),
        "priorities": shape_priorities(submission.priorities or []),
        # Whose module numbers and names the diagnostics speak (the assignment's stated edition, or the package's).
        "edition": submission.edition,
        # The student's own code, so never withheld; known from the upload on, before any test has run.
        "compile_errors": list(submission.compile_errors or []),
        "tests": tests,
        # Only a grade has a seed to repeat; the failing tests a student may see (a hidden one is not named).
        "reproduce": reproduce_command(submission.seed, failing_names(tests)) if graded else None,
        "error": submission.error,
        # Waiting longer than usual for a reason that is never the student's (the grading machine's sandbox is
        # down, say): said in words; what exactly is wrong is the operator's (log, workers table), never here.
        "delayed": delayed_note(submission, grading_paused),
        "created_at": _iso(submission.created_at),
        "graded_at": _iso(submission.graded_at),
    }
    if staff:
        report.update(email=submission.user.email, seed=submission.seed, suite_version=submission.suite_version,
                      sandbox_image=submission.sandbox_image, attempt=submission.attempt)
    return report


def override_of(submission: Submission) -> dict[str, Any] | None:
    if submission.override_score is None:
        return None
    return {"score": submission.override_score, "comment": submission.override_comment,
            "by": submission.override_by, "at": _iso(submission.override_at)}


def delayed_note(submission: Submission, grading_paused: bool = False) -> str | None:
    if submission.status != SubmissionStatus.queued.value or not (submission.delayed_reason or grading_paused):
        return None
    return DELAYED_NOTE


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    # SQLite hands datetimes back naive (stored as UTC): the contract wants a zone.
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).isoformat()
