"""A counting score moved by a rule, not a grade (an extension granted or taken back, an assignment's late
policy or due date edited), is one `grade.changed` event per student whose counted score moved, written in the
change's own transaction; a change that moves no score sends nothing. The payload names the student's LMS id
once they have launched from an LMS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from webhook_receiver import capstone, graded_submission, new_student

from grader.courses import admin
from grader.courses.schemas import AssignmentEdit, ExtensionGrant
from grader.courses.service import get_course
from grader.db.models import LmsEvent, LtiIdentity, LtiPlatform, Submission, User
from grader.db.session import session_scope
from grader.errors import BadRequest
from grader.lms.webhooks.endpoints import add_endpoint
from grader.users.service import create_user

LATE_POLICY = {"penalty_per_day": 0.1, "max_late_days": 7}


@pytest.fixture
def env(service_database: str) -> Iterator[None]:
    with session_scope(write=True) as session:
        add_endpoint(session, get_course(session, "default"), "http://127.0.0.1:9/hook", None)
        assignment = capstone(session)
        # Due two and a half days ago: work handed in now is 3 days late, 30% off.
        assignment.due_at = datetime.now(UTC) - timedelta(days=2, hours=12)
        assignment.late_policy = LATE_POLICY
    yield


def changed_events() -> list[dict]:
    with session_scope() as session:
        return [event.payload["data"] for event in session.scalars(
            select(LmsEvent).where(LmsEvent.kind == "grade.changed").order_by(LmsEvent.created_at))]


def late_student_with_grade() -> tuple[int, str]:
    with session_scope(write=True) as session:
        student = new_student(session)
        graded_submission(session, student, score=10.0)
        return student.id, student.email


def test_an_extension_that_moves_the_score_is_one_event_and_taking_it_back_another(env: None) -> None:
    student_id, email = late_student_with_grade()
    with session_scope(write=True) as session:
        prof = create_user(session, "prof@uni.edu", "admin")[0]
        later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        admin.grant_extension(session, prof, "default", "capstone", student_id, ExtensionGrant(due_at=later))
    [event] = changed_events()
    assert event["student"]["email"] == email and event["counted_score"] == 10.0 and event["score"] == 10.0

    with session_scope(write=True) as session:  # a second, later extension moves nothing: no event
        prof = session.scalar(select(User).where(User.email == "prof@uni.edu"))
        even_later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        admin.grant_extension(session, prof, "default", "capstone", student_id, ExtensionGrant(due_at=even_later))
    assert len(changed_events()) == 1

    with session_scope(write=True) as session:
        prof = session.scalar(select(User).where(User.email == "prof@uni.edu"))
        admin.remove_extension(session, prof, "default", "capstone", student_id)
    events = changed_events()
    assert len(events) == 2 and events[1]["counted_score"] == pytest.approx(7.0)


def test_editing_the_late_policy_changes_every_late_students_score_and_a_title_changes_none(env: None) -> None:
    late_student_with_grade()
    late_student_with_grade()
    with session_scope(write=True) as session:
        prof = create_user(session, "prof@uni.edu", "admin")[0]
        admin.edit_assignment(session, prof, "default", "capstone", AssignmentEdit(title="Capstone, final"))
    assert changed_events() == []
    with session_scope(write=True) as session:
        prof = session.scalar(select(User).where(User.email == "prof@uni.edu"))
        admin.edit_assignment(session, prof, "default", "capstone", AssignmentEdit(
            late_policy={"penalty_per_day": 0.2, "max_late_days": 7}))
    events = changed_events()
    assert [e["counted_score"] for e in events] == [pytest.approx(4.0), pytest.approx(4.0)]


def test_a_failed_rule_change_leaves_no_event(env: None) -> None:
    student_id, _ = late_student_with_grade()
    with pytest.raises(BadRequest), session_scope(write=True) as session:
        prof = create_user(session, "prof@uni.edu", "admin")[0]
        admin.grant_extension(session, prof, "default", "capstone", student_id, ExtensionGrant(due_at="tomorrow"))
    assert changed_events() == []


def test_the_payload_carries_the_students_lms_id_once_they_launched(env: None) -> None:
    with session_scope(write=True) as session:
        student = new_student(session)
        platform = LtiPlatform(issuer="https://lms.example", client_id="c1", deployment_ids=["d"],
                               jwks_url="https://lms.example/jwks", auth_url="https://lms.example/auth",
                               token_url="https://lms.example/token", course_id=None)
        session.add(platform)
        session.flush()
        session.add(LtiIdentity(platform_id=platform.id, sub="lms-user-42", user_id=student.id))
        session.flush()
        graded_submission(session, student)
        other = graded_submission(session)
        assert isinstance(other, Submission)
    with session_scope() as session:
        ids = [event.payload["data"]["student"]["lms_user_id"]
               for event in session.scalars(select(LmsEvent).order_by(LmsEvent.created_at))]
    assert ids == ["lms-user-42", None]


def test_a_worse_grade_under_best_leaves_the_gradebook_on_the_earlier_submission(env: None) -> None:
    with session_scope(write=True) as session:
        capstone(session).late_policy = None
        student = new_student(session)
        first = graded_submission(session, student, score=9.0)
        graded_submission(session, student, score=4.0)
        first_id = str(first.id)
    with session_scope() as session:
        grades = [(e.payload["data"]["counted_score"], e.payload["data"]["assignment_grade"])
                  for e in session.scalars(select(LmsEvent).order_by(LmsEvent.created_at))]
    assert grades == [(9.0, {"submission_id": first_id, "counted_score": 9.0, "max_score": grades[0][1]["max_score"]}),
                      (4.0, {"submission_id": first_id, "counted_score": 9.0, "max_score": grades[0][1]["max_score"]})]
