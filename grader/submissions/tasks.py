"""The body of the grading task, kept apart from Celery so it reads (and tests) as plain code.

    claim(id) -> bool          queued -> running, atomically; False if someone else has it (a re-delivery)
    grade_stored(id)           unpack the stored archive, grade it in the sandbox, record the results
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, update

from ..db.models import Submission, SubmissionStatus
from ..db.session import get_sessionmaker, session_scope
from ..grading.grade import GradeOptions, grade
from ..intake import ArchiveStore, unpack_submission
from ..settings import get_settings
from . import progress
from .dispatch import enqueue_or_leave
from .service import record_grade


def claim(submission_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Mark the submission running if it is queued (or was left running by a worker that died past the time
    limit). One conditional UPDATE: of two deliveries of the same task, exactly one wins."""
    now = now or datetime.now(UTC)
    stale = now - timedelta(seconds=get_settings().grading_time_limit_s)
    with session_scope(write=True) as session:
        result = session.execute(
            update(Submission)
            .where(Submission.id == submission_id,
                   or_(Submission.status == SubmissionStatus.queued.value,
                       (Submission.status == SubmissionStatus.running.value) & (Submission.started_at < stale)))
            .values(status=SubmissionStatus.running.value, started_at=now, attempt=Submission.attempt + 1)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def requeue(submission_id: uuid.UUID) -> bool:
    """Put a graded or failed submission back on the queue (a regrade); False, and nothing sent, if it is
    queued or running already (it is about to be graded anyway). A broker that is down leaves it to the sweeper
    (enqueued_at is cleared with the move), like an upload."""
    done = (SubmissionStatus.graded.value, SubmissionStatus.failed.value)
    with session_scope(write=True) as session:
        moved = session.execute(update(Submission).where(Submission.id == submission_id, Submission.status.in_(done))
                                .values(status=SubmissionStatus.queued.value, error=None, enqueued_at=None)
                                ).rowcount  # type: ignore[attr-defined]
    if moved:
        with get_sessionmaker(write=True)() as session:  # after the commit above, so the worker finds it queued
            enqueue_or_leave(session, submission_id, source="regrade")
    return bool(moved)


def mark_unsent(submission_id: uuid.UUID) -> None:
    """No message carries this queued submission any more: the sweeper's to send (enqueued_at NULL)."""
    with session_scope(write=True) as session:
        session.execute(update(Submission).where(Submission.id == submission_id,
                                                 Submission.status == SubmissionStatus.queued.value)
                        .values(enqueued_at=None))


def set_status(submission_id: uuid.UUID, status: SubmissionStatus, error: str | None = None) -> None:
    with session_scope(write=True) as session:
        session.execute(update(Submission).where(Submission.id == submission_id)
                        .values(status=status.value, error=error))


def grade_stored(submission_id: uuid.UUID) -> None:
    """Grade a claimed submission and record the result. Infrastructure faults (SandboxError, database
    errors) propagate for the task to retry; the student's own failures are part of the report."""
    from ..sandboxes import make_sandbox

    settings = get_settings()
    with session_scope() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        sha256, suites = submission.archive_sha256, list(submission.assignment.suites)
        edition = submission.assignment.edition  # None: seen from the package
    key = str(submission_id)
    scratch = Path(tempfile.mkdtemp(prefix=f"grader-{key}-"))
    try:
        unpacked = unpack_submission(ArchiveStore(settings.archives).path_of(sha256), scratch / "submission")
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
        report = grade(unpacked.root, make_sandbox(settings), options, on_event)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with session_scope(write=True) as session:
        record_grade(session, submission_id, report, unpacked.compile_errors)
