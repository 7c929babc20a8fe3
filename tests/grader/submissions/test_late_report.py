"""The public report's `late` field on SQLite and PostgreSQL: work after the due date is still graded, its raw
score stays the score, and `late` says how late it was and what the score counts for, through the API's
response model too (a field the model lacked would be dropped silently)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session
from submission_helpers import new_user

from grader.courses.service import create_assignment, create_course, enroll
from grader.db.models import Submission, User
from grader.submissions import service
from grader.submissions.report import submission_report
from grader.submissions.schemas import Report

DUE = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)


def _submission(session: Session, late_by: timedelta, score: float | None = 80.0) -> tuple[Submission, User]:
    course = create_course(session, "late1", "Late course")
    hw = create_assignment(session, course, "hw", "HW", due_at=DUE,
                           late_policy={"penalty_per_day": 0.25, "max_late_days": 2})
    student, _ = new_user(session, "student")
    enroll(session, student, course)
    submission = Submission(assignment_id=hw.id, user_id=student.id, archive_sha256="0" * 64,
                            status="graded" if score is not None else "queued", score=score,
                            max_score=100.0 if score is not None else None, created_at=DUE + late_by)
    session.add(submission)
    session.flush()
    session.expire(submission)  # read back from the database: SQLite's timestamps come back through UtcDateTime
    return submission, student


def test_a_late_report_keeps_the_raw_score_and_says_what_it_counts_for(db_session: Session) -> None:
    submission, student = _submission(db_session, timedelta(hours=25))
    report = service.get_report(db_session, student, submission.id)
    assert report["score"] == 80.0
    assert report["late"] == {"days_late": 2, "penalty": 0.5, "adjusted_score": 40.0, "counts": True,
                              "penalty_per_day": 0.25, "max_late_days": 2}
    late = Report.model_validate(report).model_dump()["late"]
    assert late is not None and (late["days_late"], late["adjusted_score"], late["counts"]) == (2, 40.0, True)


def test_past_the_limit_it_is_graded_but_counts_nothing(db_session: Session) -> None:
    submission, student = _submission(db_session, timedelta(days=2, seconds=1))
    report = service.get_report(db_session, student, submission.id)
    assert (report["status"], report["score"]) == ("graded", 80.0)
    assert (report["late"]["days_late"], report["late"]["counts"], report["late"]["adjusted_score"]) == (3, False, 0.0)


def test_on_time_and_not_yet_graded(db_session: Session) -> None:
    on_time, student = _submission(db_session, timedelta(0))
    assert service.get_report(db_session, student, on_time.id)["late"] is None
    assert Report.model_validate(submission_report(on_time, viewer="instructor")).late is None


def test_a_queued_late_submission_has_no_adjusted_score_yet(db_session: Session) -> None:
    queued, student = _submission(db_session, timedelta(minutes=1), score=None)
    late = service.get_report(db_session, student, queued.id)["late"]
    assert (late["days_late"], late["penalty"], late["adjusted_score"]) == (1, 0.25, None)
