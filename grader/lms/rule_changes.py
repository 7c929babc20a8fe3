"""Counting scores changed by a rule instead of a grade: an extension granted or taken back, or an assignment's
due date, late policy or score policy edited. Each student whose counted score moved gets one `grade.changed`
event for their counting submission, written in the change's own transaction like a grade's event.

    with scores_may_change(session, assignment, [student]):    # or users=None: every student
        grant_extension(session, assignment, student, due)     # events for the scores that moved

Nothing is sent for a student whose counted score stayed the same (a new due date long after their work was
handed in in time changes nothing a gradebook holds)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..courses.counting import counted_score, counting_submission
from ..courses.extensions import extension_dues
from ..db.models import Assignment, Submission, SubmissionStatus, User
from .events import GRADE_CHANGED, record_event

# Only what these fields decide is recomputed here; points and suites change a score only through a regrade.
SCORE_RULES = ("due_at", "late_policy", "score_policy")

Counted = dict[int, tuple[Submission, float | None]]


def counted_scores(session: Session, assignment: Assignment, users: Iterable[User] | None = None) -> Counted:
    """Each student's counting submission and its counted score, for students with graded work."""
    query = select(Submission).where(Submission.assignment_id == assignment.id,
                                     Submission.status == SubmissionStatus.graded.value)
    if users is not None:
        query = query.where(Submission.user_id.in_([user.id for user in users]))
    by_user: dict[int, list[Submission]] = defaultdict(list)
    for submission in session.scalars(query):
        by_user[submission.user_id].append(submission)
    dues = extension_dues(session, assignment)
    found: Counted = {}
    for user_id, submissions in by_user.items():
        due = dues.get(user_id)  # None: the assignment's own due date
        counting = counting_submission(submissions, assignment.score_policy, due)
        if counting is not None:
            found[user_id] = (counting, counted_score(counting, due))
    return found


def publish_changes(session: Session, assignment: Assignment, before: Counted,
                    users: Iterable[User] | None = None) -> int:
    """Record `grade.changed` for each student whose counting submission or counted score differs from
    `before`; how many."""
    after = counted_scores(session, assignment, users)
    changed = 0
    for user_id, (submission, score) in after.items():
        previous = before.get(user_id)
        if previous is not None and previous[0].id == submission.id and previous[1] == score:
            continue
        record_event(session, GRADE_CHANGED, submission)
        changed += 1
    return changed


@contextmanager
def scores_may_change(session: Session, assignment: Assignment, users: Iterable[User] | None = None,
                      fields: Iterable[str] | None = None) -> Iterator[None]:
    """Around a change of an extension (`users`: that student) or of the assignment (`fields`: the edited ones;
    nothing is computed unless one of SCORE_RULES is among them)."""
    if fields is not None and not set(fields) & set(SCORE_RULES):
        yield
        return
    users = None if users is None else list(users)
    before = counted_scores(session, assignment, users)
    yield
    session.flush()
    publish_changes(session, assignment, before, users)
