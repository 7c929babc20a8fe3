"""A counting score's change is one event, written in the same transaction as the change: a grade rolled back
leaves no event and no delivery; failed gradings and staff overrides make their own events; a course with no
channel keeps nothing. The sweeper re-sends a due delivery whose message was lost, once per claim."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from webhook_receiver import capstone, graded_submission, new_student

from grader.courses.service import enroll, get_course
from grader.dashboard.overrides import clear_override, set_override
from grader.db.models import LmsEvent, Submission, WebhookDelivery
from grader.db.session import session_scope
from grader.lms.events import record_event
from grader.lms.webhooks.endpoints import add_endpoint
from grader.lms.webhooks.outbox import RESEND_AFTER, sweep_deliveries
from grader.submissions import status
from grader.users.service import create_user
from grader.workers import current_worker_id


class Boom(Exception):
    pass


@pytest.fixture
def env(service_database: str) -> Iterator[str]:
    with session_scope(write=True) as session:
        add_endpoint(session, get_course(session, "default"), "http://127.0.0.1:9/hook", None)
    yield service_database


def counts() -> tuple[int, int]:
    with session_scope() as session:
        return (session.scalar(select(func.count()).select_from(LmsEvent)) or 0,
                session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


def events_of(kind: str) -> list[LmsEvent]:
    with session_scope() as session:
        return list(session.scalars(select(LmsEvent).where(LmsEvent.kind == kind).order_by(LmsEvent.created_at)))


def test_a_rolled_back_grade_leaves_no_event(env: str) -> None:
    with pytest.raises(Boom), session_scope(write=True) as session:
        graded_submission(session)
        raise Boom
    assert counts() == (0, 0)
    with session_scope(write=True) as session:
        graded_submission(session)
    assert counts() == (1, 1)
    [event] = events_of("submission.graded")
    assert event.payload["data"]["score"] == 3.0


def test_a_failed_grading_is_an_event(env: str) -> None:
    with session_scope(write=True) as session:
        student = new_student(session)
        row = Submission(assignment_id=capstone(session).id, user_id=student.id, archive_sha256="0" * 64,
                         status="running", claimed_by=current_worker_id())
        session.add(row)
        session.flush()
        submission_id = row.id
    status.mark_failed(submission_id, "grading failed: boom")
    [event] = events_of("submission.failed")
    data = event.payload["data"]
    assert data["submission"]["status"] == "failed" and data["submission"]["error"] == "grading failed: boom"
    assert data["score"] is None and data["counted_score"] is None
    status.mark_failed(submission_id, "again")  # no longer held by this worker: nothing changes, no event
    assert len(events_of("submission.failed")) == 1


def test_an_override_and_its_removal_are_grade_changes(env: str) -> None:
    with session_scope(write=True) as session:
        prof = create_user(session, "prof@uni.edu", "instructor")[0]
        enroll(session, prof, get_course(session, "default"))
        submission_id = graded_submission(session).id
    with session_scope(write=True) as session:
        set_override(session, session.merge(prof), submission_id, score=4.5, comment="partial credit")
    with session_scope(write=True) as session:
        clear_override(session, session.merge(prof), submission_id)
    changed = [e.payload["data"] for e in events_of("grade.changed")]
    assert [(d["score"], d["counted_score"]) for d in changed] == [(3.0, 4.5), (3.0, 3.0)]
    assert changed[0]["override"]["comment"] == "partial credit" and changed[1]["override"] is None


def test_a_course_without_channels_keeps_no_event(env: str) -> None:
    with session_scope(write=True) as session:
        from grader.courses.service import create_assignment, create_course

        course = create_course(session, "quiet", "No LMS")
        assignment = create_assignment(session, course, "lab", "Lab")
        student = new_student(session)
        row = Submission(assignment_id=assignment.id, user_id=student.id, archive_sha256="0" * 64, status="graded",
                         score=1.0, max_score=2.0)
        session.add(row)
        session.flush()
        assert record_event(session, "grade.changed", row) is None
        with pytest.raises(ValueError, match="event kind"):
            record_event(session, "submission.deleted", row)
    assert counts() == (0, 0)


def test_the_sweeper_resends_a_lost_delivery_once_per_claim(env: str, tmp_path: Path) -> None:
    assert sweep_deliveries() == 0
    with session_scope(write=True) as session:
        graded_submission(session)  # the embedded broker cannot take its message yet (no data dir): no error
    far = datetime.now(UTC) + RESEND_AFTER * 2
    assert sweep_deliveries(far) == 0  # the broker still cannot: the claim is handed back
    (tmp_path / "data").mkdir()
    assert sweep_deliveries(far) == 1
    with session_scope(write=True) as session:
        session.execute(update(WebhookDelivery).values(state="delivered"))
    with session_scope(write=True) as session:
        graded_submission(session)
    now = datetime.now(UTC)
    assert sweep_deliveries(now) == 0  # just made: its own message is out
    later = now + RESEND_AFTER + timedelta(seconds=1)
    assert sweep_deliveries(later) == 1
    assert sweep_deliveries(later) == 0  # claimed: a second sweeper sends nothing
    with session_scope(write=True) as session:
        session.execute(update(WebhookDelivery).values(state="delivered"))
    assert sweep_deliveries(later + RESEND_AFTER * 2) == 0
