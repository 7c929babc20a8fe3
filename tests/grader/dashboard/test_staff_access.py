"""Who sees what: TAs are course staff (they read, regrade and override in their course), nobody sees another
course's work (404, as if it did not exist), and students are refused (403)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.orm import Session

from grader.courses.service import enroll
from grader.dashboard import access, charts, export, history, overrides, regrades, reports, status
from grader.dashboard.table import grade_table
from grader.db.models import Enrollment
from grader.errors import Forbidden, NotFound
from grader.users.service import create_user

if TYPE_CHECKING:  # the fixture's type only: test modules do not import conftest at run time
    from conftest import Campus


def test_a_ta_reads_regrades_and_overrides_in_their_course(campus: Campus) -> None:
    s = campus.session
    work = campus.submit(campus.ada, campus.hw1, 6.0)
    assert access.instructor_course(s, campus.ta, "cs1") is campus.cs1
    assert [(c["slug"], c["role"]) for c in access.teaching_courses(s, campus.ta)] == [("cs1", "ta")]
    assert grade_table(s, campus.ta, campus.cs1)["rows"][0]["grades"]["hw1"]["score"] == 6
    assert reports.submission_report(s, campus.ta, work.id)["email"] == "ada@example.edu"
    assert regrades.regrade_one(s, campus.ta, work.id, requeue=lambda _: None)["regrades"][0]["email"] == (
        "ada@example.edu")
    report = overrides.set_override(s, campus.ta, work.id, score=7.5, comment="P3 was right, see the forum")
    assert report["override"]["by"] == "tess@example.edu"
    assert history.student_submissions(s, campus.ta, campus.cs1, campus.ada.id)["submissions"][0]["counts"]


def test_a_ta_of_one_course_sees_nothing_of_another(campus: Campus) -> None:
    s = campus.session
    theirs = campus.submit(campus.carl, campus.other_hw, 5.0)
    mine = campus.submit(campus.ada, campus.hw1, 5.0)
    with pytest.raises(NotFound):
        access.instructor_course(s, campus.ta, "cs2")
    for call in (lambda: grade_table(s, campus.ta, campus.cs2),
                 lambda: export.csv_export(s, campus.ta, campus.cs2),
                 lambda: charts.module_failures(s, campus.ta, campus.cs2, "hw1"),
                 lambda: history.student_submissions(s, campus.ta, campus.cs2, campus.carl.id),
                 lambda: reports.submission_report(s, campus.ta, theirs.id),
                 lambda: overrides.set_override(s, campus.ta, theirs.id, score=1, comment="x"),
                 lambda: overrides.clear_override(s, campus.ta, theirs.id),
                 lambda: regrades.regrade_one(s, campus.ta, theirs.id, requeue=lambda _: None),
                 lambda: reports.submission_report(s, campus.other_ta, mine.id)):
        with pytest.raises(NotFound):
            call()
    batch = regrades.regrade_one(s, campus.other_ta, theirs.id, requeue=lambda _: None)["batch"]
    with pytest.raises(NotFound):
        regrades.regrade_batch(s, campus.ta, batch)
    # A student of cs1 is no student of cs2's staff.
    with pytest.raises(NotFound):
        history.student_submissions(s, campus.other_ta, campus.cs1, campus.ada.id)
    assert theirs.override_score is None


def test_students_are_refused_everywhere(campus: Campus) -> None:
    s = campus.session
    work = campus.submit(campus.ada, campus.hw1, 5.0)
    for call in (lambda: access.instructor_course(s, campus.ada, "cs1"),
                 lambda: access.teaching_courses(s, campus.ada),
                 lambda: grade_table(s, campus.ada, campus.cs1),
                 lambda: export.csv_export(s, campus.ada, campus.cs1),
                 lambda: charts.module_failures(s, campus.ada, campus.cs1, "hw1"),
                 lambda: history.student_submissions(s, campus.ada, campus.cs1, campus.ada.id),
                 lambda: reports.submission_report(s, campus.ada, work.id),
                 lambda: overrides.set_override(s, campus.ada, work.id, score=10, comment="I deserve it"),
                 lambda: regrades.regrade_one(s, campus.ada, work.id, requeue=lambda _: None),
                 lambda: status.grading_status(s, campus.ada)):
        with pytest.raises(Forbidden):
            call()
    assert work.override_score is None


def test_a_dropped_ta_is_staff_no_more(db_session: Session, campus: Campus) -> None:
    enrollment = db_session.query(Enrollment).filter_by(user_id=campus.ta.id).one()
    enrollment.dropped_at = enrollment.created_at
    db_session.flush()
    with pytest.raises(Forbidden):
        access.instructor_course(db_session, campus.ta, "cs1")


def test_an_admin_is_staff_of_every_course(db_session: Session, campus: Campus) -> None:
    admin, _ = create_user(db_session, "root@example.edu", "admin")
    assert [(c["slug"], c["role"]) for c in access.teaching_courses(db_session, admin)] == [
        ("cs1", "instructor"), ("cs2", "instructor")]
    assert access.instructor_course(db_session, admin, "cs2") is campus.cs2


def test_a_ta_dropped_from_one_course_keeps_only_the_other(db_session: Session, campus: Campus) -> None:
    enroll(db_session, campus.ta, campus.cs2, "ta")
    mine = db_session.query(Enrollment).filter_by(user_id=campus.ta.id, course_id=campus.cs1.id).one()
    mine.dropped_at = mine.created_at
    db_session.flush()
    with pytest.raises(NotFound):
        access.instructor_course(db_session, campus.ta, "cs1")
    assert [c["slug"] for c in access.teaching_courses(db_session, campus.ta)] == ["cs2"]


@pytest.mark.parametrize(("zone", "shown"), [
    (None, "2027-01-15T22:59:00+00:00"), ("Europe/Zurich", "2027-01-15T23:59:00+01:00"),
    ("+01:00", "2027-01-15T23:59:00+01:00"), ("-05:30", "2027-01-15T17:29:00-05:30"),
    ("../../etc/passwd", "2027-01-15T22:59:00+00:00"), ("Europe", "2027-01-15T22:59:00+00:00"),
])
def test_a_due_date_is_shown_in_the_zone_it_was_given_in(db_session: Session, campus: Campus, zone: str | None,
                                                         shown: str) -> None:
    campus.hw1.due_at = datetime(2027, 1, 15, 22, 59, tzinfo=UTC)
    campus.hw1.due_time_zone = zone
    db_session.flush()
    assert grade_table(db_session, campus.teacher, campus.cs1)["assignments"][0]["due_at"] == shown
