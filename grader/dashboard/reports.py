"""One submission's full report for course staff: every test (hidden ones included) with its diagnostic,
evidence, traceback and output, who handed it in, both grades (automatic and override), and its regrades.

    submission_report(session, user, submission_id)
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from ..courses.counting import counted_score
from ..courses.late import late_report
from ..db.models import Submission, SubmissionStatus, User
from .access import staff_submission
from .coursework import extension_for
from .regrades import regrades_of


def override_json(submission: Submission) -> dict[str, Any] | None:
    if submission.override_score is None:
        return None
    return {"score": submission.override_score, "comment": submission.override_comment,
            "by": submission.override_by,
            "at": submission.override_at.isoformat() if submission.override_at else None}


def report_json(session: Session, submission: Submission) -> dict[str, Any]:
    due_at = extension_for(session, submission)
    graded = submission.status == SubmissionStatus.graded.value and submission.score is not None
    return {
        "id": str(submission.id),
        "user_id": submission.user_id,
        "email": submission.user.email,
        "name": submission.user.name,
        "course": submission.assignment.course.slug,
        "assignment": submission.assignment.slug,
        "status": submission.status,
        "score": submission.score,
        "max_score": submission.max_score,
        # What it counts for: the override, else the score less any late penalty (from the student's extension).
        "counted_score": counted_score(submission, due_at) if graded else None,
        "override": override_json(submission),
        "your_due_at": due_at.isoformat() if due_at else None,
        "late": late_report(submission.assignment, submission.created_at, submission.score, due_at),
        "priorities": submission.priorities,
        "compile_errors": submission.compile_errors,
        "error": submission.error,
        "delayed_reason": submission.delayed_reason,
        "filename": submission.filename,
        "seed": submission.seed,
        "suite_version": submission.suite_version,
        "sandbox_image": submission.sandbox_image,
        "edition": submission.edition,
        "attempt": submission.attempt,
        "created_at": submission.created_at.isoformat(),
        "graded_at": submission.graded_at.isoformat() if submission.graded_at else None,
        "tests": [
            {"suite": r.suite, "name": r.name, "priority": r.priority, "outcome": r.outcome, "points": r.points,
             "max_points": r.max_points, "counts_toward_grade": r.counts_toward_grade, "module": r.module,
             "diagnostic": r.diagnostic, "evidence": r.evidence, "traceback": r.traceback, "output": r.output}
            for r in submission.results
        ],
        "regrades": regrades_of(session, submission),
    }


def submission_report(session: Session, user: User, submission_id: uuid.UUID | str) -> dict[str, Any]:
    return report_json(session, staff_submission(session, user, submission_id))
