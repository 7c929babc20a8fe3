"""One submission's comparison, incremental: its student's counting submission is fingerprinted once (kept in
similarity_documents) and compared with the known solutions and with the other students' counting submissions
already stored, never all pairs again. Candidates are screened first by their sampled keys (an intersection of
small sorted arrays), and only those that share some are compared in full.

    compare_counting(submission_id)   # what the task runs: "compared", "nothing to do", "not graded", ...
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from ..courses.counting import counting_submission
from ..courses.extensions import extension_due
from ..db.base import utcnow
from ..db.models import SimilarityDocument, SimilarityPair, SimilaritySource, Submission, SubmissionStatus
from ..db.session import session_scope
from ..intake import IntakeError
from . import engine
from .library import KNOWN, boilerplate_hashes, course_sources, reference
from .sources import submission_sources

MIN_SHARED_KEYS = 10  # sampled keys in common before a full comparison runs: honest pairs share 1-5 by chance,
# a module in common dozens (one key in SAMPLE fingerprints; about 10 lines of code in common give 10)
KEEP_SCORE = 0.05  # pairs below this are not kept (two independent packages share little) ...
KEEP_FILE_SCORE, KEEP_FILE_LINES = 0.5, 10  # ... unless one whole file of theirs is in common


def _worth_keeping(match: engine.Match) -> bool:
    if match.score >= KEEP_SCORE:
        return True
    return bool(match.files) and float(match.files[0]["score"]) >= KEEP_FILE_SCORE \
        and match.shared_lines >= KEEP_FILE_LINES  # type: ignore[arg-type]


@dataclass
class _Review:
    status: str
    note: str | None
    reviewed_by: str | None
    reviewed_at: object


def compare_counting(submission_id: uuid.UUID) -> str:
    with session_scope(write=True) as session:
        submission = session.get(Submission, submission_id)
        if submission is None:
            return "gone"
        counting = _follow_counting(session, submission)
        if counting is None:
            return "not graded"
        document = session.get(SimilarityDocument, counting.id)
        if document is not None and document.compared_at is not None:
            return "nothing to do"
        key, sha = counting.id, counting.archive_sha256
        if document is None:
            try:
                with submission_sources(sha) as files:
                    fingerprints = engine.fingerprint(files)
            except (IntakeError, OSError):
                fingerprints = engine.fingerprint({})  # the stored archive cannot be read: nothing to compare
            session.add(SimilarityDocument(
                submission_id=key, assignment_id=counting.assignment_id, user_id=counting.user_id, counting=True,
                files=len(fingerprints.paths), fingerprints=engine.encode(fingerprints),
                keys=engine.encode_keys(fingerprints.keys())))
    # Committed before the others are listed: of two submissions compared at once, at least one sees the other.
    with session_scope(write=True) as session:
        document = session.get(SimilarityDocument, key)
        assert document is not None
        _compare(session, document)
        document.compared_at = utcnow()
    return "compared"


def _follow_counting(session: Session, submission: Submission) -> Submission | None:
    """The student's counting submission (None when none is graded); documents and pairs of the student's other
    submissions stop counting."""
    assignment = submission.assignment
    mine = session.scalars(select(Submission).where(Submission.assignment_id == assignment.id,
                                                    Submission.user_id == submission.user_id)).all()
    counting = counting_submission(mine, assignment.score_policy, extension_due(session, assignment, submission.user))
    if counting is None or counting.status != SubmissionStatus.graded.value:
        counting = None
    others = [s.id for s in mine if counting is None or s.id != counting.id]
    if others:
        for document in session.scalars(select(SimilarityDocument).where(
                SimilarityDocument.submission_id.in_(others), SimilarityDocument.counting.is_(True))):
            document.counting = False
        session.execute(delete(SimilarityPair).where(or_(SimilarityPair.a_submission_id.in_(others),
                                                         SimilarityPair.b_submission_id.in_(others))))
    if counting is not None:
        kept = session.get(SimilarityDocument, counting.id)
        if kept is not None and not kept.counting:
            kept.counting, kept.compared_at = True, None  # counts again: compared again with what is there now
    return counting


def _compare(session: Session, document: SimilarityDocument) -> None:
    submission = session.get(Submission, document.submission_id)
    assert submission is not None
    course_id = submission.assignment.course_id
    mine = engine.decode(document.fingerprints)
    my_keys = engine.decode_keys(document.keys)
    ignore = boilerplate_hashes(session, course_id)
    reviews = _old_pairs(session, document.submission_id)
    found: list[SimilarityPair] = []
    reference(session)
    for source in course_sources(session, course_id, KNOWN):
        match = engine.compare(mine, engine.decode(source.fingerprints), ignore)
        if _worth_keeping(match):
            found.append(_pair(document, match, source=source, review=reviews.get(("known", source.id))))
    others = session.execute(select(SimilarityDocument.submission_id, SimilarityDocument.keys).where(
        SimilarityDocument.assignment_id == document.assignment_id, SimilarityDocument.counting.is_(True),
        SimilarityDocument.user_id != document.user_id)).all()
    for other_id, keys in others:
        shared = np.intersect1d(my_keys, engine.decode_keys(keys), assume_unique=True)
        if shared.size - np.isin(shared, ignore).sum() < MIN_SHARED_KEYS:
            continue
        blob = session.scalar(select(SimilarityDocument.fingerprints).where(
            SimilarityDocument.submission_id == other_id))
        match = engine.compare(mine, engine.decode(blob), ignore)
        if _worth_keeping(match):
            found.append(_pair(document, match, other=other_id, review=reviews.get(("student", other_id))))
    session.add_all(found)


def _old_pairs(session: Session, submission_id: uuid.UUID) -> dict[tuple[str, object], _Review]:
    """The submission's pairs so far, removed; their reviews, kept for the same pair found again."""
    reviews: dict[tuple[str, object], _Review] = {}
    old = session.scalars(select(SimilarityPair).where(or_(SimilarityPair.a_submission_id == submission_id,
                                                           SimilarityPair.b_submission_id == submission_id))).all()
    for pair in old:
        if pair.b_source_id is not None:
            other: tuple[str, object] = ("known", pair.b_source_id)
        else:
            other = ("student", pair.b_submission_id if pair.a_submission_id == submission_id
                     else pair.a_submission_id)
        reviews[other] = _Review(pair.status, pair.note, pair.reviewed_by, pair.reviewed_at)
        session.delete(pair)
    session.flush()
    return reviews


def _pair(document: SimilarityDocument, match: engine.Match, *, source: SimilaritySource | None = None,
          other: uuid.UUID | None = None, review: _Review | None = None) -> SimilarityPair:
    pair = SimilarityPair(assignment_id=document.assignment_id, a_submission_id=document.submission_id,
                          b_submission_id=other, b_source_id=None if source is None else source.id,
                          score=round(match.score, 4), share_a=match.share_a, share_b=match.share_b,
                          shared_lines=match.shared_lines, files=match.files, fragments=match.fragments[:500],
                          status="unreviewed", compared_at=utcnow())
    if review is not None:
        pair.status, pair.note = review.status, review.note
        pair.reviewed_by, pair.reviewed_at = review.reviewed_by, review.reviewed_at  # type: ignore[assignment]
    return pair
