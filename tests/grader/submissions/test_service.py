"""The submission services on SQLite and PostgreSQL: accept, refuse, rate-limit, record, and who sees what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from submission_helpers import instructor_of, new_user

from grader.db.models import Assignment, Submission, TestResult
from grader.errors import BadUpload, NotFound, TooManyRequests
from grader.intake import ArchiveStore
from grader.settings import get_settings
from grader.submissions import service


def test_accept_stores_the_archive_and_queues_a_row(db_session: Session, service_env: Path, capstone: Assignment,
                                                     reference_zip: Path) -> None:
    student, _ = new_user(db_session, "student")
    submission = service.accept_submission(db_session, student, reference_zip, "reference.zip")
    assert submission.status == "queued"
    assert submission.assignment_id == capstone.id
    stored = ArchiveStore(get_settings().archives).path_of(submission.archive_sha256)
    assert stored.read_bytes() == reference_zip.read_bytes()
    assert service.list_submissions(db_session, student)[0]["id"] == str(submission.id)


def test_a_bad_upload_is_refused_with_the_intake_reason(db_session: Session, service_env: Path, capstone: Assignment,
                                                        tmp_path: Path) -> None:
    student, _ = new_user(db_session, "student")
    junk = tmp_path / "homework.zip"
    junk.write_text("not an archive at all")
    with pytest.raises(BadUpload) as refused:
        service.accept_submission(db_session, student, junk, "homework.zip")
    assert refused.value.status_code == 400
    assert "archive" in refused.value.detail
    assert db_session.query(Submission).filter_by(user_id=student.id).count() == 0


def test_an_upload_over_the_size_limit_is_413(db_session: Session, service_env: Path, capstone: Assignment,
                                              reference_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_MAX_UPLOAD_BYTES", "1000")
    get_settings.cache_clear()
    student, _ = new_user(db_session, "student")
    with pytest.raises(BadUpload) as refused, reference_zip.open("rb") as body:
        service.accept_upload(db_session, student, body, "reference.zip")
    assert refused.value.status_code == 413


def test_rate_limit_names_when_to_retry(db_session: Session, service_env: Path, other_course_assignment: Assignment,
                                        reference_zip: Path) -> None:
    student, _ = new_user(db_session, "student")
    from grader.courses.service import enroll

    enroll(db_session, student, other_course_assignment.course)
    slug = f"{other_course_assignment.course.slug}/lab"
    start = datetime.now(UTC)
    service.accept_submission(db_session, student, reference_zip, "a.zip", slug, now=start - timedelta(minutes=50))
    service.accept_submission(db_session, student, reference_zip, "b.zip", slug, now=start - timedelta(minutes=10))
    with pytest.raises(TooManyRequests) as limited:
        service.accept_submission(db_session, student, reference_zip, "c.zip", slug, now=start)
    assert limited.value.status_code == 429
    assert 9 * 60 <= limited.value.retry_after <= 10 * 60 + 1  # the oldest one leaves the window in ~10 minutes
    assert limited.value.headers["Retry-After"] == str(limited.value.retry_after)


def _graded(session: Session, submission: Submission) -> None:
    session.add_all([
        TestResult(submission_id=submission.id, suite="capstone", name="test_open", priority=1, outcome="passed",
                   points=5, max_points=5, output=""),
        TestResult(submission_id=submission.id, suite="capstone", name="test_secret", priority=1, outcome="failed",
                   points=0, max_points=5, diagnostic="the secret check failed", output="boom"),
    ])
    submission.status, submission.score, submission.max_score = "graded", 5.0, 10.0
    session.flush()
    session.expire(submission, ["results"])


@pytest.mark.parametrize(("visibility", "due_in_days", "student_sees"), [
    ("visible", None, True), ("hidden", -1, False), ("after_due_date", 1, False), ("after_due_date", -1, True),
])
def test_hidden_tests_are_withheld_from_students_only(db_session: Session, service_env: Path, reference_zip: Path,
                                                      other_course_assignment: Assignment, visibility: str,
                                                      due_in_days: int | None, student_sees: bool) -> None:
    from grader.courses.service import enroll

    assignment = other_course_assignment
    assignment.rubric_visibility = {"capstone::test_secret": visibility}
    if due_in_days is not None:
        assignment.due_at = datetime.now(UTC) + timedelta(days=due_in_days)
    student, _ = new_user(db_session, "student")
    enroll(db_session, student, assignment.course)
    teacher, _ = instructor_of(db_session, assignment)
    submission = service.accept_submission(db_session, student, reference_zip, "a.zip", f"{assignment.course.slug}/lab")
    _graded(db_session, submission)
    mine = {t["name"]: t for t in service.get_report(db_session, student, submission.id)["tests"]}
    theirs = {t["name"]: t for t in service.get_report(db_session, teacher, submission.id)["tests"]}
    assert mine["test_open"]["outcome"] == "passed"
    assert theirs["test_secret"]["outcome"] == "failed" and theirs["test_secret"]["diagnostic"]
    if student_sees:
        assert mine["test_secret"]["outcome"] == "failed"
    else:
        assert mine["test_secret"] == {**mine["test_secret"], "outcome": "hidden", "diagnostic": None, "output": ""}


def test_who_may_see_a_submission(db_session: Session, service_env: Path, capstone: Assignment,
                                  other_course_assignment: Assignment, reference_zip: Path) -> None:
    owner, _ = new_user(db_session, "student")
    classmate, _ = new_user(db_session, "student")
    teacher, _ = instructor_of(db_session, capstone)
    elsewhere, _ = instructor_of(db_session, other_course_assignment)
    admin, _ = new_user(db_session, "admin")
    submission = service.accept_submission(db_session, owner, reference_zip, "a.zip")
    for viewer in (owner, teacher, admin):
        assert service.get_report(db_session, viewer, submission.id)["status"] == "queued"
    for stranger in (classmate, elsewhere):
        with pytest.raises(NotFound):
            service.get_report(db_session, stranger, submission.id)
    with pytest.raises(NotFound):
        service.get_report(db_session, owner, "not-a-uuid")


def test_the_report_says_which_tests_do_not_count(db_session: Session, service_env: Path, reference_zip: Path,
                                                  other_course_assignment: Assignment) -> None:
    from grader.courses.service import enroll
    from grader.submissions.schemas import Report

    assignment = other_course_assignment
    student, _ = new_user(db_session, "student")
    enroll(db_session, student, assignment.course)
    submission = service.accept_submission(db_session, student, reference_zip, "a.zip", f"{assignment.course.slug}/lab")
    db_session.add(TestResult(submission_id=submission.id, suite="02_activations", name="test_tanh_gradient",
                              priority=None, outcome="failed", points=0, max_points=1, output="",
                              counts_toward_grade=False))
    _graded(db_session, submission)
    report = service.get_report(db_session, student, submission.id)
    counts = {t["name"]: t["counts_toward_grade"] for t in report["tests"]}
    assert counts == {"test_open": True, "test_secret": True, "test_tanh_gradient": False}
    assert {t.name: t.counts_toward_grade for t in Report.model_validate(report).tests} == counts
