"""The body of the grading task, kept apart from Celery so it reads (and tests) as plain code.

    claimed = claim(id)        a message is a token for "grade one queued submission": the fairest one
                               (grader.submissions.fairness), or its own if that one's holder died
    claimed.lease              the grading this delivery now holds (None: nothing to do, or busy_for_s says wait)
    grade_stored(lease)        unpack, grade in the sandbox, record the result if the lease is still ours
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from ..db.models import Submission, SubmissionStatus
from ..db.session import get_sessionmaker, session_scope
from ..grading.grade import GradeOptions, grade
from ..intake import ArchiveStore, unpack_submission
from ..settings import get_settings
from ..workers import current_worker_id, holder_is_gone
from . import progress, status
from .dispatch import enqueue_or_leave
from .fairness import fairest_queued
from .lease import Lease, LeaseKeeper, expired, still_held
from .service import record_grade

log = logging.getLogger(__name__)


class ArchiveUnavailable(Exception):
    """The worker cannot read a submission's stored archive: the archive store is not shared with it."""

# Fairness picks that another worker took in the meantime before this one gives up (SQLite never loses one:
# its writes are serial; PostgreSQL skips rows other claims have locked).
CLAIM_ATTEMPTS = 5


@dataclass(frozen=True)
class Claim:
    lease: Lease | None = None
    # > 0: the message's own submission is running under a lease that still looks alive (a redelivery after its
    # worker was killed, say) and nothing else is queued: deliver the message again in this many seconds.
    busy_for_s: float = 0.0

    def __bool__(self) -> bool:
        return self.lease is not None


def claim(token_id: uuid.UUID, now: datetime | None = None) -> Claim:
    """Take a grading for this worker, each a single conditional UPDATE, so of two deliveries exactly one wins:
    the message's own submission if its holder died (lease expired, or its process is gone from this host), else
    the fairest queued submission. Raises the database's errors (the caller must not ack)."""
    now = now or datetime.now(UTC)
    me = current_worker_id()
    with session_scope(write=True) as session:
        own = session.execute(select(Submission.status, Submission.claimed_by, Submission.attempt,
                                     Submission.heartbeat_at, Submission.started_at)
                              .where(Submission.id == token_id)).first()
        if own is not None and own.status == SubmissionStatus.running.value:
            takeover = expired(now)
            if holder_is_gone(own.claimed_by):
                takeover = or_(takeover, and_(Submission.claimed_by == own.claimed_by,
                                              Submission.attempt == own.attempt))
            lease = _take(session, token_id, and_(Submission.status == SubmissionStatus.running.value, takeover),
                          me, now)
            if lease is not None:
                log.warning("submission %s was held by %s, which stopped renewing its lease; taking it over",
                            token_id, own.claimed_by)
                return Claim(lease)
    for _ in range(CLAIM_ATTEMPTS):
        with session_scope(write=True) as session:
            chosen = fairest_queued(session, now)
            if chosen is None:
                break
            lease = _take(session, chosen, Submission.status == SubmissionStatus.queued.value, me, now)
            if lease is not None:
                return Claim(lease)
    if own is not None and own.status == SubmissionStatus.running.value:
        return Claim(busy_for_s=_lease_left(own.heartbeat_at, own.started_at, now))
    return Claim()


def _take(session: Session, submission_id: uuid.UUID, condition: ColumnElement[bool], me: str,
          now: datetime) -> Lease | None:
    """Take the row if `condition` still holds (one conditional UPDATE: of two claimers, one wins)."""
    attempt = status.mark_running(session, submission_id, condition, me, now)
    return None if attempt is None else Lease(submission_id, me, attempt)


def _lease_left(heartbeat_at: datetime | None, started_at: datetime | None, now: datetime) -> float:
    """Seconds until a running row's lease expires (at least 1: the next look must find it expired)."""
    settings = get_settings()
    if heartbeat_at is not None:
        until = _aware(heartbeat_at) + timedelta(seconds=settings.lease_timeout_s)
    else:
        until = _aware(started_at or now) + timedelta(seconds=settings.grading_time_limit_s)
    return max(1.0, (until - now).total_seconds() + 1.0)


def _aware(moment: datetime) -> datetime:
    # SQLite hands datetimes back naive (stored as UTC).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def requeue(submission_id: uuid.UUID) -> bool:
    """Put a graded or failed submission back on the queue (a regrade); False, and nothing sent, if it is
    queued or running already (it is about to be graded anyway). A broker that is down leaves it to the sweeper
    (enqueued_at is cleared with the move), like an upload."""
    with session_scope(write=True) as session:
        moved = status.requeue(session, submission_id)
    if moved:
        with get_sessionmaker(write=True)() as session:  # after the commit above, so the worker finds it queued
            enqueue_or_leave(session, submission_id, source="regrade")
    return moved


def mark_unsent(submission_id: uuid.UUID) -> None:
    """No message carries this queued submission any more: the sweeper's to send (enqueued_at NULL)."""
    with session_scope(write=True) as session:
        session.execute(update(Submission).where(Submission.id == submission_id,
                                                 Submission.status == SubmissionStatus.queued.value)
                        .values(enqueued_at=None))


def grade_stored(lease: Lease) -> bool:
    """Grade a claimed submission and record the result while renewing the lease; False, nothing recorded, when
    the lease was taken over meanwhile (this worker looked dead: its result would be a second one).
    Infrastructure faults (SandboxError, ArchiveUnavailable, database errors) propagate for the task to put the
    submission back; the student's own failures are part of the report."""
    from ..sandboxes import make_sandbox

    submission_id = lease.submission_id
    settings = get_settings()
    with session_scope() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        sha256, suites = submission.archive_sha256, list(submission.assignment.suites)
        edition = submission.assignment.edition  # None: seen from the package
    key = str(submission_id)
    scratch = Path(tempfile.mkdtemp(prefix=f"grader-{key}-"))
    try:
        archive = ArchiveStore(settings.archives).path_of(sha256)
        if not os.access(archive, os.R_OK):
            # Accepted, so stored: a worker that cannot read it does not see the shared archive store (a missing
            # mount, wrong permissions). The machine's fault, never the student's.
            raise ArchiveUnavailable(f"this worker cannot read the stored archive {archive}")
        unpacked = unpack_submission(archive, scratch / "submission")
        scratch.chmod(0o755)  # the sandbox's uid must be able to reach the package
        state = {"done": 0, "total": 0}

        def on_event(kind: str, data: dict) -> None:  # type: ignore[type-arg]
            if kind == "planned":
                state["total"] = len(data["tests"])
            elif kind == "test_finished":
                state["done"] += 1
            progress.publish(key, state["done"], state["total"], data.get("name"))

        options = GradeOptions(suites=suites, seed=settings.fixed_seed, timeout_per_test_s=settings.test_timeout_s,
                               lanes=settings.grading_lanes, edition=edition)
        with LeaseKeeper(lease):
            report = grade(unpacked.root, make_sandbox(settings), options, on_event)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with session_scope(write=True) as session:
        if not still_held(session, lease):
            log.warning("grading of %s (attempt %d) discarded: another worker took it over", key, lease.attempt)
            return False
        record_grade(session, submission_id, report, unpacked.compile_errors)
    return True
