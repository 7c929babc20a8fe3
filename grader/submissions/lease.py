"""The lease on a running grading: who holds it, renewed while the grading runs, checked before its result counts.

    lease = Lease(submission_id, worker_id, attempt)     # what claim() took (attempt: the fencing number)
    with LeaseKeeper(lease, every_s):                    # renews heartbeat_at in a thread while grading
        ...
    still_held(session, lease)                           # in the result's transaction: False -> discard it
    expired(now)                                         # SQL condition: a running row whose holder stopped renewing

A worker killed mid-grading (kill -9 of a pool child, a lost machine) stops renewing; `lease_timeout_s` later
its row is anyone's to take over. `attempt` grows with every claim, so a holder that was only slow, and whose
grading was taken over meanwhile, finds its lease gone and throws its result away: one result per grading.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.orm import Session

from ..db.models import Submission, SubmissionStatus
from ..db.session import session_scope
from ..settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lease:
    submission_id: uuid.UUID
    worker_id: str
    attempt: int


class LeaseLost(Exception):
    """The grading was taken over by another worker (this one looked dead): its result must not be recorded."""


def expired(now: datetime, unrenewed_margin: timedelta = timedelta(0)) -> ColumnElement[bool]:
    """Running, and its holder stopped renewing: heartbeat older than the lease, or (rows claimed before leases
    existed, heartbeat NULL) started longer ago than the grading time limit (plus `unrenewed_margin`)."""
    settings = get_settings()
    stale_beat = now - timedelta(seconds=settings.lease_timeout_s)
    stale_start = now - timedelta(seconds=settings.grading_time_limit_s) - unrenewed_margin
    return and_(Submission.status == SubmissionStatus.running.value,
                or_(and_(Submission.heartbeat_at.is_not(None), Submission.heartbeat_at < stale_beat),
                    and_(Submission.heartbeat_at.is_(None), Submission.started_at < stale_start)))


def _held(lease: Lease) -> ColumnElement[bool]:
    return and_(Submission.id == lease.submission_id, Submission.status == SubmissionStatus.running.value,
                Submission.claimed_by == lease.worker_id, Submission.attempt == lease.attempt)


def renew(lease: Lease, now: datetime | None = None) -> bool:
    """Push the lease's heartbeat forward; False if it is no longer ours."""
    with session_scope(write=True) as session:
        return bool(session.execute(update(Submission).where(_held(lease))
                                    .values(heartbeat_at=now or datetime.now(UTC))).rowcount)  # type: ignore[attr-defined]


def still_held(session: Session, lease: Lease) -> bool:
    """Inside the transaction that records the result: renews the lease and, on PostgreSQL, locks the row until
    the commit, so a takeover that starts now waits for (and then sees) the recorded grade."""
    return bool(session.execute(update(Submission).where(_held(lease))
                                .values(heartbeat_at=datetime.now(UTC))).rowcount)  # type: ignore[attr-defined]


class LeaseKeeper:
    """Renews a lease every `every_s` seconds in a daemon thread while the `with` block runs. A failed renewal
    (the database restarting) is retried on the next beat: the lease's timeout covers a few missed ones."""

    def __init__(self, lease: Lease, every_s: float | None = None) -> None:
        self.lease = lease
        self.every_s = every_s if every_s is not None else get_settings().lease_heartbeat_s
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{lease.submission_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                if not renew(self.lease):
                    self.lost = True
                    log.warning("lease on %s lost: another worker took the grading over", self.lease.submission_id)
                    return
            except Exception as error:
                log.warning("lease renewal for %s failed (next try in %g s): %s",
                            self.lease.submission_id, self.every_s, error)
