"""What the similarity routes and commands do: who may ask (grader.courses.service: staff read and review,
instructors register sources; a student 403, anyone else 404), the list, one pair with its sides, a review,
a rescan. JSON shapes are docs/similarity.md's contract.

    report(session, course, assignment, min_score=0.5)    # {"course", "assignment", "engine", "pairs", ...}
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..courses.service import get_course
from ..db.base import utcnow
from ..db.models import (
    Assignment,
    Course,
    SimilarityDocument,
    SimilarityPair,
    SimilaritySource,
    SimilarityStatus,
    Submission,
    SubmissionStatus,
    User,
)
from ..errors import BadRequest, NotFound
from . import engine
from .library import source_text
from .queue import send
from .sources import submission_sources

MAX_LIMIT = 1000
MAX_NOTE = 2000
MAX_SIDE_BYTES = 256 * 1024
STATUSES = tuple(status.value for status in SimilarityStatus)


def course_assignment(session: Session, course: Course, slug: str) -> Assignment:
    assignment = session.scalar(select(Assignment).where(Assignment.course_id == course.id,
                                                         Assignment.slug == slug))
    if assignment is None:
        raise NotFound(f"no assignment {slug!r} in course {course.slug}")
    return assignment


def report(session: Session, course: Course, assignment: Assignment, *, min_score: float = 0.0,
           status: str | None = None, limit: int = 200) -> dict[str, Any]:
    if not 0.0 <= min_score <= 1.0:
        raise BadRequest("min_score must be between 0 and 1")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be 1-{MAX_LIMIT}")
    query = select(SimilarityPair).where(SimilarityPair.assignment_id == assignment.id,
                                         SimilarityPair.score >= min_score)
    if status is not None:
        query = query.where(SimilarityPair.status == status)
    pairs = session.scalars(query.order_by(SimilarityPair.score.desc(), SimilarityPair.compared_at.desc(),
                                           SimilarityPair.id.desc()).limit(limit)).all()
    compared = session.scalar(select(func.count()).select_from(SimilarityDocument).where(
        SimilarityDocument.assignment_id == assignment.id, SimilarityDocument.counting.is_(True),
        SimilarityDocument.compared_at.is_not(None))) or 0
    graded_students = session.scalar(select(func.count(func.distinct(Submission.user_id))).where(
        Submission.assignment_id == assignment.id, Submission.status == SubmissionStatus.graded.value)) or 0
    return {"course": course.slug, "assignment": assignment.slug, "engine": engine.ENGINE,
            "compared": compared, "pending": max(0, graded_students - compared),
            "pairs": [pair_json(session, pair) for pair in pairs]}


def _side(session: Session, submission_id: uuid.UUID) -> dict[str, Any]:
    submission = session.get(Submission, submission_id)
    user = session.get(User, submission.user_id) if submission is not None else None
    student = None if user is None else {"id": user.id, "email": user.email, "name": user.name}
    return {"submission_id": str(submission_id), "student": student}


def pair_json(session: Session, pair: SimilarityPair) -> dict[str, Any]:
    if pair.b_source_id is not None:
        source = session.get(SimilaritySource, pair.b_source_id)
        b: dict[str, Any] = {"known": {"id": pair.b_source_id, "label": source.label if source else None}}
    else:
        assert pair.b_submission_id is not None
        b = _side(session, pair.b_submission_id)
    return {"id": pair.id, "score": pair.score, "kind": "known" if pair.b_source_id is not None else "student",
            "a": _side(session, pair.a_submission_id), "b": b, "share_a": pair.share_a, "share_b": pair.share_b,
            "shared_lines": pair.shared_lines, "files": pair.files, "status": pair.status, "note": pair.note,
            "reviewed_by": pair.reviewed_by,
            "reviewed_at": None if pair.reviewed_at is None else pair.reviewed_at.isoformat(),
            "compared_at": pair.compared_at.isoformat()}


def get_pair(session: Session, assignment: Assignment, pair_id: int) -> SimilarityPair:
    pair = session.get(SimilarityPair, pair_id)
    if pair is None or pair.assignment_id != assignment.id:
        raise NotFound(f"no similarity pair {pair_id} in assignment {assignment.slug}")
    return pair


def pair_detail(session: Session, pair: SimilarityPair) -> dict[str, Any]:
    """The pair, the matched files' text on each side (each cut at 256 KiB), and the fragments."""
    body = pair_json(session, pair)
    a_paths = list(dict.fromkeys(str(f["a_path"]) for f in pair.files))
    b_paths = list(dict.fromkeys(str(f["b_path"]) for f in pair.files))
    body["sides"] = {"a": _submission_texts(session, pair.a_submission_id, a_paths)}
    if pair.b_source_id is not None:
        source = session.get(SimilaritySource, pair.b_source_id)
        texts = [{"path": p, "text": _cut(source_text(source, p) or "")} for p in b_paths] if source else []
        body["sides"]["b"] = texts
    else:
        assert pair.b_submission_id is not None
        body["sides"]["b"] = _submission_texts(session, pair.b_submission_id, b_paths)
    shown = set(a_paths), set(b_paths)
    body["fragments"] = [f for f in pair.fragments if f["a_path"] in shown[0] and f["b_path"] in shown[1]]
    return body


def _cut(text: str) -> str:
    return text.encode("utf-8")[:MAX_SIDE_BYTES].decode("utf-8", errors="ignore")


def _submission_texts(session: Session, submission_id: uuid.UUID, paths: list[str]) -> list[dict[str, str]]:
    submission = session.get(Submission, submission_id)
    if submission is None:
        return []
    with submission_sources(submission.archive_sha256) as files:
        return [{"path": p, "text": _cut(files.get(p, ""))} for p in paths]


def review(session: Session, pair: SimilarityPair, user: User, status: Any, note: Any) -> dict[str, Any]:
    if status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise BadRequest(f"note must be text of at most {MAX_NOTE} characters")
    note = (note.strip() or None) if note is not None else None  # an empty note (the page's clear) is no note
    pair.status, pair.note, pair.reviewed_by, pair.reviewed_at = status, note, user.email, utcnow()
    session.flush()
    return pair_json(session, pair)


def rescan(session: Session, assignment: Assignment) -> list[uuid.UUID]:
    """Compare every counting submission of the assignment again (after starter code or known solutions
    changed): their documents are marked not compared; the caller sends a task for each after the commit."""
    documents = session.scalars(select(SimilarityDocument).where(
        SimilarityDocument.assignment_id == assignment.id, SimilarityDocument.counting.is_(True))).all()
    for document in documents:
        document.compared_at = None
    session.flush()
    ids = [document.submission_id for document in documents]
    graded = session.scalars(select(Submission.id).where(
        Submission.assignment_id == assignment.id, Submission.status == SubmissionStatus.graded.value,
        Submission.id.not_in(ids) if ids else Submission.id.is_not(None))).all()
    return [*ids, *graded]


def course_by_slug(session: Session, slug: str) -> Course:
    return get_course(session, slug)


def send_all(ids: list[uuid.UUID]) -> int:
    return sum(1 for submission_id in ids if send(submission_id))
