"""Regrades: grade submissions again with the current suite and sandbox, and show what changed.

    regrade_one(session, user, submission_id)            # one submission, a batch of one
    regrade_all(session, user, course, "capstone")       # every finished submission of an assignment
    regrade_batch(session, user, batch)                  # which finished, old and new score, who it was

A Regrade row keeps the grade from before; the worker fills in the new one (grader.submissions.service.
record_grade). The submissions are requeued only once those rows are committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload

from ..db.models import Course, Regrade, Submission, SubmissionStatus, User
from ..errors import GraderError, NotFound
from .access import course_assignment, require_staff, require_teaches, staff_role, staff_submission

Requeue = Callable[[uuid.UUID], None]


def _resolve_requeue(requeue: Requeue | None) -> Requeue:
    """The function that puts a submission back on the queue: `grader.submissions.requeue(submission_id)`
    unless a caller passes its own. Resolved before any bookkeeping, so a service without it refuses the
    regrade cleanly instead of recording regrades nothing will ever run."""
    if requeue is not None:
        return requeue
    try:
        # Imported on use: grader.submissions pulls in the broker client, which the dashboard's read-only
        # functions (and their tests) do not need.
        from ..submissions import requeue as submissions_requeue
    except ImportError as error:
        raise GraderError(f"regrading is unavailable: {error}") from None
    return submissions_requeue


def _requeue_after_commit(session: Session, ids: list[uuid.UUID], requeue: Requeue) -> None:
    """Enqueue the regrades once the Regrade rows are committed: a worker must never pick up a regrade
    whose bookkeeping a rollback then erased, nor see the submission before the row exists."""

    def _after_commit(_session: Session) -> None:
        for submission_id in ids:
            requeue(submission_id)

    event.listen(session, "after_commit", _after_commit, once=True)


def _start_regrade(session: Session, user: User, submission: Submission, batch: uuid.UUID) -> Regrade:
    regrade = Regrade(
        submission=submission, requested_by_id=user.id, batch=batch, old_score=submission.score,
        old_max_score=submission.max_score, old_suite_version=submission.suite_version,
        old_sandbox_image=submission.sandbox_image,
    )
    session.add(regrade)
    return regrade


def regrade_one(session: Session, user: User, submission_id: uuid.UUID | str, *,
                requeue: Requeue | None = None) -> dict[str, Any]:
    """Record a regrade of one submission (its grade before) and requeue it when the transaction commits."""
    submission = staff_submission(session, user, submission_id)
    run = _resolve_requeue(requeue)
    batch = uuid.uuid4()
    regrade = _start_regrade(session, user, submission, batch)
    session.flush()
    _requeue_after_commit(session, [submission.id], run)
    return {"batch": str(batch), "regrades": _regrades_json(session, [regrade])}


def regrade_all(session: Session, user: User, course: Course, assignment_slug: str, *,
                requeue: Requeue | None = None) -> dict[str, Any]:
    """Regrade every graded or failed submission of one assignment as one batch. Queued and running ones are
    left alone: they are about to be graded with the current suite anyway."""
    require_teaches(session, user, course)
    assignment = course_assignment(session, course, assignment_slug)
    run = _resolve_requeue(requeue)
    done = (SubmissionStatus.graded.value, SubmissionStatus.failed.value)
    submissions = session.scalars(select(Submission).where(Submission.assignment_id == assignment.id,
                                                           Submission.status.in_(done))
                                  .options(selectinload(Submission.user))
                                  .order_by(Submission.created_at)).all()
    batch = uuid.uuid4()
    regrades = [_start_regrade(session, user, s, batch) for s in submissions]
    session.flush()
    _requeue_after_commit(session, [s.id for s in submissions], run)
    return {"batch": str(batch), "regrades": _regrades_json(session, regrades)}


def regrade_batch(session: Session, user: User, batch: uuid.UUID | str) -> dict[str, Any]:
    """One batch's regrades: which finished and how each score changed, and whose work each was."""
    require_staff(session, user)
    try:
        key = batch if isinstance(batch, uuid.UUID) else uuid.UUID(str(batch))
    except ValueError:
        raise NotFound(f"no regrade batch {batch}") from None
    rows = session.scalars(select(Regrade).where(Regrade.batch == key).order_by(Regrade.id).options(
        selectinload(Regrade.submission).selectinload(Submission.user),
        selectinload(Regrade.submission).selectinload(Submission.assignment))).all()
    if not rows or any(staff_role(session, user, course) is None
                       for course in {r.submission.assignment.course for r in rows}):
        raise NotFound(f"no regrade batch {batch}")
    changed = [r for r in rows if r.finished_at is not None and r.new_score != r.old_score]
    return {"batch": str(key), "total": len(rows), "finished": sum(r.finished_at is not None for r in rows),
            "changed": len(changed), "regrades": _regrades_json(session, rows)}


def regrades_of(session: Session, submission: Submission) -> list[dict[str, Any]]:
    """One submission's regrade history, oldest first (its report shows it)."""
    rows = session.scalars(select(Regrade).where(Regrade.submission_id == submission.id)
                           .order_by(Regrade.created_at, Regrade.id)).all()
    return _regrades_json(session, rows)


def _regrades_json(session: Session, rows: Sequence[Regrade]) -> list[dict[str, Any]]:
    finished = [r for r in rows if r.finished_at is not None]
    later: dict[uuid.UUID, list[Regrade]] = {}
    if finished:
        # Every regrade of the same submissions, in one query: a later regrade's old_* is what an earlier one
        # produced, even after the submission has been graded again since.
        others = session.scalars(select(Regrade).where(Regrade.submission_id.in_({r.submission_id for r in finished}))
                                 .order_by(Regrade.id)).all()
        for other in others:
            later.setdefault(other.submission_id, []).append(other)
    return [_regrade_json(r, _graded_with(r, later.get(r.submission_id, []))) for r in rows]


def _graded_with(r: Regrade, same_submission: Sequence[Regrade]) -> tuple[str | None, str | None]:
    """(suite version, sandbox image) the regrade `r` graded with; (None, None) while it is pending.

    Regrade rows keep only the versions from before. The first regrade of the same submission requested
    after `r` finished recorded `r`'s result as its old_*; with none, the submission still carries it.
    """
    if r.finished_at is None:
        return None, None
    for successor in same_submission:
        if successor.id > r.id and successor.created_at is not None and successor.created_at >= r.finished_at:
            return successor.old_suite_version, successor.old_sandbox_image
    return r.submission.suite_version, r.submission.sandbox_image


def _regrade_json(r: Regrade, graded_with: tuple[str | None, str | None] = (None, None)) -> dict[str, Any]:
    delta = None
    if r.finished_at is not None and r.new_score is not None and r.old_score is not None:
        delta = r.new_score - r.old_score
    new_suite_version, new_sandbox_image = graded_with
    student = r.submission.user
    return {
        "id": r.id, "batch": str(r.batch), "submission_id": str(r.submission_id),
        "user_id": student.id, "email": student.email, "name": student.name,
        "old_score": r.old_score, "old_max_score": r.old_max_score, "old_suite_version": r.old_suite_version,
        "old_sandbox_image": r.old_sandbox_image, "new_score": r.new_score, "new_max_score": r.new_max_score,
        "new_suite_version": new_suite_version, "new_sandbox_image": new_sandbox_image,
        "delta": delta, "created_at": r.created_at.isoformat() if r.created_at else None,
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
    }
