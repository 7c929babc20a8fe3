"""Find the submissions the queue has lost and send them again, so nothing accepted is ever lost.

    result = sweep(url_or_session, datetime.now(UTC))    # SweepResult(sent=2, requeued=1, failed=0)
    take_back_orphans()                                  # at start-up: gradings dead processes on this host held

Three kinds of lost submission:
- unsent: `queued` with enqueued_at NULL, created over UNSENT_GRACE ago. The broker was down when it was
  accepted (or regraded), the API process died between commit and send, or an earlier sweep's send failed.
  Younger rows are left alone: the request that accepted them may be sending right now.
- stale: `queued`, sent over `resend_queued_after_s` ago and still not taken: its message may have died with
  the broker (Redis restarted without persistence). Sent again, but only as many as the broker's queue lacks
  (any message grades any queued row: grader.submissions.fairness); a duplicate is harmless either way.
- abandoned: `running` under a lease its holder stopped renewing (grader.submissions.lease): the worker died.
  Back to `queued` and sent again. Rows from before leases (heartbeat NULL) wait for grading_time_limit_s +
  ABANDONED_MARGIN, as they always did.

Every send is claimed first by a conditional UPDATE committed before the send, so several sweepers (each API
process runs one, and cron may run `grader sweep`) never send the same row twice; a send the broker refuses
hands the claim back (enqueued_at NULL) for the next sweep. PeriodicSweeper runs sweep() in a thread.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from ..db.models import Submission, SubmissionStatus
from ..db.session import get_sessionmaker, session_scope
from ..lms.lti.score_outbox import sweep_scores
from ..lms.webhooks.outbox import sweep_deliveries
from ..settings import get_settings
from ..workers import forget_dead_on_this_host, holder_is_gone, hostname
from . import status
from .dispatch import enqueue_or_leave, send, waiting_messages
from .lease import expired

log = logging.getLogger(__name__)

UNSENT_GRACE = timedelta(seconds=10)
# Past the hard time limit, so the worker's own kill (and its soft-limit handler marking the row failed) has
# had its chance before the row is taken away from it.
ABANDONED_MARGIN = timedelta(seconds=60)
# Rows handled per kind per sweep, oldest first: one sweep stays short; the next one continues.
BATCH = 200

RECOVERED = Counter("grader_sweeper_sent", "Grading tasks sent by the sweeper, by why the row needed it", ["reason"])


@dataclass(frozen=True)
class SweepResult:
    sent: int = 0  # messages the broker took
    requeued: int = 0  # abandoned rows put back to queued (sent or, if the broker refused, left for next time)
    failed: int = 0  # sends the broker refused; the sweep stops at the first, the rest wait for the next one


def sweep(session_or_url: Session | str | None, now: datetime) -> SweepResult:
    """One pass over abandoned, unsent and stale submissions. `session_or_url`: a Session (committed after every
    claim, so the caller's pending work with it), a database URL, or None for the settings' database."""
    settings = get_settings()
    running = expired(now, ABANDONED_MARGIN)
    unsent = ((Submission.status == SubmissionStatus.queued.value) & Submission.enqueued_at.is_(None)
              & (Submission.created_at < now - UNSENT_GRACE))
    stale = ((Submission.status == SubmissionStatus.queued.value)
             & (Submission.enqueued_at < now - timedelta(seconds=settings.resend_queued_after_s)))
    sent = requeued = 0
    for reason, condition in (("abandoned", running), ("unsent", unsent), ("stale", stale)):
        with _transaction(session_or_url) as session:
            limit = BATCH if reason != "stale" else _stale_to_resend(session)
            ids = session.scalars(select(Submission.id).where(condition)
                                  .order_by(Submission.created_at).limit(limit)).all() if limit else []
        for submission_id in ids:
            if not _claim(session_or_url, submission_id, condition, now, abandoned=reason == "abandoned"):
                continue  # another sweeper (or the worker) got there first
            if reason == "abandoned":
                requeued += 1
                log.warning("submission %s was left running by a worker that stopped renewing its lease; "
                            "grading it again", submission_id)
            if not send(submission_id, source="sweep"):
                _give_back(session_or_url, submission_id, now)
                return SweepResult(sent=sent, requeued=requeued, failed=1)
            sent += 1
            RECOVERED.labels(reason=reason).inc()
    return SweepResult(sent=sent, requeued=requeued)


def _stale_to_resend(session: Session) -> int:
    """How many stale rows to re-send: the queued rows the broker's waiting messages do not cover (all of them,
    up to BATCH, when the broker cannot say)."""
    waiting = waiting_messages()
    if waiting is None:
        return BATCH
    queued = session.scalar(select(func.count()).where(Submission.status == SubmissionStatus.queued.value)) or 0
    return max(0, min(BATCH, queued - waiting))


def take_back_orphans(url: str | None = None) -> int:
    """Put back on the queue (and send) the gradings held by processes of this host that are gone: a restarted
    `grader serve` or `grader worker` recovers what its predecessor was grading when it was killed, at once
    (the embedded broker never redelivers a message, and the lease would take a while). Returns how many."""
    forget_dead_on_this_host()
    with session_scope(url) as session:
        held = session.execute(select(Submission.id, Submission.claimed_by, Submission.attempt)
                               .where(Submission.status == SubmissionStatus.running.value,
                                      Submission.claimed_by.like(f"{hostname()}:%"))).all()
    taken = 0
    for submission_id, holder, attempt in held:
        if not holder_is_gone(holder):
            continue
        condition = ((Submission.status == SubmissionStatus.running.value) & (Submission.claimed_by == holder)
                     & (Submission.attempt == attempt))
        with session_scope(url, write=True) as session:
            moved = status.take_back(session, submission_id, condition, enqueued_at=None)
        if moved:
            taken += 1
            log.warning("submission %s was being graded by %s, which is gone; grading it again", submission_id,
                        holder)
            with get_sessionmaker(url, write=True)() as session:
                enqueue_or_leave(session, submission_id, source="orphan")
    return taken


def _claim(target: Session | str | None, submission_id: uuid.UUID, condition: ColumnElement[bool], now: datetime,
           *, abandoned: bool) -> bool:
    # The candidate query's condition again, in the UPDATE: of two sweepers that both listed the row, one wins.
    # An abandoned row also goes back to queued (grader.submissions.status, the one place statuses change).
    with _transaction(target) as session:
        if abandoned:
            return status.take_back(session, submission_id, condition, enqueued_at=now)
        result = session.execute(update(Submission).where(Submission.id == submission_id, condition)
                                 .values(enqueued_at=now).execution_options(synchronize_session=False))
        return result.rowcount == 1  # type: ignore[attr-defined]


def _give_back(target: Session | str | None, submission_id: uuid.UUID, claimed_at: datetime) -> None:
    # Only this sweep's own claim: the row is still queued, and the next sweep (any sweeper) sends it.
    with _transaction(target) as session:
        session.execute(update(Submission)
                        .where(Submission.id == submission_id, Submission.enqueued_at == claimed_at)
                        .values(enqueued_at=None).execution_options(synchronize_session=False))


@contextmanager
def _transaction(target: Session | str | None) -> Iterator[Session]:
    """One committed transaction: on the caller's Session, or a write session on `target` as a URL."""
    if not isinstance(target, Session):
        with session_scope(target, write=True) as session:
            yield session
        return
    try:
        yield target
    except BaseException:
        target.rollback()
        raise
    target.commit()


class PeriodicSweeper:
    """sweep() every `interval_s` seconds in a daemon thread, from start() until stop() (the API's lifespan).
    The first sweep waits one interval: a process that just started has nothing of its own to recover."""

    def __init__(self, interval_s: float, url: str | None = None) -> None:
        self.interval_s = interval_s
        self.url = url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grader-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        # A sweep in progress finishes its current send; daemon=True keeps a hung one from blocking exit.
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                result = sweep(self.url, datetime.now(UTC))
            except Exception:
                # The database may be restarting; the thread must outlive that and try again next interval.
                log.exception("sweep failed; next try in %g s", self.interval_s)
                continue
            if result.sent or result.failed:
                log.info("sweep: %s", result)
            try:
                sweep_deliveries(url=self.url)  # the LMS's webhook deliveries whose message was lost
                sweep_scores(url=self.url)  # and its LTI scores
            except Exception:
                log.exception("LMS outbox sweep failed; next try in %g s", self.interval_s)
