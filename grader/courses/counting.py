"""Which submission counts, and for what score: one set of rules for the student's page, the instructor's table,
the charts and the CSV. Pure functions; the caller looks up the student's extension (extensions.due_for).

    counted_score(submission, due_at=extension)          # override, else raw score less the late penalty
    counting_submission(submissions, "best", due_at=extension)

A score override by course staff counts instead of the automatic score (both stay on the row and are shown),
and no late penalty is taken from it: the person who set it decided what the work is worth.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..db.models import ScorePolicy, Submission, SubmissionStatus
from .late import lateness


def adjusted_score(submission: Submission, due_at: datetime | None = None) -> float | None:
    """The automatic score less its assignment's late penalty (counted from `due_at`, an extension, if given)."""
    late = lateness(submission.assignment, submission.created_at, due_at)
    return submission.score if late is None else late.adjust(submission.score)


def counted_score(submission: Submission, due_at: datetime | None = None) -> float | None:
    """What `submission` counts for: staff's override when there is one, else the late-adjusted score."""
    if submission.override_score is not None:
        return submission.override_score
    return adjusted_score(submission, due_at)


def counts(submission: Submission, due_at: datetime | None = None) -> bool:
    """False for work past the late policy's max_late_days (graded for feedback only), unless staff overrode it."""
    if submission.override_score is not None:
        return True
    late = lateness(submission.assignment, submission.created_at, due_at)
    return late is None or late.counts


def counting_submission(submissions: Sequence[Submission], policy: str,
                        due_at: datetime | None = None) -> Submission | None:
    """The submission whose score counts among one student's submissions to one assignment.

    Only graded submissions count, each for its counted score. best: the highest (the later one on a tie, so a
    regrade that changed nothing still shows the newest grade); latest: the most recent graded one that is not
    past the late policy's max_late_days (work handed in after the cutoff is graded for feedback, but must not
    replace a grade that counts), else the most recent graded one. With nothing graded, the most recent
    submission (queued, running or failed) is shown with no score.
    """
    by_time = sorted(submissions, key=lambda s: s.created_at)
    graded = [s for s in by_time if s.status == SubmissionStatus.graded.value and s.score is not None]
    if graded:
        if policy == ScorePolicy.latest.value:
            in_time = [s for s in graded if counts(s, due_at)]
            return (in_time or graded)[-1]
        return max(reversed(graded), key=lambda s: counted_score(s, due_at) or 0.0)
    return by_time[-1] if by_time else None
