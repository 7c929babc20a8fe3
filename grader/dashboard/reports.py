"""One submission's full report for course staff: every test (hidden ones included) with its diagnostic,
evidence, traceback and output, who handed it in, both grades (automatic and override), and its regrades.

    submission_report(session, user, submission_id)
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from ..courses.counting import counted_score
from ..db.models import CourseRole, Submission, SubmissionStatus, User
from ..submissions.report import submission_report as public_submission_report
from .access import staff_submission
from .coursework import extension_for
from .regrades import regrades_of


def report_json(session: Session, submission: Submission) -> dict[str, Any]:
    """The one public report (grader.submissions.report) as staff see it, plus what only the dashboard shows."""
    due_at = extension_for(session, submission)
    graded = submission.status == SubmissionStatus.graded.value and submission.score is not None
    report = public_submission_report(submission, viewer=CourseRole.instructor, due_at=due_at)
    report.update(
        user_id=submission.user_id,
        name=submission.user.name,
        # What it counts for: the override, else the score less any late penalty (from the student's extension).
        counted_score=counted_score(submission, due_at) if graded else None,
        your_due_at=due_at.isoformat() if due_at else None,
        # The operator's words for a delay; students read only that it is delayed.
        delayed_reason=submission.delayed_reason,
        regrades=regrades_of(session, submission),
    )
    return report


def submission_report(session: Session, user: User, submission_id: uuid.UUID | str) -> dict[str, Any]:
    return report_json(session, staff_submission(session, user, submission_id))
