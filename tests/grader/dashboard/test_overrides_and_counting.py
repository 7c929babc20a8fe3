"""Overrides and extensions count everywhere the dashboard shows a grade (table, CSV, history, report, charts),
always beside the automatic score; a bad override is refused naming the field."""

from __future__ import annotations

import csv
import io
import math
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.orm import Session

from grader.dashboard import charts, export, history, overrides, reports
from grader.dashboard.table import grade_table
from grader.db.models import Extension, Submission
from grader.errors import BadRequest, NotFound

if TYPE_CHECKING:
    from conftest import Campus

DAY = 24 * 60


def cell(campus: Campus, email: str = "ada@example.edu") -> dict:  # type: ignore[type-arg]
    rows = grade_table(campus.session, campus.teacher, campus.cs1)["rows"]
    return next(r for r in rows if r["email"] == email)["grades"]["hw1"]


def csv_row(campus: Campus, email: str = "ada@example.edu") -> dict[str, str]:
    text = export.csv_export(campus.session, campus.teacher, campus.cs1)
    return next(r for r in csv.DictReader(io.StringIO(text)) if r["email"] == email)


def test_an_override_counts_everywhere_and_the_automatic_score_stays(campus: Campus) -> None:
    s = campus.session
    late = campus.submit(campus.ada, campus.hw1, 8.0, 2 * DAY)  # 2 days late: counts 6.4
    assert (cell(campus)["score"], cell(campus)["raw_score"]) == (6.4, 8.0)
    report = overrides.set_override(s, campus.teacher, late.id, score=9.5, comment="  forum answer was wrong  ")
    assert report["override"]["score"] == 9.5 and report["override"]["comment"] == "forum answer was wrong"
    assert report["override"]["by"] == "teach@example.edu" and report["override"]["at"]
    assert (report["score"], report["counted_score"]) == (8.0, 9.5)  # no late penalty on an override
    shown = cell(campus)
    assert (shown["score"], shown["raw_score"], shown["override_score"]) == (9.5, 8.0, 9.5)
    assert shown["override_comment"] == "forum answer was wrong" and shown["late"]["days_late"] == 2
    row = csv_row(campus)
    assert (row["hw1 score"], row["hw1 raw_score"], row["hw1 override"], row["hw1 days_late"]) == (
        "9.5", "8", "9.5", "2")
    listed = history.student_submissions(s, campus.teacher, campus.cs1, campus.ada.id)["submissions"][0]
    assert (listed["counted_score"], listed["score"], listed["override_score"], listed["counts"]) == (9.5, 8, 9.5, True)
    assert charts.score_histogram(s, campus.teacher, campus.cs1, "hw1")["mean_percent"] == pytest.approx(95.0)
    cleared = overrides.clear_override(s, campus.teacher, late.id)
    assert (cleared["override"], cleared["counted_score"]) == (None, 6.4)
    assert (late.override_score, late.override_comment, late.override_by, late.override_at) == (None,) * 4
    assert cell(campus)["score"] == 6.4
    overrides.clear_override(s, campus.teacher, late.id)  # clearing none is no error


def test_an_override_makes_its_submission_the_one_that_counts(campus: Campus) -> None:
    campus.submit(campus.ada, campus.hw1, 9.0, 0)
    low = campus.submit(campus.ada, campus.hw1, 2.0, 5)
    overrides.set_override(campus.session, campus.teacher, low.id, score=10, comment="regraded by hand")
    assert cell(campus)["submission_id"] == str(low.id)
    assert cell(campus)["score"] == 10


def test_work_past_the_late_limit_counts_when_overridden(campus: Campus) -> None:
    too_late = campus.submit(campus.ada, campus.hw1, 10.0, 5 * DAY)
    assert cell(campus)["score"] == 0
    overrides.set_override(campus.session, campus.teacher, too_late.id, score=7, comment="illness, documented")
    assert cell(campus)["score"] == 7


@pytest.mark.parametrize(("score", "comment", "field"), [
    (math.nan, "ok", "score"),
    (math.inf, "ok", "score"),
    (-math.inf, "ok", "score"),
    (-0.5, "ok", "score"),
    (10.01, "ok", "score"),  # max_score is 10
    (1e308, "ok", "score"),
    (True, "ok", "score"),
    ("7", "ok", "score"),
    (None, "ok", "score"),
    (5, "", "comment"),
    (5, "   \n ", "comment"),
    (5, None, "comment"),
    (5, "x" * 2001, "comment"),
    (5, "null\x00byte", "comment"),
    (5, "bell\x07", "comment"),
])
def test_a_bad_override_is_refused_naming_the_field(campus: Campus, score: object, comment: object,
                                                    field: str) -> None:
    work = campus.submit(campus.ada, campus.hw1, 4.0)
    with pytest.raises(BadRequest) as refused:
        overrides.set_override(campus.session, campus.teacher, work.id, score=score, comment=comment)
    assert refused.value.detail.startswith(field)
    assert work.override_score is None and work.override_comment is None


def test_an_override_at_the_limits_is_taken(campus: Campus) -> None:
    work = campus.submit(campus.ada, campus.hw1, 4.0)
    overrides.set_override(campus.session, campus.teacher, work.id, score=0, comment="c" * 2000)
    assert (work.override_score, len(work.override_comment or "")) == (0.0, 2000)
    assert cell(campus)["score"] == 0  # an override of 0 is an override, not "none"
    overrides.set_override(campus.session, campus.teacher, work.id, score=10, comment="line one\nline two\tend")
    assert work.override_score == 10


@pytest.mark.parametrize("status", ["queued", "running", "failed"])
def test_work_without_a_grade_cannot_be_overridden(campus: Campus, status: str) -> None:
    work = campus.submit(campus.ada, campus.hw1, None, status=status)
    with pytest.raises(BadRequest, match=f"^score: .* is {status}, not graded"):
        overrides.set_override(campus.session, campus.teacher, work.id, score=5, comment="hm")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "", "00000000-0000-0000-0000-000000000000", "1 OR 1=1"])
def test_an_override_of_no_submission_is_not_found(campus: Campus, bad_id: str) -> None:
    with pytest.raises(NotFound):
        overrides.set_override(campus.session, campus.teacher, bad_id, score=1, comment="x")


def test_an_extension_moves_the_due_date_for_that_student_only(db_session: Session, campus: Campus) -> None:
    campus.submit(campus.ada, campus.hw1, 10.0, 2 * DAY)
    campus.submit(campus.bob, campus.hw1, 10.0, 2 * DAY)
    db_session.add(Extension(assignment_id=campus.hw1.id, user_id=campus.ada.id,
                             due_at=campus.hw1.due_at + timedelta(days=3), reason="illness"))
    db_session.flush()
    assert (cell(campus)["score"], cell(campus)["late"]) == (10, None)
    assert (cell(campus, "bob@example.edu")["score"], cell(campus, "bob@example.edu")["late"]["days_late"]) == (8, 2)
    assert (csv_row(campus)["hw1 days_late"], csv_row(campus, "bob@example.edu")["hw1 days_late"]) == ("0", "2")
    listed = history.student_submissions(db_session, campus.teacher, campus.cs1, campus.ada.id)
    assert (listed["submissions"][0]["counted_score"], listed["submissions"][0]["late"]) == (10, None)
    ada_work = db_session.query(Submission).filter_by(user_id=campus.ada.id).one()
    report = reports.submission_report(db_session, campus.teacher, ada_work.id)
    assert (report["late"], report["counted_score"], report["your_due_at"] is not None) == (None, 10, True)
    assert charts.score_histogram(db_session, campus.teacher, campus.cs1, "hw1")["mean_percent"] == pytest.approx(90)


def test_an_extension_past_the_late_limit_lets_latest_work_count(db_session: Session, campus: Campus) -> None:
    campus.submit(campus.ada, campus.hw1, 10.0, 5 * DAY)  # 5 days late: past max_late_days 3, counts 0
    assert cell(campus)["score"] == 0
    db_session.add(Extension(assignment_id=campus.hw1.id, user_id=campus.ada.id,
                             due_at=campus.hw1.due_at + timedelta(days=4)))
    db_session.flush()
    assert (cell(campus)["score"], cell(campus)["late"]["days_late"]) == (9, 1)
