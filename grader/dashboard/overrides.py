"""Score overrides by course staff (instructors and TAs): a score that counts instead of the automatic one.

The automatic score stays on the submission and both are shown everywhere; an override is not reduced by a
late penalty (grader.courses.counting). Who set it (their email) and when are kept with it.

    set_override(session, user, submission_id, score=8.5, comment="partial credit for P3, see email")
    clear_override(session, user, submission_id)
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from ..db.models import Submission, SubmissionStatus, User
from ..errors import BadRequest
from ..lms.events import GRADE_CHANGED, record_event
from .access import staff_submission
from .reports import report_json

MAX_COMMENT_CHARS = 2000
# Line breaks and tabs are fine in a comment; other control characters are not text (and PostgreSQL refuses NUL).
_ALLOWED_CONTROLS = frozenset("\n\r\t")


def _checked_score(score: Any, submission: Submission) -> float:
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise BadRequest(f"score must be a number, not {score!r}")
    if not math.isfinite(score):
        raise BadRequest(f"score must be a finite number, not {score!r}")
    if submission.status != SubmissionStatus.graded.value or submission.max_score is None:
        raise BadRequest(f"score: submission {submission.id} is {submission.status}, not graded; an override "
                         "replaces a grade, so regrade it first")
    if not 0 <= score <= submission.max_score:
        raise BadRequest(f"score must be between 0 and the submission's max_score {submission.max_score:g}, "
                         f"not {score!r}")
    return float(score)


def _checked_comment(comment: Any) -> str:
    if not isinstance(comment, str) or not comment.strip():
        raise BadRequest("comment is required: say why the score is overridden (the student reads it)")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise BadRequest(f"comment must be at most {MAX_COMMENT_CHARS} characters, not {len(comment)}")
    if any((ord(c) < 32 and c not in _ALLOWED_CONTROLS) or ord(c) == 127 for c in comment):
        raise BadRequest("comment must not contain control characters other than line breaks and tabs")
    return comment


def set_override(session: Session, user: User, submission_id: uuid.UUID | str, *, score: Any,
                 comment: Any) -> dict[str, Any]:
    """Set (or replace) the override; returns the submission's report. BadRequest naming the field for a score
    that is not a finite number within 0..max_score, or a comment that is missing, blank or too long."""
    submission = staff_submission(session, user, submission_id)
    checked_score = _checked_score(score, submission)
    submission.override_comment = _checked_comment(comment)
    submission.override_score = checked_score
    submission.override_by = user.email
    submission.override_at = datetime.now(UTC)
    session.flush()
    record_event(session, GRADE_CHANGED, submission)
    return report_json(session, submission)


def clear_override(session: Session, user: User, submission_id: uuid.UUID | str) -> dict[str, Any]:
    """Remove the override (the automatic score counts again); returns the report. Clearing none is no error."""
    submission = staff_submission(session, user, submission_id)
    submission.override_score = None
    submission.override_comment = None
    submission.override_by = None
    submission.override_at = None
    session.flush()
    record_event(session, GRADE_CHANGED, submission)
    return report_json(session, submission)
