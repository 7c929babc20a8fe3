"""Every change of a submission's status, in one place: no other module assigns Submission.status.

    queued ──mark_running──▶ running ──mark_graded──▶ graded
       ▲                       │  └────mark_failed──▶ failed     (a fault of the grading itself, never the sandbox's)
       │                       ├──requeue_delayed──▶ queued + delayed note   (an infrastructure fault)
       │                       ├──give_back────────▶ queued                  (the database went away mid-grading)
       │                       └──take_back────────▶ queued                  (its holder died: sweeper, restart)
       └──────requeue (a regrade) from graded or failed

Each move from `running` is one conditional UPDATE on the holder (or on the condition the caller names), so a
worker whose grading was taken over cannot undo the new holder's. note_delayed/clear_delay set and clear the
words a queued submission's student reads while it waits for the grading machine.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from ..db.models import Submission, SubmissionStatus, Worker, WorkerState
from ..db.session import session_scope
from ..lms import events as lms_events
from ..settings import get_settings
from ..workers import current_worker_id

log = logging.getLogger(__name__)

# What the student reads (the report's "delayed"): no host paths, no operator instructions; those go to the log
# and the worker's row.
DELAYED_REASON = "the grading machine's sandbox is not working right now"
QUEUED, RUNNING = SubmissionStatus.queued.value, SubmissionStatus.running.value
GRADED, FAILED = SubmissionStatus.graded.value, SubmissionStatus.failed.value


def new_submission(**columns: Any) -> Submission:
    """A new upload's row: queued."""
    return Submission(status=QUEUED, **columns)


def mark_running(session: Session, submission_id: uuid.UUID, condition: ColumnElement[bool], worker_id: str,
                 now: datetime) -> int | None:
    """Claim the row for `worker_id` if `condition` still holds (one conditional UPDATE: of two claimers, one
    wins); the claim's attempt number, or None when it was not taken."""
    taken = session.execute(update(Submission).where(Submission.id == submission_id, condition)
                            .values(status=RUNNING, started_at=now, heartbeat_at=now, claimed_by=worker_id,
                                    attempt=Submission.attempt + 1)
                            .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    if not taken:
        return None
    return int(session.scalar(select(Submission.attempt).where(Submission.id == submission_id)) or 0)


def mark_graded(submission: Submission, now: datetime | None = None) -> None:
    """The grade is recorded (grader.submissions.service.record_grade, in the same transaction)."""
    submission.status = GRADED
    submission.error = None
    submission.delayed_reason = None
    submission.graded_at = now or datetime.now(UTC)


def mark_failed(submission_id: uuid.UUID, error: str) -> None:
    """This worker's grading ended in a fault of the grading itself (its time limit, a bug): only while this
    worker holds it, so a worker whose grading was taken over cannot mark the new holder's result failed."""
    with session_scope(write=True) as session:
        if _from_held_in(session, submission_id, status=FAILED, error=error):
            lms_events.record_event(session, lms_events.FAILED, submission_id)  # in the same transaction as the status


def give_back(submission_id: uuid.UUID) -> None:
    """This worker cannot finish (the database went away mid-grading): queued again, for anyone."""
    _from_held(submission_id, status=QUEUED, error=None, claimed_by=None, heartbeat_at=None)


def requeue_delayed(submission_id: uuid.UUID, error: BaseException | str) -> None:
    """An infrastructure fault while grading: queued again with the delayed note (never `failed`, never a score);
    the operator reads `error` in the log and in the worker's row."""
    log.warning("submission %s back to the queue after an infrastructure fault: %s", submission_id, error)
    with session_scope(write=True) as session:
        session.execute(update(Submission).where(Submission.id == submission_id, Submission.status == RUNNING)
                        .values(status=QUEUED, delayed_reason=DELAYED_REASON, error=None, claimed_by=None,
                                heartbeat_at=None))


def take_back(session: Session, submission_id: uuid.UUID, condition: ColumnElement[bool],
              enqueued_at: datetime | None) -> bool:
    """A running row whose holder died (the caller's `condition` says how it knows): queued again, its
    enqueued_at set to the send about to happen (None: left for the sweeper to send). True if this call moved it."""
    moved = session.execute(update(Submission).where(Submission.id == submission_id, condition)
                            .values(status=QUEUED, claimed_by=None, heartbeat_at=None, enqueued_at=enqueued_at)
                            .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    return bool(moved)


def requeue(session: Session, submission_id: uuid.UUID) -> bool:
    """A regrade: a graded or failed submission queued again (enqueued_at cleared: not sent yet). False when it is
    queued or running already (it is about to be graded anyway)."""
    moved = session.execute(update(Submission).where(Submission.id == submission_id,
                                                     Submission.status.in_((GRADED, FAILED)))
                            .values(status=QUEUED, error=None, enqueued_at=None)).rowcount  # type: ignore[attr-defined]
    return bool(moved)


def note_delayed(submission_id: uuid.UUID, reason: str = DELAYED_REASON) -> None:
    """A queued submission whose message met a sick sandbox: the student reads that grading is delayed."""
    with session_scope(write=True) as session:
        session.execute(update(Submission).where(Submission.id == submission_id, Submission.status == QUEUED,
                                                 Submission.delayed_reason.is_(None))
                        .values(delayed_reason=reason))


def note_delayed_while_nothing_grades(now: datetime | None = None) -> int:
    """While no live worker takes work (every sandbox sick, as on a machine whose sandbox is not set up yet), every
    queued submission is delayed by the grading machine: its student reads so, even though no message of it has
    reached a worker yet (a sick worker stops consuming). How many were marked."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=get_settings().lease_timeout_s)
    with session_scope(write=True) as session:
        ready = session.scalar(select(Worker.id).where(Worker.state == WorkerState.ready.value,
                                                       Worker.heartbeat_at >= since).limit(1))
        if ready is not None:
            return 0
        return int(session.execute(update(Submission).where(Submission.status == QUEUED,
                                                            Submission.delayed_reason.is_(None))
                                   .values(delayed_reason=DELAYED_REASON)).rowcount)  # type: ignore[attr-defined]


def clear_delay(submission_id: uuid.UUID) -> None:
    """Grading (re)started on a healthy sandbox: the delay note no longer applies."""
    with session_scope(write=True) as session:
        session.execute(update(Submission).where(Submission.id == submission_id,
                                                 Submission.delayed_reason.is_not(None))
                        .values(delayed_reason=None))


def _from_held(submission_id: uuid.UUID, **values: Any) -> None:
    with session_scope(write=True) as session:
        _from_held_in(session, submission_id, **values)


def _from_held_in(session: Session, submission_id: uuid.UUID, **values: Any) -> bool:
    """True if this worker still held the row, which now has `values`."""
    moved = session.execute(update(Submission).where(Submission.id == submission_id, Submission.status == RUNNING,
                                                     Submission.claimed_by == current_worker_id())
                            .values(**values).execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    return bool(moved)
