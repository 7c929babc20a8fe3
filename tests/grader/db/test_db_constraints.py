"""The database itself refuses bad rows (not only the services): checks, uniqueness, foreign keys, cascades,
and the portable types (aware UTC timestamps, JSON, UUID) round-trip on both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from grader.db.models import (
    ApiToken,
    Assignment,
    Course,
    Enrollment,
    Regrade,
    Submission,
    SubmissionStatus,
    TestResult,
    User,
)


def _user(db_session: Session, email: str = "ada@example.edu", role: str = "student") -> User:
    user = User(email=email, role=role)
    db_session.add(user)
    db_session.flush()
    return user


def _assignment(db_session: Session, **fields: Any) -> Assignment:
    course = Course(slug=f"c-{uuid.uuid4().hex[:8]}", name="Course")
    assignment = Assignment(course=course, slug="capstone", title="Capstone", **fields)
    db_session.add(assignment)
    db_session.flush()
    return assignment


def _submission(db_session: Session, **fields: Any) -> Submission:
    submission = Submission(assignment=_assignment(db_session), user=_user(db_session, f"{uuid.uuid4().hex}@x.org"),
                            archive_sha256="0" * 64, **fields)
    db_session.add(submission)
    db_session.flush()
    return submission


def _refused(db_session: Session, *rows: object) -> None:
    """Adding `rows` fails in the database; the savepoint keeps the test's transaction usable.

    Rows refer to others by id, not by relationship, so a refused row is not left behind in a collection.
    """
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add_all(rows)
        db_session.flush()


def test_submission_status_is_checked(db_session: Session) -> None:
    submission = _submission(db_session)
    assert submission.status == SubmissionStatus.queued
    _refused(db_session, Submission(assignment_id=submission.assignment_id, user_id=submission.user_id,
                                 archive_sha256="1" * 64, status="lost"))


def test_user_role_is_checked(db_session: Session) -> None:
    _refused(db_session, User(email="x@y.z", role="superuser"))


def test_enrollment_role_is_checked(db_session: Session) -> None:
    user = _user(db_session)
    course = Course(slug="c", name="C")
    db_session.add(course)
    db_session.flush()
    _refused(db_session, Enrollment(user_id=user.id, course_id=course.id, role="admin"))


def test_assignment_checks(db_session: Session) -> None:
    course = Course(slug="c", name="C")
    db_session.add(course)
    db_session.flush()
    _refused(db_session, Assignment(course_id=course.id, slug="a", title="A", score_policy="average"))
    _refused(db_session, Assignment(course_id=course.id, slug="b", title="B", max_submissions_per_hour=0))
    db_session.add(Assignment(course_id=course.id, slug="c", title="C"))
    db_session.flush()
    _refused(db_session, Assignment(course_id=course.id, slug="c", title="again"))


def test_email_is_unique(db_session: Session) -> None:
    _user(db_session, "ada@example.edu")
    _refused(db_session, User(email="ada@example.edu", role="instructor"))


def test_token_hash_is_unique(db_session: Session) -> None:
    user = _user(db_session)
    db_session.add(ApiToken(user=user, token_hash="a" * 64, prefix="tt_aaaaaaaa"))
    db_session.flush()
    _refused(db_session, ApiToken(user_id=user.id, token_hash="a" * 64, prefix="tt_aaaaaaaa"))


def test_one_result_per_test_per_submission_and_outcomes_checked(db_session: Session) -> None:
    submission = _submission(db_session)
    db_session.add(TestResult(submission=submission, suite="capstone", name="test_a", outcome="passed"))
    db_session.flush()
    _refused(db_session, TestResult(submission_id=submission.id, suite="capstone", name="test_a", outcome="failed"))
    _refused(db_session, TestResult(submission_id=submission.id, suite="capstone", name="test_b", outcome="flaky"))


def test_foreign_keys_are_enforced(db_session: Session) -> None:
    # On SQLite this holds only because db_session.py turns PRAGMA foreign_keys on for every connection.
    _refused(db_session, TestResult(submission_id=uuid.uuid4(), suite="s", name="n", outcome="passed"))


def test_deleting_a_submission_cascades_to_results_and_regrades(db_session: Session) -> None:
    submission = _submission(db_session)
    db_session.add_all([TestResult(submission=submission, suite="s", name="n", outcome="passed"),
                     Regrade(submission=submission, old_score=1.0)])
    db_session.flush()
    db_session.delete(submission)
    db_session.flush()
    assert db_session.scalar(select(func.count()).select_from(TestResult)) == 0
    assert db_session.scalar(select(func.count()).select_from(Regrade)) == 0


def test_a_user_with_graded_work_cannot_be_deleted(db_session: Session) -> None:
    submission = _submission(db_session)
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.delete(submission.user)
        db_session.flush()


def test_timestamps_come_back_aware_utc(db_session: Session) -> None:
    due = datetime(2025, 3, 1, 23, 59, tzinfo=timezone(timedelta(hours=-5)))
    assignment = _assignment(db_session, due_at=due)
    db_session.expire_all()  # read the row back from the database, not the identity map
    loaded = db_session.get(Assignment, assignment.id)
    assert loaded is not None and loaded.due_at == due
    assert loaded.due_at.tzinfo == UTC
    assert loaded.created_at.tzinfo == UTC


def test_naive_timestamps_are_refused(db_session: Session) -> None:
    with pytest.raises(StatementError, match="naive datetime"), db_session.begin_nested():
        _assignment(db_session, due_at=datetime(2025, 3, 1))


def test_json_and_uuid_round_trip(db_session: Session) -> None:
    assignment = _assignment(db_session, suites=["capstone", "05_autograd"], late_policy={"penalty_per_day": 0.1},
                             rubric_visibility={"capstone::test_x": "hidden"})
    submission = Submission(assignment=assignment, user=_user(db_session), archive_sha256="f" * 64, seed=2**40,
                            priorities=[{"priority": 1, "name": "core", "score": 1.5, "max_score": 2.0}])
    db_session.add(submission)
    db_session.flush()
    db_session.expire_all()
    loaded = db_session.get(Submission, submission.id)
    assert loaded is not None and isinstance(loaded.id, uuid.UUID)
    assert loaded.seed == 2**40
    assert loaded.priorities[0]["score"] == 1.5
    assert loaded.assignment.suites == ["capstone", "05_autograd"]
    assert loaded.assignment.late_policy == {"penalty_per_day": 0.1}
    assert loaded.assignment.score_policy == "best"
