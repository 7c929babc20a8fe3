"""Submission services: functions over a Session (they flush; the caller commits; submit_upload alone commits,
because the task may only be sent after the row is durable). No HTTP here.

    submission = accept_submission(session, user, upload_path, "x.zip", "capstone")   # status queued
    submission.compile_errors                       # its files that do not compile, known before any grading
    submission = submit_upload(session, user, request_body, "x.zip")                 # + commit + send
    report = get_report(session, user, submission.id)                                # the public shape
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..courses.counting import counting_submission
from ..courses.extensions import extension_due
from ..courses.rubric import apply_points
from ..courses.service import check_accepts_submissions, course_role, get_assignment
from ..db.models import Assignment, CourseRole, Extension, Regrade, Submission, SubmissionStatus, TestResult, User
from ..errors import BadUpload, NotFound, TooManyRequests
from ..intake import ArchiveStore, ArchiveTooLarge, CompileProblem, IntakeError, Listing, check_submission
from ..intake.detect import detect_format
from ..intake.diskspace import ensure_free_space, state_paths
from ..lms.events import GRADED, RECEIVED, record_event
from ..settings import get_settings
from . import dispatch, status
from .filenames import MEDIA_TYPES, StoredUpload, clean_filename, download_name
from .grading_status import grading_status
from .report import delayed_note, submission_report

RATE_WINDOW = timedelta(hours=1)


def accept_submission(session: Session, user: User, upload_path: Path, filename: str,
                      assignment_slug: str = "capstone", *, now: datetime | None = None) -> Submission:
    """Validate, store (content-addressed, durable) and record one upload; the row is queued, not yet committed.

    `filename` is kept (cleaned: grader.submissions.filenames) for the student's history and the download, and for
    messages: intake reads the format from the bytes, never from the name. A package with files that do not
    compile is accepted (its other modules still earn points); the row names them."""
    sha256, listing = store_upload(upload_path, filename)
    submission = record_submission(session, user, sha256, assignment_slug, now=now,
                                   compile_errors=listing.compile_errors)
    submission.filename = clean_filename(filename)
    session.flush()
    return submission


def store_upload(upload_path: Path, filename: str) -> tuple[str, Listing]:
    """Check the upload with intake's rules and store it; its sha256 and what intake found in it. No database
    work: on SQLite the write lock must not be held while an archive is read and fsynced, or concurrent uploads
    queue behind it."""
    settings = get_settings()
    size = upload_path.stat().st_size
    if size > settings.max_upload_bytes:
        raise RejectedUpload(f"{filename}: the upload is over {settings.max_upload_bytes} bytes", "too_large", 413)
    # Before anything is written: a nearly full disk refuses the upload (503) while SQLite and the broker still
    # have room to record what was accepted before it.
    ensure_free_space(state_paths(settings), size, settings.min_free_bytes)
    # Checked, not unpacked: the same rules and every byte decompressed, but no file per member created and
    # removed (that was most of an accept's time). The worker unpacks the stored archive under the same rules.
    try:
        listing = check_submission(upload_path)
    except ArchiveTooLarge as error:
        raise RejectedUpload(str(error), error.code, 413) from error
    except IntakeError as error:
        raise RejectedUpload(str(error), error.code) from error
    # The archive is fsynced in place before the row exists, so a committed row always has its archive.
    return ArchiveStore(settings.archives).put(upload_path), listing


def record_submission(session: Session, user: User, sha256: str, assignment_slug: str = "capstone",
                      *, now: datetime | None = None, compile_errors: Sequence[CompileProblem] = ()) -> Submission:
    """The queued row for a stored archive, after the assignment and rate-limit checks."""
    now = now or datetime.now(UTC)
    assignment = get_assignment(session, assignment_slug, user=user)
    check_accepts_submissions(session, assignment, user, now)
    _check_rate(session, user, assignment, now)
    submission = status.new_submission(id=uuid.uuid4(), assignment_id=assignment.id, user_id=user.id,
                                       archive_sha256=sha256, created_at=now,
                                       compile_errors=[problem.as_dict() for problem in compile_errors])
    session.add(submission)
    session.flush()
    record_event(session, RECEIVED, submission)  # an LMS gradebook shows it submitted, pending its grade
    return submission


def _check_rate(session: Session, user: User, assignment: Assignment, now: datetime) -> None:
    limit = assignment.max_submissions_per_hour
    if limit is None:
        return
    # Two uploads by one student at once would otherwise both count the same rows and both pass. Locking the
    # student's row first makes them count one after the other; under READ COMMITTED the second count sees the
    # first's committed row. (On SQLite, BEGIN IMMEDIATE already serialises writers; FOR UPDATE is skipped.)
    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    since = now - RATE_WINDOW
    recent = select(Submission.created_at).where(
        Submission.assignment_id == assignment.id, Submission.user_id == user.id, Submission.created_at > since)
    count = session.scalar(select(func.count()).select_from(recent.subquery())) or 0
    if count < limit:
        return
    oldest = session.scalar(select(func.min(recent.subquery().c.created_at)))
    oldest = oldest.replace(tzinfo=UTC) if oldest and oldest.tzinfo is None else oldest
    retry_after = ((oldest or now) + RATE_WINDOW - now).total_seconds()
    raise TooManyRequests(f"at most {limit} submissions per hour to {assignment.slug}", retry_after=retry_after)


def get_submission(session: Session, user: User, submission_id: uuid.UUID | str) -> tuple[Submission, CourseRole]:
    """The submission and the viewer's role in its course. NotFound (not Forbidden) for someone else's work,
    so ids cannot be probed for existence."""
    try:
        key = submission_id if isinstance(submission_id, uuid.UUID) else uuid.UUID(str(submission_id))
    except ValueError:
        raise NotFound(f"no submission {submission_id}") from None
    submission = session.get(Submission, key)
    role = course_role(session, user, submission.assignment.course) if submission is not None else None
    if submission is None or role is None or (role == CourseRole.student and submission.user_id != user.id):
        raise NotFound(f"no submission {submission_id}")
    return submission, role


def get_report(session: Session, user: User, submission_id: uuid.UUID | str,
               *, now: datetime | None = None) -> dict[str, Any]:
    submission, role = get_submission(session, user, submission_id)
    return submission_report(submission, viewer=role, now=now, grading_paused=_paused_for(session, submission),
                             due_at=extension_due(session, submission.assignment, submission.user))


def _paused_for(session: Session, submission: Submission) -> bool:
    """Whether a queued submission waits because nothing grades now (asked only for queued ones)."""
    if submission.status != SubmissionStatus.queued.value or submission.delayed_reason:
        return False
    return bool(grading_status(session)["grading"] == "paused")


def list_submissions(session: Session, user: User, limit: int = 100) -> list[dict[str, Any]]:
    """The user's own submissions, newest first (an instructor's own list, too: their courses' work is the
    dashboard's job), each saying whether it is the one that counts for its assignment (courses.counting)."""
    rows = session.scalars(select(Submission).where(Submission.user_id == user.id)
                           .order_by(Submission.created_at.desc()).limit(limit)).all()
    counting = _counting_ids(session, user, {row.assignment_id for row in rows})
    return [{"id": str(s.id), "status": s.status, "course": s.assignment.course.slug, "assignment": s.assignment.slug,
             "score": s.score, "max_score": s.max_score, "filename": s.filename,
             "created_at": _iso(s.created_at), "graded_at": _iso(s.graded_at), "counts": s.id in counting}
            for s in rows]


def _counting_ids(session: Session, user: User, assignment_ids: set[int]) -> set[uuid.UUID]:
    """The submission that counts in each of these assignments, by the assignment's score policy and the
    student's extension, if any."""
    counting = set()
    for assignment_id in assignment_ids:
        assignment = session.get(Assignment, assignment_id)
        assert assignment is not None
        extended = session.scalar(select(Extension.due_at).where(Extension.assignment_id == assignment_id,
                                                                  Extension.user_id == user.id))
        mine = session.scalars(select(Submission).where(Submission.assignment_id == assignment_id,
                                                        Submission.user_id == user.id)).all()
        chosen = counting_submission(mine, assignment.score_policy, extended)
        if chosen is not None and chosen.status == SubmissionStatus.graded.value:
            counting.add(chosen.id)
    return counting


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def record_grade(session: Session, submission_id: uuid.UUID, report: Any,
                 compile_errors: Sequence[CompileProblem] | None = None) -> Submission:
    """Write a GradeReport's score and per-test rows, replacing any earlier ones (a regrade), status graded;
    `compile_errors` from the unpacking the grade came from (None: keep those found at upload). The caller's
    transaction makes it all-or-nothing."""
    from ..grading.report import public_report

    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFound(f"no submission {submission_id}")
    public = apply_points(submission.assignment.points, public_report(report, str(submission_id), compile_errors or ()))
    session.execute(delete(TestResult).where(TestResult.submission_id == submission_id))
    for test in public["tests"]:
        session.add(TestResult(
            submission_id=submission_id, suite=test["suite"], name=test["name"], priority=test["priority"],
            outcome=test["outcome"], points=test["points"], max_points=test["max_points"],
            counts_toward_grade=test["counts_toward_grade"], module=test["module"], diagnostic=test["diagnostic"],
            evidence=_jsonable(test["evidence"]), traceback=_jsonable(test["traceback"]), output=test["output"]))
    submission.score = public["score"]
    submission.max_score = public["max_score"]
    submission.priorities = public["priorities"]
    if compile_errors is not None:
        submission.compile_errors = public["compile_errors"]
    submission.seed = report.seed
    submission.suite_version = report.suite_version
    submission.edition = report.edition
    submission.sandbox_image = str(report.runtime.get("image_id") or report.runtime.get("image") or "")[:200]
    status.mark_graded(submission)
    # A pending regrade (the dashboard's bookkeeping) learns the new score in the same transaction.
    session.execute(update(Regrade).where(Regrade.submission_id == submission_id, Regrade.finished_at.is_(None))
                    .values(new_score=submission.score, new_max_score=submission.max_score,
                            finished_at=submission.graded_at))
    session.flush()
    record_event(session, GRADED, submission)  # the LMS's channels learn it once this transaction commits
    session.expire(submission, ["results"])
    return submission


def _jsonable(value: Any) -> Any:
    import json

    # Evidence may hold numpy scalars or tuples; the JSON column needs plain values.
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


class RejectedUpload(BadUpload):
    """A BadUpload that names its reason (the intake error's code), for the rejected-uploads metric."""

    def __init__(self, detail: str, reason: str, status_code: int = 400) -> None:
        super().__init__(detail, status_code=status_code)
        self.reason = reason


def submit_upload(session: Session, user: User, source: BinaryIO, filename: str,
                  assignment_slug: str = "capstone") -> Submission:
    """The whole of an HTTP upload: accept it, commit (durable before anything is sent, and before the 202, so
    the worker always finds the row), then send its task, or leave it for the sweeper if the broker is down."""
    submission = accept_upload(session, user, source, filename, assignment_slug)
    session.commit()
    dispatch.enqueue_or_leave(session, submission.id)
    return submission


def accept_upload(session: Session, user: User, source: BinaryIO, filename: str,
                  assignment_slug: str = "capstone") -> Submission:
    """accept_submission for a stream (the HTTP body): copied to a temporary file, refused with 413 as soon as
    it passes the size limit rather than after it has all arrived."""
    limit = get_settings().max_upload_bytes
    with tempfile.NamedTemporaryFile(prefix="grader-upload-") as spool:
        copied = 0
        while chunk := source.read(1024 * 1024):
            copied += len(chunk)
            if copied > limit:
                raise RejectedUpload(f"{filename}: the upload is over {limit} bytes", "too_large", 413)
            spool.write(chunk)
        spool.flush()
        return accept_submission(session, user, Path(spool.name), filename, assignment_slug)


def progress_of(session: Session, user: User, submission_id: uuid.UUID | str) -> dict[str, Any]:
    """Status and per-test progress, for the events stream."""
    from . import progress

    submission, _ = get_submission(session, user, submission_id)
    return {"status": submission.status, "delayed": delayed_note(submission, _paused_for(session, submission)),
            **(progress.read(str(submission.id)) or {"done": 0, "total": 0})}


def upload_of(session: Session, user: User, submission_id: uuid.UUID | str) -> StoredUpload:
    """The archive as it was uploaded, for its owner or the staff of its course (NotFound for anyone else, as
    for the report)."""
    submission, _ = get_submission(session, user, submission_id)
    path = ArchiveStore(get_settings().archives).path_of(submission.archive_sha256)
    if not path.is_file():
        raise NotFound(f"the upload of submission {submission.id} is no longer stored")
    with path.open("rb") as archive:
        kind = detect_format(archive.read(512))
    return StoredUpload(path, download_name(submission.filename, kind, str(submission.id)), MEDIA_TYPES[kind])
