"""Assignment and Grade Services: a student's counting score goes to the platform's line item.

    publish_score(session, submission)   # in the grade's transaction: outbox rows only, no HTTP
    send_score(session, outbox_id)       # the task's body: token, POST .../scores, mark sent (or raise)

publish_score writes one outbox row per line item the assignment has on a platform where the student has a
`sub` (superseding their older unsent score there), and asks for delivery once the transaction commits; tries
again, the sweeper and giving up: grader.lms.lti.score_outbox."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...courses.counting import counted_score, counting_submission
from ...courses.extensions import extension_due
from ...db.base import utcnow
from ...db.models import (
    LtiIdentity,
    LtiLineItem,
    LtiPlatform,
    LtiScoreOutbox,
    Submission,
    SubmissionStatus,
    User,
)
from ...db.session import after_commit
from ..http import lms_http
from .score_outbox import schedule_retry, supersede_older
from .service_token import access_token

log = logging.getLogger(__name__)
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
RESULT_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
AGS_SCOPES = (LINEITEM_SCOPE, SCORE_SCOPE, RESULT_SCOPE)
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
_PENDING_KEY = "lti_outbox_ids"


def _progress(submission: Submission) -> tuple[str, str]:
    if submission.status == SubmissionStatus.graded.value:
        return "Completed", "FullyGraded"
    if submission.status == SubmissionStatus.failed.value:
        return "Submitted", "Failed"
    return "Submitted", "Pending"


def score_message(submission: Submission, counting: Submission, due_at: datetime | None, sub: str,
                  now: datetime) -> dict[str, Any]:
    activity, grading = _progress(counting)
    message: dict[str, Any] = {"userId": sub, "activityProgress": activity, "gradingProgress": grading,
                               "timestamp": now.isoformat()}
    score = counted_score(counting, due_at) if grading == "FullyGraded" else None
    if score is not None and counting.max_score:
        message["scoreGiven"] = max(0.0, float(score))
        message["scoreMaximum"] = float(counting.max_score)
    return message


def publish_score(session: Session, submission: Submission) -> None:
    """Queue the student's counting score on `submission`'s assignment for every platform line item it has.
    No HTTP here: outbox rows (flushed, committed by the caller) and, after the commit, one task each."""
    line_items = session.scalars(select(LtiLineItem).where(
        LtiLineItem.assignment_id == submission.assignment_id)).all()
    if not line_items:
        return
    user = session.get(User, submission.user_id)
    assert user is not None
    assignment = submission.assignment
    due_at = extension_due(session, assignment, user)
    submissions = session.scalars(select(Submission).where(Submission.assignment_id == assignment.id,
                                                           Submission.user_id == user.id)).all()
    counting = counting_submission(submissions, assignment.score_policy, due_at) or submission
    now = utcnow()
    for item in line_items:
        sub = session.scalar(select(LtiIdentity.sub).where(LtiIdentity.platform_id == item.platform_id,
                                                           LtiIdentity.user_id == user.id))
        if sub is None:
            continue  # the student never launched from this platform: it has no id for them
        row = LtiScoreOutbox(platform_id=item.platform_id, lineitem_url=item.lineitem_url, user_sub=sub,
                             payload=score_message(submission, counting, due_at, sub, now), created_at=now,
                             next_attempt_at=now)
        session.add(row)
        session.flush()
        supersede_older(session, row)
        after_commit(session, _PENDING_KEY, row.id, _enqueue_all)  # the worker must find the committed row


def _enqueue_all(outbox_ids: list[int]) -> None:
    from .tasks import enqueue_send

    for outbox_id in outbox_ids:
        enqueue_send(outbox_id)


def scores_url(lineitem_url: str) -> str:
    """The line item's scores endpoint: "/scores" after its path, its query kept (AGS 2.0, 3.4)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/scores", parts.query, ""))


class ScoreNotSent(Exception):
    """The platform did not take the score (the task retries)."""


def send_score(session: Session, outbox_id: int, client: httpx.Client | None = None) -> str | None:
    """POST outbox row `outbox_id` to its line item's scores endpoint: None once sent (or sent before, or gone),
    else why not (also kept on the row, with the attempt counted), for the task to retry."""
    row = session.get(LtiScoreOutbox, outbox_id)
    if row is None or row.sent_at is not None or row.superseded_at is not None or row.gave_up_at is not None:
        return None
    platform = session.get(LtiPlatform, row.platform_id)
    assert platform is not None
    row.attempts += 1
    http = client or lms_http()
    try:
        token = access_token(session, platform, [SCORE_SCOPE], http)
        response = http.post(scores_url(row.lineitem_url), json=row.payload, timeout=10.0,
                             headers={"Authorization": f"Bearer {token}", "Content-Type": SCORE_MEDIA_TYPE})
        if response.status_code >= 300:
            raise ScoreNotSent(f"the platform answered {response.status_code}: {response.text[:500]}")
    except (httpx.HTTPError, ScoreNotSent) as error:
        row.last_error = str(error)[:2000]
        schedule_retry(row, utcnow())
        session.flush()
        return row.last_error
    row.sent_at, row.last_error = utcnow(), None
    session.flush()
    return None


