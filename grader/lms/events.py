"""A change of a counting score, as one event written in the grade's own transaction, then fanned out to the
course's channels: the LMS gradebook of an assignment launched with LTI (grader.lms.lti.ags, an outbox row per
line item) and its webhook endpoints (one outbox row each). Grading calls record_event and knows
nothing else; a rolled-back grade leaves no event, and nothing is sent before the grade is committed.

    record_event(session, GRADED, submission)     # in record_grade's transaction; sent after its commit
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..courses.counting import counted_score, counting_submission, counts
from ..courses.extensions import extension_due
from ..db.models import LmsEvent, LtiIdentity, LtiPlatform, Submission
from ..settings import get_settings
from ..similarity.queue import compare_after_commit

GRADED, FAILED, GRADE_CHANGED = "submission.graded", "submission.failed", "grade.changed"
EVENT_KINDS = (GRADED, FAILED, GRADE_CHANGED)  # what a webhook endpoint may ask for
# An upload was accepted (queued): the LMS gradebook shows the work as submitted, pending grading, until its
# grade (AGS activityProgress Submitted). Only LTI hears it; webhooks are told of grades, not of uploads.
RECEIVED = "submission.received"


def record_event(session: Session, kind: str, submission: Submission | uuid.UUID) -> LmsEvent | None:
    """Write the event for `submission`'s new state and its deliveries (flush; the caller commits, and the
    deliveries are sent once it has). None when no channel of the course wants this kind: nothing is kept."""
    from .lti.ags import publish_score
    from .webhooks import outbox  # the channels import this module's names

    if kind not in (*EVENT_KINDS, RECEIVED):
        raise ValueError(f"event kind must be one of {', '.join(EVENT_KINDS)} or {RECEIVED}, not {kind!r}")
    if not isinstance(submission, Submission):
        found = session.get(Submission, submission)
        if found is None:
            return None
        submission = found
    if kind != FAILED:  # a failed grading is not compared; a new or changed grade may change what counts
        compare_after_commit(session, submission.id)
    publish_score(session, submission)  # nothing unless the assignment has LTI line items
    if kind == RECEIVED:
        return None
    endpoints = outbox.endpoints_for(session, submission.assignment.course_id, kind)
    if not endpoints:
        return None
    event = LmsEvent(id=uuid.uuid4(), kind=kind, submission_id=submission.id,
                     payload=event_payload(session, kind, submission))
    session.add(event)
    session.flush()
    outbox.add_deliveries(session, event, endpoints)
    return event


def event_payload(session: Session, kind: str, submission: Submission) -> dict[str, Any]:
    """The body every channel sends (Standard Webhooks' shape: type, timestamp, data)."""
    assignment = submission.assignment
    course = assignment.course
    student = submission.user
    due = extension_due(session, assignment, student)
    graded = submission.score is not None or submission.override_score is not None
    counted = counted_score(submission, due) if graded else None
    return {
        "type": kind,
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {
            "course": {"slug": course.slug, "name": course.name},
            "assignment": {"slug": assignment.slug, "title": assignment.title},
            "student": {"id": student.id, "email": student.email,
                        "lms_user_id": lms_user_id(session, student.id, course.id)},
            "submission": {"id": str(submission.id), "url": submission_url(submission.id),
                           "status": submission.status, "error": submission.error},
            "score": submission.score,
            "max_score": submission.max_score,
            "counted_score": counted,
            "counts": counts(submission, due) if graded else False,
            "override": None if submission.override_score is None else {
                "score": submission.override_score, "comment": submission.override_comment,
                "by": submission.override_by, "at": _iso(submission.override_at)},
            "priorities": submission.priorities or [],
            "graded_at": _iso(submission.graded_at),
            "assignment_grade": assignment_grade(session, submission, due),
        },
    }


def assignment_grade(session: Session, submission: Submission, due: datetime | None) -> dict[str, Any] | None:
    """The student's grade for the assignment after this event: their counting submission (best or latest)
    and what it counts for, which is what a gradebook should hold. A worse grade under `best` leaves it on the
    earlier submission; null while nothing of theirs is graded."""
    assignment = submission.assignment
    submissions = session.scalars(select(Submission).where(Submission.assignment_id == assignment.id,
                                                           Submission.user_id == submission.user_id)).all()
    counting = counting_submission(submissions, assignment.score_policy, due)
    if counting is None or (counting.score is None and counting.override_score is None):
        return None
    return {"submission_id": str(counting.id), "counted_score": counted_score(counting, due),
            "max_score": counting.max_score}


def lms_user_id(session: Session, user_id: int, course_id: int) -> str | None:
    """The student's id in the LMS (the LTI `sub` of their first launch from a platform serving this course, per
    course or for the whole install), None until they have launched."""
    return session.scalar(
        select(LtiIdentity.sub).join(LtiPlatform, LtiPlatform.id == LtiIdentity.platform_id)
        .where(LtiIdentity.user_id == user_id,
               or_(LtiPlatform.course_id == course_id, LtiPlatform.course_id.is_(None)))
        .order_by(LtiPlatform.course_id.is_(None), LtiIdentity.id).limit(1))


def submission_url(submission_id: uuid.UUID) -> str:
    """The submission's report in the API: absolute under GRADER_PUBLIC_URL when set, else relative."""
    path = f"/api/v1/submissions/{submission_id}"
    base = get_settings().public_url
    return f"{base.rstrip('/')}{path}" if base else path


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()
