"""The dashboard's service functions on SQLite and PostgreSQL: counting scores, charts' data, CSV, regrade
bookkeeping and who may see what."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.courses.service import create_assignment, create_course, enroll
from grader.dashboard import access, charts, export, regrades, reports
from grader.dashboard.table import grade_table
from grader.db.models import Course, Regrade, Submission, TestResult, User
from grader.errors import Forbidden, NotFound
from grader.users.service import create_user

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class World:
    course: Course
    teacher: User
    other_teacher: User
    ada: User
    bob: User
    cy: User


def add_submission(session: Session, user: User, assignment_id: int, score: float | None, minutes: int,
                   failed_tests: tuple[str, ...] = (), status: str = "graded") -> Submission:
    submission = Submission(
        assignment_id=assignment_id, user_id=user.id, archive_sha256="0" * 64, status=status, score=score,
        max_score=100.0 if score is not None else None, created_at=T0 + timedelta(minutes=minutes),
        graded_at=T0 + timedelta(minutes=minutes + 1) if status == "graded" else None, suite_version="v1",
        sandbox_image="img:1",
    )
    session.add(submission)
    session.flush()
    for name in ("test_a", "test_b", "test_c"):
        failed = name in failed_tests
        session.add(TestResult(
            submission_id=submission.id, suite="capstone", name=name, priority=1, outcome="failed" if failed
            else "passed", points=0.0 if failed else 1.0, max_points=1.0,
            diagnostic=f"{name} is wrong" if failed else None, evidence={"expected": 1} if failed else {},
        ))
    session.flush()
    return submission


@pytest.fixture
def world(db_session: Session) -> World:
    course = create_course(db_session, "cs1", "Course one")
    best = create_assignment(db_session, course, "hw1", "Homework 1", score_policy="best")
    latest = create_assignment(db_session, course, "hw2", "Homework 2", score_policy="latest")
    teacher, _ = create_user(db_session, "teach@example.edu", "instructor")
    other_teacher, _ = create_user(db_session, "other@example.edu", "instructor")
    other = create_course(db_session, "cs2", "Course two")
    enroll(db_session, teacher, course)
    enroll(db_session, other_teacher, other)
    ada, _ = create_user(db_session, "ada@example.edu", "student")
    bob, _ = create_user(db_session, "bob@example.edu", "student")
    cy, _ = create_user(db_session, "cy@example.edu", "student")
    for student in (ada, bob, cy):
        enroll(db_session, student, course)
    # ada: 90 then 40 -> best 90 on hw1; 30 then 70 -> latest 70 on hw2.
    add_submission(db_session, ada, best.id, 90, 0)
    add_submission(db_session, ada, best.id, 40, 10, ("test_a", "test_b"))
    add_submission(db_session, ada, latest.id, 30, 0)
    add_submission(db_session, ada, latest.id, 70, 10)
    # bob: 100 on hw1 then a queued one (does not count); nothing on hw2. cy: nothing at all.
    add_submission(db_session, bob, best.id, 100, 0)
    add_submission(db_session, bob, best.id, None, 20, status="queued")
    db_session.refresh(course)
    return World(course, teacher, other_teacher, ada, bob, cy)


def test_grade_table_counts_best_or_latest_per_assignment(db_session: Session, world: World) -> None:
    table = grade_table(db_session, world.teacher, world.course)
    assert [a["slug"] for a in table["assignments"]] == ["hw1", "hw2"]
    rows = {r["email"]: r["grades"] for r in table["rows"]}
    assert list(rows) == ["ada@example.edu", "bob@example.edu", "cy@example.edu"]
    assert rows["ada@example.edu"]["hw1"]["score"] == 90
    assert rows["ada@example.edu"]["hw1"]["submissions"] == 2
    assert rows["ada@example.edu"]["hw2"]["score"] == 70
    assert rows["bob@example.edu"]["hw1"]["score"] == 100
    assert rows["bob@example.edu"]["hw1"]["submissions"] == 2
    assert rows["bob@example.edu"]["hw2"] is None
    assert rows["cy@example.edu"] == {"hw1": None, "hw2": None}


def test_latest_policy_takes_the_newest_graded_even_when_lower(db_session: Session, world: World) -> None:
    hw2 = next(a for a in world.course.assignments if a.slug == "hw2")
    add_submission(db_session, world.ada, hw2.id, 10, 30)
    table = grade_table(db_session, world.teacher, world.course)
    assert next(r for r in table["rows"] if r["email"] == "ada@example.edu")["grades"]["hw2"]["score"] == 10


def test_histogram_bins_counting_scores(db_session: Session, world: World) -> None:
    histogram = charts.score_histogram(db_session, world.teacher, world.course, "hw1")
    counts = [b["count"] for b in histogram["bins"]]
    # ada's counting 90 is in 90-100, bob's 100 in the last bin too; her 40 does not count.
    assert counts == [0] * 9 + [2]
    assert histogram["graded"] == 2
    assert histogram["mean_percent"] == pytest.approx(95.0)
    assert sum(b["count"] for b in charts.score_histogram(db_session, world.teacher, world.course, "hw2",
                                                            bins=5)["bins"][3:4]) == 1


def test_failure_rates_over_counting_submissions(db_session: Session, world: World) -> None:
    hw1 = next(a for a in world.course.assignments if a.slug == "hw1")
    add_submission(db_session, world.cy, hw1.id, 60, 0, ("test_b",))
    rates = charts.failure_rates(db_session, world.teacher, world.course, "hw1")
    assert rates["students"] == 3
    by_name = {t["name"]: t for t in rates["tests"]}
    assert by_name["test_b"]["failed"] == 1 and by_name["test_b"]["attempted"] == 3
    assert by_name["test_b"]["rate"] == pytest.approx(1 / 3)
    assert by_name["test_a"]["rate"] == 0  # ada's failing 40 is not her counting submission
    assert rates["tests"][0]["name"] == "test_b"


def csv_rows(session: Session, world: World) -> dict[str, dict[str, str]]:
    text = export.csv_export(session, world.teacher, world.course)
    return {row["email"]: row for row in csv.DictReader(io.StringIO(text))}


def test_csv_export_has_one_row_per_student(db_session: Session, world: World) -> None:
    text = export.csv_export(db_session, world.teacher, world.course)
    header = text.splitlines()[0].split(",")
    assert header[:5] == ["user_id", "email", "name", "section", "sis_id"]
    assert header[5:11] == ["hw1 score", "hw1 max_score", "hw1 raw_score", "hw1 override", "hw1 days_late",
                            "hw1 status"]
    rows = csv_rows(db_session, world)
    assert list(rows) == ["ada@example.edu", "bob@example.edu", "cy@example.edu"]
    ada = rows["ada@example.edu"]
    assert (ada["user_id"], ada["hw1 score"], ada["hw1 max_score"], ada["hw1 status"]) == (str(world.ada.id), "90",
                                                                                          "100", "graded")
    assert (ada["hw1 raw_score"], ada["hw1 override"], ada["hw1 days_late"]) == ("90", "", "0")
    assert (ada["hw2 score"], ada["hw2 raw_score"]) == ("70", "70")
    cy = rows["cy@example.edu"]
    assert (cy["hw1 score"], cy["hw1 status"], cy["hw1 raw_score"], cy["hw1 days_late"]) == ("", "missing", "", "")
    assert rows["bob@example.edu"]["hw2 status"] == "missing"

def test_submission_report_includes_every_test(db_session: Session, world: World) -> None:
    hw1 = next(a for a in world.course.assignments if a.slug == "hw1")
    submission = add_submission(db_session, world.cy, hw1.id, 33, 0, ("test_c",))
    report = reports.submission_report(db_session, world.teacher, submission.id)
    assert report["email"] == "cy@example.edu"
    assert [t["name"] for t in report["tests"]] == ["test_a", "test_b", "test_c"]
    failed = report["tests"][2]
    assert failed["diagnostic"] == "test_c is wrong" and failed["evidence"] == {"expected": 1}


def test_regrade_one_records_the_old_grade_and_requeues_after_commit(db_session: Session, world: World) -> None:
    submission = db_session.scalar(select(Submission).where(Submission.user_id == world.bob.id,
                                                            Submission.status == "graded"))
    requeued: list[uuid.UUID] = []
    result = regrades.regrade_one(db_session, world.teacher, submission.id, requeue=requeued.append)
    assert requeued == []  # nothing is enqueued before the bookkeeping is committed
    db_session.commit()
    assert requeued == [submission.id]
    row = db_session.scalar(select(Regrade).where(Regrade.batch == uuid.UUID(result["batch"])))
    assert (row.old_score, row.old_suite_version, row.old_sandbox_image) == (100, "v1", "img:1")
    assert row.requested_by_id == world.teacher.id and row.finished_at is None
    # The worker fills in the new grade (grader.submissions.service.record_grade); the batch then shows the change.
    row.new_score, row.new_max_score, row.finished_at = 95.0, 100.0, T0
    db_session.flush()
    batch = regrades.regrade_batch(db_session, world.teacher, result["batch"])
    assert (batch["total"], batch["finished"], batch["changed"]) == (1, 1, 1)
    assert batch["regrades"][0]["delta"] == -5


def test_regrade_all_takes_finished_submissions_only(db_session: Session, world: World) -> None:
    requeued: list[uuid.UUID] = []
    result = regrades.regrade_all(db_session, world.teacher, world.course, "hw1", requeue=requeued.append)
    db_session.commit()
    assert len(result["regrades"]) == 3  # ada's two and bob's graded one; bob's queued one is left alone
    assert len(requeued) == 3 and len({r["batch"] for r in result["regrades"]}) == 1


def test_students_are_refused_and_other_instructors_see_nothing(db_session: Session, world: World) -> None:
    submission = db_session.scalar(select(Submission).where(Submission.user_id == world.ada.id).limit(1))
    with pytest.raises(Forbidden):
        access.instructor_course(db_session, world.ada, "cs1")
    with pytest.raises(Forbidden):
        grade_table(db_session, world.ada, world.course)
    with pytest.raises(Forbidden):
        reports.submission_report(db_session, world.ada, submission.id)
    with pytest.raises(NotFound):
        access.instructor_course(db_session, world.other_teacher, "cs1")
    with pytest.raises(NotFound):
        grade_table(db_session, world.other_teacher, world.course)
    with pytest.raises(NotFound):
        reports.submission_report(db_session, world.other_teacher, submission.id)
    with pytest.raises(NotFound):
        regrades.regrade_one(db_session, world.other_teacher, submission.id, requeue=lambda _: None)
    assert [c["slug"] for c in access.teaching_courses(db_session, world.other_teacher)] == ["cs2"]
    admin, _ = create_user(db_session, "root@example.edu", "admin")
    assert access.instructor_course(db_session, admin, "cs1") is world.course


# --- late policy ------------------------------------------------------------------------------------------------

def late_assignment(session: Session, world: World, score_policy: str = "best") -> int:
    """hw3, due 30 minutes after T0, 10 % off per day late, nothing counts after 3 days."""
    hw3 = create_assignment(session, world.course, "hw3", "Homework 3", score_policy=score_policy,
                            due_at=T0 + timedelta(minutes=30), late_policy={"penalty_per_day": 0.1, "max_late_days": 3})
    session.refresh(world.course)
    return hw3.id


def ada_hw3(session: Session, world: World) -> dict:  # type: ignore[type-arg]
    table = grade_table(session, world.teacher, world.course)
    return next(r for r in table["rows"] if r["email"] == "ada@example.edu")["grades"]["hw3"]


DAY = 24 * 60


def test_best_compares_late_adjusted_scores(db_session: Session, world: World) -> None:
    hw3 = late_assignment(db_session, world)
    add_submission(db_session, world.ada, hw3, 70, 0)            # on time: counts 70
    late = add_submission(db_session, world.ada, hw3, 85, 2 * DAY)  # 2 days late: raw 85 counts 68
    cell = ada_hw3(db_session, world)
    assert (cell["score"], cell["raw_score"], cell["late"]) == (70, 70, None)
    add_submission(db_session, world.ada, hw3, 100, 2 * DAY + 10)  # 2 days late: raw 100 counts 80
    cell = ada_hw3(db_session, world)
    assert cell["submission_id"] != str(late.id)
    assert (cell["score"], cell["raw_score"]) == (80, 100)
    assert (cell["late"]["days_late"], cell["late"]["penalty"], cell["late"]["counts"]) == (2, 0.2, True)


def test_csv_counts_the_adjusted_score_and_says_why(db_session: Session, world: World) -> None:
    hw3 = late_assignment(db_session, world)
    add_submission(db_session, world.ada, hw3, 90, 31)  # one minute late is one day late
    row = csv_rows(db_session, world)["ada@example.edu"]
    assert (row["hw3 score"], row["hw3 max_score"], row["hw3 status"]) == ("81", "100", "graded")
    assert (row["hw3 raw_score"], row["hw3 days_late"]) == ("90", "1")


def test_work_past_max_late_days_counts_zero_and_does_not_displace_a_counting_grade(db_session: Session,
                                                                                   world: World) -> None:
    hw3 = late_assignment(db_session, world, score_policy="latest")
    add_submission(db_session, world.bob, hw3, 100, 5 * DAY)  # bob only handed in after the cutoff
    add_submission(db_session, world.ada, hw3, 60, 0)
    add_submission(db_session, world.ada, hw3, 100, 4 * DAY)  # past the 3-day limit: feedback only
    table = grade_table(db_session, world.teacher, world.course)
    rows = {r["email"]: r["grades"]["hw3"] for r in table["rows"]}
    assert (rows["ada@example.edu"]["score"], rows["ada@example.edu"]["late"]) == (60, None)
    bob = rows["bob@example.edu"]
    assert (bob["score"], bob["raw_score"], bob["late"]["counts"], bob["late"]["days_late"]) == (0, 100, False, 5)
    histogram = charts.score_histogram(db_session, world.teacher, world.course, "hw3")
    assert histogram["mean_percent"] == pytest.approx(30.0)  # (60 + 0) / 2, not (60 + 100) / 2
    bob_row = csv_rows(db_session, world)["bob@example.edu"]
    assert (bob_row["hw3 score"], bob_row["hw3 raw_score"], bob_row["hw3 days_late"]) == ("0", "100", "5")


def test_latest_takes_a_late_submission_within_the_limit_with_its_penalty(db_session: Session,
                                                                        world: World) -> None:
    hw3 = late_assignment(db_session, world, score_policy="latest")
    add_submission(db_session, world.ada, hw3, 90, 0)
    add_submission(db_session, world.ada, hw3, 80, DAY)  # 1 day late: counts 72, and latest means latest
    cell = ada_hw3(db_session, world)
    assert (cell["score"], cell["raw_score"], cell["late"]["adjusted_score"]) == (72, 80, 72)


def test_instructor_report_shows_lateness_beside_the_raw_score(db_session: Session, world: World) -> None:
    hw3 = late_assignment(db_session, world)
    submission = add_submission(db_session, world.cy, hw3, 50, 3 * DAY)
    report = reports.submission_report(db_session, world.teacher, submission.id)
    assert report["score"] == 50
    assert report["late"] == {"days_late": 3, "penalty": 0.3, "adjusted_score": 35.0, "counts": True,
                              "penalty_per_day": 0.1, "max_late_days": 3}
    on_time = add_submission(db_session, world.cy, hw3, 50, 0)
    assert reports.submission_report(db_session, world.teacher, on_time.id)["late"] is None


# --- regrade view -----------------------------------------------------------------------------------------------

def finish(session: Session, submission: Submission, score: float, suite: str, image: str, at: datetime) -> None:
    """What record_grade does when the worker regrades: the submission's new grade, pending regrades filled in."""
    submission.score, submission.suite_version, submission.sandbox_image, submission.graded_at = score, suite, image, at
    for row in session.scalars(select(Regrade).where(Regrade.submission_id == submission.id,
                                                     Regrade.finished_at.is_(None))):
        row.new_score, row.new_max_score, row.finished_at = score, 100.0, at
    session.flush()


def test_regrade_batch_shows_old_and_new_suite_and_image(db_session: Session, world: World) -> None:
    hw1 = next(a for a in world.course.assignments if a.slug == "hw1")
    result = regrades.regrade_all(db_session, world.teacher, world.course, "hw1", requeue=lambda _: None)
    pending = regrades.regrade_batch(db_session, world.teacher, result["batch"])
    assert all(r["new_suite_version"] is None and r["new_sandbox_image"] is None for r in pending["regrades"])
    subs = {(s.user_id, s.score): s for s in db_session.scalars(select(Submission).where(
        Submission.assignment_id == hw1.id, Submission.status == "graded"))}
    finish(db_session, subs[(world.ada.id, 90)], 90, "v2", "img:2", T0 + timedelta(days=1))
    finish(db_session, subs[(world.ada.id, 40)], 55, "v2", "img:2", T0 + timedelta(days=1))
    batch = regrades.regrade_batch(db_session, world.teacher, result["batch"])
    assert (batch["total"], batch["finished"], batch["changed"]) == (3, 2, 1)
    by_old = {r["old_score"]: r for r in batch["regrades"]}
    assert (by_old[40]["new_score"], by_old[40]["delta"]) == (55, 15)
    assert (by_old[40]["old_suite_version"], by_old[40]["new_suite_version"]) == ("v1", "v2")
    assert (by_old[40]["old_sandbox_image"], by_old[40]["new_sandbox_image"]) == ("img:1", "img:2")
    assert (by_old[90]["delta"], by_old[90]["new_suite_version"]) == (0, "v2")
    assert (by_old[100]["finished_at"], by_old[100]["new_suite_version"], by_old[100]["delta"]) == (None, None, None)


def test_a_finished_regrade_keeps_its_versions_after_the_submission_is_regraded_again(db_session: Session,
                                                                                    world: World) -> None:
    hw1 = next(a for a in world.course.assignments if a.slug == "hw1")
    submission = add_submission(db_session, world.cy, hw1.id, 50, 0)
    first = regrades.regrade_one(db_session, world.teacher, submission.id, requeue=lambda _: None)
    db_session.flush()
    finish(db_session, submission, 60, "v2", "img:2", datetime.now(UTC))
    second = regrades.regrade_one(db_session, world.teacher, submission.id, requeue=lambda _: None)
    db_session.flush()
    finish(db_session, submission, 60, "v3", "img:3", datetime.now(UTC) + timedelta(seconds=1))
    one = regrades.regrade_batch(db_session, world.teacher, first["batch"])["regrades"][0]
    assert (one["old_suite_version"], one["new_suite_version"], one["delta"]) == ("v1", "v2", 10)
    assert (one["old_sandbox_image"], one["new_sandbox_image"]) == ("img:1", "img:2")
    two = regrades.regrade_batch(db_session, world.teacher, second["batch"])["regrades"][0]
    assert (two["old_suite_version"], two["new_suite_version"], two["delta"]) == ("v2", "v3", 0)
    history = reports.submission_report(db_session, world.teacher, submission.id)["regrades"]
    assert [(r["old_suite_version"], r["new_suite_version"]) for r in history] == [("v1", "v2"), ("v2", "v3")]
