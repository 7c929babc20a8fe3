"""Assignment and Grade Services: a launch with an AGS claim and the custom parameter `assignment` remembers the
line item; publish_score writes the outbox (no HTTP in the grade's transaction); sending it gets a token with a
client assertion signed by the tool's key and posts the score to the real platform's scores endpoint."""

from __future__ import annotations

import lti_platform_fixtures
import pytest
from lti_platform_fixtures import Lti
from sqlalchemy import select

from grader.db.models import LtiLineItem, LtiScoreOutbox, Submission, User
from grader.lms.lti.ags import publish_score, scores_url, send_score

lti = lti_platform_fixtures.lti
_fresh_caches = lti_platform_fixtures._fresh_caches


def _student_launch(lti: Lti) -> User:
    lti.platform.custom = {"assignment": "capstone"}
    assert lti.launch().status_code == 303
    user = lti.session.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None
    return user


def _submission(lti: Lti, user: User, status: str, score: float | None = None) -> Submission:
    row = Submission(assignment_id=lti.assignment.id, user_id=user.id, archive_sha256="0" * 64, status=status,
                     score=score, max_score=40.0 if score is not None else None)
    lti.session.add(row)
    lti.session.flush()
    return row


def _outbox(lti: Lti) -> list[LtiScoreOutbox]:
    return list(lti.session.scalars(select(LtiScoreOutbox).order_by(LtiScoreOutbox.id)))


def test_the_launch_remembers_the_line_item_of_the_assignment(lti: Lti) -> None:
    _student_launch(lti)
    item = lti.session.scalar(select(LtiLineItem).where(LtiLineItem.assignment_id == lti.assignment.id))
    assert item is not None and item.lineitem_url == lti.platform.lineitem_url()
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in item.scopes


def test_a_graded_score_arrives_at_the_platform_for_the_right_user_and_line_item(lti: Lti) -> None:
    user = _student_launch(lti)
    submission = _submission(lti, user, "graded", 30.0)
    publish_score(lti.session, submission)
    assert lti.platform.scores == []  # nothing sent inside the grade's transaction
    [row] = _outbox(lti)
    assert send_score(lti.session, row.id) is None
    [score] = lti.platform.scores
    assert score["item"] == "1" and score["query"] == {"type": "graded"}
    assert score["userId"] == "user-1"
    assert score["scoreGiven"] == 30.0 and score["scoreMaximum"] == 40.0
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert row.sent_at is not None and row.attempts == 1
    # Sent is sent: a second delivery of the same row does nothing.
    assert send_score(lti.session, row.id) is None and len(lti.platform.scores) == 1


def test_the_access_token_is_reused_until_it_expires(lti: Lti) -> None:
    user = _student_launch(lti)
    for score in (10.0, 20.0):
        publish_score(lti.session, _submission(lti, user, "graded", score))
        assert send_score(lti.session, _outbox(lti)[-1].id) is None
    assert lti.platform.token_requests == 1
    assert [s["scoreGiven"] for s in lti.platform.scores] == [10.0, 20.0]


def test_queued_and_failed_work_is_pending_or_failed_without_a_score(lti: Lti) -> None:
    user = _student_launch(lti)
    publish_score(lti.session, _submission(lti, user, "queued"))
    publish_score(lti.session, _submission(lti, user, "failed"))
    payloads = [row.payload for row in _outbox(lti)]
    assert [(p["activityProgress"], p["gradingProgress"]) for p in payloads] == [
        ("Submitted", "Pending"), ("Submitted", "Failed")]
    assert all("scoreGiven" not in p for p in payloads)


def test_an_accepted_upload_shows_in_the_lms_as_submitted_pending_its_grade(lti: Lti) -> None:
    from grader.submissions.service import record_submission

    user = _student_launch(lti)
    record_submission(lti.session, user, "0" * 64, f"{lti.course.slug}/capstone")
    [row] = _outbox(lti)
    assert (row.payload["activityProgress"], row.payload["gradingProgress"]) == ("Submitted", "Pending")
    assert "scoreGiven" not in row.payload


def test_the_counting_score_is_sent_not_the_latest_one(lti: Lti) -> None:
    user = _student_launch(lti)
    publish_score(lti.session, _submission(lti, user, "graded", 35.0))
    publish_score(lti.session, _submission(lti, user, "graded", 12.0))  # "best" policy: 35 still counts
    assert [row.payload["scoreGiven"] for row in _outbox(lti)] == [35.0, 35.0]


def test_a_student_who_never_launched_or_an_assignment_without_line_item_sends_nothing(lti: Lti) -> None:
    from grader.users.service import create_user

    stranger, _ = create_user(lti.session, "bob@example.org", "student")
    publish_score(lti.session, _submission(lti, stranger, "graded", 5.0))  # no line item yet
    _student_launch(lti)
    publish_score(lti.session, _submission(lti, stranger, "graded", 5.0))  # line item, but no sub for bob
    assert _outbox(lti) == []


def test_a_refused_score_is_kept_with_the_reason_for_the_retry(lti: Lti) -> None:
    user = _student_launch(lti)
    publish_score(lti.session, _submission(lti, user, "graded", 30.0))
    [row] = _outbox(lti)
    lti.platform.trust_tool_keys({"keys": []})  # the platform no longer knows our key: no token
    problem = send_score(lti.session, row.id)
    assert problem is not None and "access token" in problem
    assert row.sent_at is None and row.attempts == 1 and row.last_error == problem


def test_the_scores_url_keeps_the_line_items_query() -> None:
    assert scores_url("https://lms.example/api/lti/courses/3/line_items/7?type=x") == \
        "https://lms.example/api/lti/courses/3/line_items/7/scores?type=x"
    assert scores_url("https://lms.example/items/7/") == "https://lms.example/items/7/scores"


def test_the_send_is_queued_only_once_the_grade_commits(lti: Lti, monkeypatch: pytest.MonkeyPatch) -> None:
    from kombu import Connection

    from grader.lms.lti.tasks import TASK_NAME
    from grader.lms.queue import lms_queue
    from grader.settings import get_settings

    monkeypatch.setenv("GRADER_BROKER_URL", "memory://lti-ags-test")
    get_settings.cache_clear()
    user = _student_launch(lti)

    def queued() -> list[tuple[str, list[int]]]:
        found = []
        with Connection("memory://lti-ags-test") as connection, \
                connection.SimpleQueue(lms_queue()) as queue:  # the LMS queue, not behind gradings
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    return found
                found.append((message.headers["task"], list(message.payload[0])))
                message.ack()

    publish_score(lti.session, _submission(lti, user, "graded", 30.0))
    assert queued() == []  # not before the commit
    lti.session.commit()
    [row] = _outbox(lti)
    assert queued() == [(TASK_NAME, [row.id])]
    publish_score(lti.session, _submission(lti, user, "graded", 31.0))
    lti.session.rollback()  # a grade that is rolled back sends nothing, and leaves no row
    lti.session.commit()
    assert queued() == [] and len(_outbox(lti)) == 1


def test_a_link_with_only_the_container_gets_its_own_line_item_made_once(lti: Lti) -> None:
    lti.platform.ags_lineitem = False
    user = _student_launch(lti)
    [made] = lti.platform.line_items
    assert made["resourceId"] == "cs329/capstone" and made["label"] == "Capstone"
    assert made["scoreMaximum"] == 100.0  # nothing graded yet
    item = lti.session.scalar(select(LtiLineItem).where(LtiLineItem.assignment_id == lti.assignment.id))
    assert item is not None and item.lineitem_url == made["id"]
    assert _student_launch(lti) == user and len(lti.platform.line_items) == 1  # found, not made again
    publish_score(lti.session, _submission(lti, user, "graded", 30.0))
    [row] = _outbox(lti)
    assert send_score(lti.session, row.id) is None
    assert lti.platform.scores[0]["item"] == made["id"].split("/")[-2]
