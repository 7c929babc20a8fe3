"""An assignment's own points rescale the rubric's when a grade is written (grader.courses.rubric)."""

from __future__ import annotations

from typing import Any

import pytest

from grader.courses.rubric import apply_points


def _test(name: str, priority: int | None, passed: bool, max_points: float, suite: str = "capstone",
          counts: bool = True) -> dict[str, Any]:
    return {"suite": suite, "name": name, "priority": priority, "outcome": "passed" if passed else "failed",
            "points": max_points if passed else 0.0, "max_points": max_points, "counts_toward_grade": counts}


def _report() -> dict[str, Any]:
    tests = [_test("a", 3, True, 2.0), _test("b", 3, False, 2.0), _test("c", 3, True, 4.0), _test("d", 1, True, 5.0),
             _test("x", None, True, 1.0, suite="05_autograd"), _test("extra", 3, True, 1.0, counts=False)]
    return {"score": 12.0, "max_score": 14.0, "tests": tests,
            "priorities": [{"priority": 1, "name": "P1", "score": 5.0, "max_score": 5.0},
                           {"priority": 3, "name": "P3", "score": 6.0, "max_score": 8.0},
                           {"priority": None, "name": "05_autograd", "score": 1.0, "max_score": 1.0}]}


def test_no_points_keeps_the_rubric() -> None:
    report = _report()
    assert apply_points({}, report) is report and apply_points(None, report) is report


def test_a_priority_total_is_shared_in_the_rubrics_proportions() -> None:
    report = apply_points({"P3": 20}, _report())
    by_name = {t["name"]: t for t in report["tests"]}
    assert [by_name[n]["max_points"] for n in "abc"] == [5.0, 5.0, 10.0]
    assert by_name["extra"]["max_points"] == 1.0  # not counted toward the grade: keeps its rubric points
    assert by_name["b"]["points"] == 0.0 and by_name["c"]["points"] == 10.0
    p3 = next(g for g in report["priorities"] if g["priority"] == 3)
    assert (p3["score"], p3["max_score"]) == (15.0, 20.0)
    assert (report["score"], report["max_score"]) == (21.0, 26.0)
    assert _report()["tests"][0]["max_points"] == 2.0  # the input is not changed


def test_a_tests_own_points_win_over_its_priority() -> None:
    report = apply_points({"capstone::c": 10, "P3": 12, "05_autograd::x": 3}, _report())
    by_name = {t["name"]: t for t in report["tests"]}
    assert by_name["c"]["max_points"] == 10.0 and by_name["c"]["points"] == 10.0
    assert by_name["a"]["max_points"] == by_name["b"]["max_points"] == 1.0  # what is left of 12, shared
    assert by_name["x"]["points"] == 3.0
    autograd = next(g for g in report["priorities"] if g["priority"] is None)
    assert (autograd["score"], autograd["max_score"]) == (3.0, 3.0)
    assert report["max_score"] == pytest.approx(5.0 + 10.0 + 1.0 + 1.0 + 3.0)


def test_record_grade_writes_the_assignments_points(db_session: Any) -> None:
    import uuid
    from datetime import UTC, datetime

    from grader.courses.roster import add_member
    from grader.courses.service import create_assignment, create_course
    from grader.db.models import Submission, TestResult
    from grader.grading.grade import GradeReport
    from grader.scoring import Group, ScoredTest, ScoreSheet
    from grader.submissions.service import record_grade

    course = create_course(db_session, "ml101", "ML")
    assignment = create_assignment(db_session, course, "final", "Final", points={"P3": 20, "capstone::t3": 4})
    ada = add_member(db_session, course, "ada@uni.edu")[0].user
    row = Submission(id=uuid.uuid4(), assignment_id=assignment.id, user_id=ada.id, archive_sha256="0" * 64)
    db_session.add(row)
    db_session.flush()
    tests = (ScoredTest("capstone", "t1", 3, "passed", 2.0, 2.0, True, "visible"),
             ScoredTest("capstone", "t2", 3, "failed", 0.0, 2.0, True, "visible"),
             ScoredTest("capstone", "t3", 1, "passed", 1.0, 1.0, True, "visible"))
    sheet = ScoreSheet(3.0, 5.0, (Group("capstone:P1", 1, "P1", 1.0, 1.0), Group("capstone:P3", 3, "P3", 2.0, 4.0)),
                       tests)
    now = datetime.now(UTC)
    report = GradeReport(seed=1, suites=["capstone"], sheet=sheet, results={}, runtime={}, suite_version="v",
                         started_at=now, finished_at=now)
    graded = record_grade(db_session, row.id, report)
    assert (graded.score, graded.max_score) == (14.0, 24.0)
    assert {g["priority"]: (g["score"], g["max_score"]) for g in graded.priorities} == {1: (4.0, 4.0),
                                                                                          3: (10.0, 20.0)}
    stored = {r.name: (r.points, r.max_points) for r in db_session.query(TestResult).filter_by(submission_id=row.id)}
    assert stored == {"t1": (10.0, 10.0), "t2": (0.0, 10.0), "t3": (4.0, 4.0)}
