"""The late policy: days late rounded up, the penalty and its floor, the max_late_days cutoff, and policies
refused when an assignment is created (that part on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.orm import Session

from grader.courses.late import counting_score, days_late, late_report, lateness, parse_late_policy
from grader.courses.service import create_assignment, create_course
from grader.db.models import Assignment
from grader.errors import BadRequest

DUE = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
POLICY = {"penalty_per_day": 0.1, "max_late_days": 7}


def assignment(late_policy: dict[str, Any] | None = None, due_at: datetime | None = DUE) -> Assignment:
    # A transient row: lateness only reads due_at and late_policy, no database needed.
    return Assignment(slug="hw", title="HW", due_at=due_at, late_policy=POLICY if late_policy is None else late_policy)


def test_on_time_and_exactly_at_the_due_time_are_not_late() -> None:
    hw = assignment()
    assert lateness(hw, DUE - timedelta(days=3)) is None
    assert lateness(hw, DUE) is None
    assert late_report(hw, DUE, 80.0) is None
    assert counting_score(hw, DUE, 80.0) == 80.0


def test_one_minute_late_is_one_day_late() -> None:
    late = lateness(assignment(), DUE + timedelta(minutes=1))
    assert late is not None
    assert (late.days_late, late.penalty, late.counts) == (1, 0.1, True)
    assert late.multiplier == pytest.approx(0.9)
    assert late.adjust(80.0) == 72.0


def test_days_round_up_and_a_whole_day_is_one_day() -> None:
    assert days_late(DUE, DUE + timedelta(microseconds=1)) == 1
    assert days_late(DUE, DUE + timedelta(days=1)) == 1
    assert days_late(DUE, DUE + timedelta(days=1, seconds=1)) == 2
    assert days_late(DUE, DUE + timedelta(days=3)) == 3


def test_the_penalty_reads_as_a_clean_number() -> None:
    # 1 - 3 * 0.1 is 0.6999999999999999 in floating point; the grade must not show that.
    late = lateness(assignment(), DUE + timedelta(days=3))
    assert late is not None and late.penalty == 0.3 and late.adjust(100.0) == 70.0


def test_the_multiplier_is_floored_at_zero() -> None:
    hw = assignment({"penalty_per_day": 0.4})
    late = lateness(hw, DUE + timedelta(days=3))
    assert late is not None
    assert (late.penalty, late.counts, late.adjust(90.0)) == (1.0, True, 0.0)


def test_past_max_late_days_counts_nothing() -> None:
    hw = assignment()
    last_day = lateness(hw, DUE + timedelta(days=7))
    assert last_day is not None and last_day.counts and last_day.adjust(100.0) == 30.0
    past = lateness(hw, DUE + timedelta(days=7, minutes=1))
    assert past is not None
    assert (past.days_late, past.counts, past.penalty, past.adjust(100.0)) == (8, False, 1.0, 0.0)
    assert late_report(hw, DUE + timedelta(days=8), 100.0) == {
        "days_late": 8, "penalty": 1.0, "adjusted_score": 0.0, "counts": False, "penalty_per_day": 0.1,
        "max_late_days": 7,
    }


def test_max_late_days_zero_accepts_no_late_work_for_credit() -> None:
    late = lateness(assignment({"max_late_days": 0}), DUE + timedelta(seconds=1))
    assert late is not None and not late.counts and late.adjust(50.0) == 0.0


def test_no_policy_still_reports_lateness_without_a_penalty() -> None:
    report = late_report(assignment({}), DUE + timedelta(hours=30), 64.0)
    assert report == {"days_late": 2, "penalty": 0.0, "adjusted_score": 64.0, "counts": True,
                      "penalty_per_day": 0.0, "max_late_days": None}


def test_no_due_date_is_never_late() -> None:
    hw = assignment(due_at=None)
    assert lateness(hw, datetime(2099, 1, 1, tzinfo=UTC)) is None
    assert days_late(None, datetime(2099, 1, 1, tzinfo=UTC)) == 0


def test_naive_datetimes_are_read_as_utc() -> None:
    naive_due = DUE.replace(tzinfo=None)
    assert days_late(naive_due, DUE + timedelta(minutes=1)) == 1
    assert days_late(DUE, (DUE + timedelta(minutes=1)).replace(tzinfo=None)) == 1
    assert days_late(naive_due, naive_due) == 0
    # Another zone is converted, not relabelled: 20:00 at UTC-5 is 01:00 UTC the next day.
    assert days_late(DUE, datetime(2026, 3, 1, 20, 0, tzinfo=timezone(timedelta(hours=-5)))) == 1


def test_no_score_yet_has_no_adjusted_score() -> None:
    report = late_report(assignment(), DUE + timedelta(days=2), None)
    assert report is not None and report["adjusted_score"] is None and report["penalty"] == 0.2


@pytest.mark.parametrize(("policy", "problem"), [
    ({"penalty": 0.1}, "unknown key(s) penalty"),
    ({"penalty_per_day": -0.1}, "between 0 and 1"),
    ({"penalty_per_day": 1.5}, "between 0 and 1"),
    ({"penalty_per_day": "10%"}, "penalty_per_day must be a number"),
    ({"penalty_per_day": True}, "penalty_per_day must be a number"),
    ({"penalty_per_day": float("nan")}, "penalty_per_day must be a number"),
    ({"max_late_days": 2.5}, "max_late_days must be a whole number"),
    ({"max_late_days": 7.0}, "max_late_days must be a whole number"),
    ({"max_late_days": "7"}, "max_late_days must be a whole number"),
    ({"max_late_days": -1}, "max_late_days must not be negative"),
    (["penalty_per_day"], "late_policy must be an object"),
])
def test_bad_policies_are_refused_naming_the_problem(policy: Any, problem: str) -> None:
    with pytest.raises(BadRequest, match="late_policy") as refused:
        parse_late_policy(policy)
    assert problem in refused.value.detail


def test_good_policies_parse() -> None:
    assert parse_late_policy(None).penalty_per_day == 0.0
    assert parse_late_policy({}).max_late_days is None
    policy = parse_late_policy({"penalty_per_day": 1, "max_late_days": 0})
    assert (policy.penalty_per_day, policy.max_late_days) == (1.0, 0)


def test_create_assignment_refuses_a_bad_policy(db_session: Session) -> None:
    course = create_course(db_session, "cs1", "Course one")
    with pytest.raises(BadRequest, match="unknown key"):
        create_assignment(db_session, course, "hw1", "HW 1", due_at=DUE, late_policy={"grace_hours": 2})
    with pytest.raises(BadRequest, match="between 0 and 1"):
        create_assignment(db_session, course, "hw1", "HW 1", due_at=DUE, late_policy={"penalty_per_day": 2})
    hw = create_assignment(db_session, course, "hw1", "HW 1", due_at=DUE, late_policy=POLICY)
    db_session.flush()
    db_session.expire(hw)
    assert hw.late_policy == POLICY and lateness(hw, DUE + timedelta(hours=1)) is not None
