"""Course administration: zones, assignments' settings, roles (TA, dropped), the roster, extensions, and the
gate every upload passes (archived, not open yet, dropped)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from grader.courses.assignments import assignment_json, edit_assignment
from grader.courses.counting import counted_score, counting_submission
from grader.courses.extensions import extension_due, grant_extension, list_extensions, remove_extension
from grader.courses.roster import add_member, drop_member, roster_json, update_member
from grader.courses.service import (
    check_accepts_submissions,
    course_role,
    create_assignment,
    create_course,
    edit_course,
    instructor_course,
    staff_course,
)
from grader.courses.zones import parse_moment, parse_zone
from grader.db.models import Submission, SubmissionStatus
from grader.errors import BadRequest, Forbidden, NotFound
from grader.submissions.service import record_submission
from grader.users.service import create_user

DUE = "2027-01-15T23:59:00+01:00"


def test_due_date_is_stored_in_utc_and_answered_in_its_own_zone(db_session: Session) -> None:
    course = create_course(db_session, "ml101", "ML")
    offset = create_assignment(db_session, course, "final", "Final", due_at=DUE)
    named = create_assignment(db_session, course, "mid", "Mid", due_at="2027-01-15T23:59",
                              due_time_zone="Europe/Zurich")
    db_session.expire_all()
    assert offset.due_at.replace(tzinfo=UTC) == datetime(2027, 1, 15, 22, 59, tzinfo=UTC)
    assert assignment_json(offset)["due_at"] == DUE and offset.due_time_zone == "+01:00"
    assert assignment_json(named)["due_at"] == DUE and named.due_time_zone == "Europe/Zurich"
    # Summer time in Zurich: the same zone, another offset.
    edit_assignment(db_session, named, due_at="2027-07-01T12:00")
    assert assignment_json(named)["due_at"] == "2027-07-01T12:00:00+02:00"
    edit_assignment(db_session, named, due_time_zone="America/New_York")  # the same moment, shown elsewhere
    assert assignment_json(named)["due_at"] == "2027-07-01T06:00:00-04:00"


@pytest.mark.parametrize("text", ["2027-01-15T23:59:00", "tomorrow", "2027-13-01T00:00+01:00", ""])
def test_a_due_date_without_a_zone_or_malformed_is_refused_naming_it(db_session: Session, text: str) -> None:
    course = create_course(db_session, "ml101", "ML")
    with pytest.raises(BadRequest, match="due_at"):
        create_assignment(db_session, course, "final", "Final", due_at=text)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "+25:00", "../../etc/passwd", "+01:75", "", "Europe/"])
def test_unknown_zones_are_refused(zone: str) -> None:
    with pytest.raises(BadRequest, match="zone"):
        parse_zone(zone)


def test_zone_forms() -> None:
    assert parse_moment("2027-01-15T23:59[Europe/Zurich]").utcoffset() == timedelta(hours=1)
    assert parse_moment("2027-01-15T23:59Z").utcoffset() == timedelta(0)
    assert parse_zone("-05:30").utcoffset(None) == timedelta(hours=-5, minutes=-30)


def test_assignment_settings_are_checked_by_name(db_session: Session) -> None:
    course = create_course(db_session, "ml101", "ML")
    bad = [({"suites": ["nope"]}, "unknown suites"), ({"points": {"P3": -1}}, "points"),
           ({"points": {"Q9": 1}}, "points"), ({"points": {"capstone::x": True}}, "points"),
           ({"rubric_visibility": {"capstone::x": "public"}}, "visibility"),
           ({"rubric_visibility": {"nosuite": "hidden"}}, "rubric_visibility"),
           ({"late_policy": {"penalty": 1}}, "late_policy"), ({"max_submissions_per_hour": 0}, "per_hour"),
           ({"score_policy": "worst"}, "score_policy"), ({"edition": "1999"}, "edition"),
           ({"opens_at": "soon"}, "opens_at")]
    for fields, message in bad:
        with pytest.raises(BadRequest, match=message):
            create_assignment(db_session, course, "a", "A", **fields)
    a = create_assignment(db_session, course, "a", "A", suites=["capstone", "05_autograd"], points={"P3": 20},
                          opens_at="2027-01-01T00:00:00+01:00", late_policy={"penalty_per_day": 0.1},
                          max_submissions_per_hour=3, score_policy="latest", edition="current")
    shown = assignment_json(a)
    # No due date, so no zone of its own: opening times are shown in UTC.
    assert shown["points"] == {"P3": 20.0} and shown["opens_at"] == "2026-12-31T23:00:00+00:00"
    with pytest.raises(BadRequest, match="unknown assignment field"):
        edit_assignment(db_session, a, due="tomorrow")
    with pytest.raises(BadRequest, match="title cannot be null"):
        edit_assignment(db_session, a, title=None)
    edit_assignment(db_session, a, archived=True, max_submissions_per_hour=None)
    assert assignment_json(a)["archived"] and a.max_submissions_per_hour is None


def test_ta_and_dropped_roles_and_who_may_change_what(db_session: Session) -> None:
    course = create_course(db_session, "ml101", "ML")
    add_member(db_session, course, "prof@uni.edu", role="instructor")
    add_member(db_session, course, "ta@uni.edu", role="ta")
    student, _ = add_member(db_session, course, "ada@uni.edu", name="Ada  Lovelace", section="S1")
    stranger, _ = create_user(db_session, "who@uni.edu", "instructor")
    prof, ta = (add_member(db_session, course, e)[0].user for e in ("prof@uni.edu", "ta@uni.edu"))
    assert course_role(db_session, ta, course) == "ta" and course_role(db_session, prof, course) == "instructor"
    assert student.user.name == "Ada Lovelace" and student.role == "student"
    assert instructor_course(db_session, prof, "ml101") is course
    assert staff_course(db_session, ta, "ml101") == (course, "ta")
    with pytest.raises(Forbidden):
        instructor_course(db_session, ta, "ml101")
    with pytest.raises(Forbidden):
        staff_course(db_session, student.user, "ml101")
    with pytest.raises(NotFound):
        staff_course(db_session, stranger, "ml101")
    drop_member(db_session, course, "ADA@uni.edu")
    assert course_role(db_session, student.user, course) is None
    members = {m["email"]: m for m in roster_json(db_session, course)["members"]}
    assert members["ada@uni.edu"]["dropped"] and members["ada@uni.edu"]["section"] == "S1"
    again, created = add_member(db_session, course, "ada@uni.edu")  # re-adding takes the drop back
    assert not created and again.dropped_at is None and again.role == "student"
    update_member(db_session, course, again.user_id, role="ta", section="S2")
    assert course_role(db_session, again.user, course) == "ta"
    with pytest.raises(BadRequest, match="student, ta or instructor"):
        update_member(db_session, course, again.user_id, role="admin")
    with pytest.raises(NotFound):
        update_member(db_session, course, stranger.id, dropped=True)


def test_dropped_student_of_an_open_course_has_no_role(db_session: Session) -> None:
    course = create_course(db_session, "open", "Open", open_to_all_students=True)
    enrollment, _ = add_member(db_session, course, "ada@uni.edu")
    assert course_role(db_session, enrollment.user, course) == "student"
    drop_member(db_session, course, "ada@uni.edu")
    assert course_role(db_session, enrollment.user, course) is None


def test_uploads_are_refused_to_archived_unopened_or_dropped(db_session: Session) -> None:
    course = create_course(db_session, "ml101", "ML")
    now = datetime(2027, 1, 10, 12, tzinfo=UTC)
    a = create_assignment(db_session, course, "final", "Final", opens_at="2027-01-11T00:00:00+01:00", due_at=DUE)
    ada = add_member(db_session, course, "ada@uni.edu")[0].user
    ta = add_member(db_session, course, "ta@uni.edu", role="ta")[0].user
    with pytest.raises(Forbidden, match=r"opens at 2027-01-11T00:00:00\+01:00"):
        record_submission(db_session, ada, "0" * 64, "ml101/final", now=now)
    check_accepts_submissions(db_session, a, ta, now)  # staff may try it before it opens
    later = now + timedelta(days=1)
    assert record_submission(db_session, ada, "0" * 64, "ml101/final", now=later).assignment_id == a.id
    edit_assignment(db_session, a, archived=True)
    with pytest.raises(Forbidden, match="archived"):
        record_submission(db_session, ada, "0" * 64, "ml101/final", now=later)
    edit_assignment(db_session, a, archived=False)
    edit_course(db_session, course, archived=True)
    with pytest.raises(Forbidden, match="course ml101 is archived"):
        check_accepts_submissions(db_session, a, ada, later)
    edit_course(db_session, course, archived=False)
    drop_member(db_session, course, "ada@uni.edu")
    with pytest.raises(Forbidden, match="no longer enrolled"):
        check_accepts_submissions(db_session, a, ada, later)
    with pytest.raises(NotFound):  # the upload does not even find the assignment any more
        record_submission(db_session, ada, "0" * 64, "ml101/final", now=later)


def _graded(db_session: Session, assignment_id: int, user_id: int, at: datetime, score: float) -> Submission:
    row = Submission(id=uuid.uuid4(), assignment_id=assignment_id, user_id=user_id, archive_sha256="0" * 64,
                     status=SubmissionStatus.graded.value, score=score, max_score=100.0, created_at=at)
    db_session.add(row)
    db_session.flush()
    return row


def test_an_extension_changes_what_late_work_counts_for(db_session: Session) -> None:
    course = create_course(db_session, "ml101", "ML")
    a = create_assignment(db_session, course, "final", "Final", due_at=DUE,
                          late_policy={"penalty_per_day": 0.1, "max_late_days": 2})
    ada = add_member(db_session, course, "ada@uni.edu")[0].user
    grace = add_member(db_session, course, "grace@uni.edu")[0].user
    three_days_late = datetime(2027, 1, 18, 12, tzinfo=UTC)
    mine = _graded(db_session, a.id, ada.id, three_days_late, 80.0)
    assert extension_due(db_session, a, ada) is None
    assert counted_score(mine, extension_due(db_session, a, ada)) == pytest.approx(0.0)  # past max_late_days
    grant_extension(db_session, a, ada, "2027-01-18T23:59", reason="ill", by=None)  # read in the assignment's zone
    due = extension_due(db_session, a, ada)
    assert due == datetime(2027, 1, 18, 22, 59, tzinfo=UTC)
    assert counted_score(mine, due) == 80.0
    assert counting_submission([mine], "latest", due_at=due) is mine
    listed = list_extensions(db_session, a)
    assert listed == [{"user_id": ada.id, "email": "ada@uni.edu", "due_at": "2027-01-18T23:59:00+01:00",
                       "reason": "ill"}]
    grant_extension(db_session, a, ada, "2027-01-17T23:59:00+01:00")  # replaces, not adds
    assert len(list_extensions(db_session, a)) == 1
    assert counted_score(mine, extension_due(db_session, a, ada)) == pytest.approx(72.0)
    assert extension_due(db_session, a, grace) is None
    remove_extension(db_session, a, ada)
    assert extension_due(db_session, a, ada) is None
    with pytest.raises(NotFound):
        remove_extension(db_session, a, ada)
    outsider, _ = create_user(db_session, "out@uni.edu", "student")
    with pytest.raises(NotFound, match="not on the roster"):
        grant_extension(db_session, a, outsider, DUE)
    with pytest.raises(BadRequest, match="no time zone"):
        grant_extension(db_session, create_assignment(db_session, course, "nozone", "N"), ada, "2027-01-18T23:59")


def test_a_students_assignments_show_what_counts_with_their_extension(db_session: Session) -> None:
    from grader.courses.assignments_view import my_assignments

    course = create_course(db_session, "ml101", "ML")
    a = create_assignment(db_session, course, "final", "Final", due_at=DUE, late_policy={"penalty_per_day": 0.5})
    hidden = create_assignment(db_session, course, "old", "Old")
    edit_assignment(db_session, hidden, archived=True)
    ada = add_member(db_session, course, "ada@uni.edu")[0].user
    late = _graded(db_session, a.id, ada.id, datetime(2027, 1, 16, 12, tzinfo=UTC), 80.0)
    [row] = [r for r in my_assignments(db_session, ada)["assignments"] if r["course"] == "ml101"]
    assert row["submissions"] == 1 and row["your_due_at"] is None
    assert row["counting"]["submission_id"] == str(late.id)
    assert (row["counting"]["score"], row["counting"]["raw_score"]) == (40.0, 80.0)
    assert row["counting"]["late"]["days_late"] == 1
    grant_extension(db_session, a, ada, "2027-01-17T00:00:00+01:00")
    [row] = [r for r in my_assignments(db_session, ada)["assignments"] if r["course"] == "ml101"]
    assert row["your_due_at"] == "2027-01-17T00:00:00+01:00"
    assert row["counting"]["score"] == 80.0 and row["counting"]["late"] is None
    late.override_score = 95.0
    [row] = [r for r in my_assignments(db_session, ada)["assignments"] if r["course"] == "ml101"]
    assert (row["counting"]["score"], row["counting"]["override_score"]) == (95.0, 95.0)
