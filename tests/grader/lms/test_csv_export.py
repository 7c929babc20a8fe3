"""The gradebook CSV (grader.lms.csv_export): Canvas's, Moodle's and the plain layout read back by a CSV reader,
with hostile names; the score that counts (late penalty, override, extension); empty cells for nothing graded."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from grader.courses.extensions import grant_extension
from grader.courses.roster import add_member, drop_member
from grader.courses.service import create_assignment, create_course, enroll
from grader.db.models import Assignment, Course, Submission, User
from grader.errors import BadRequest, NotFound
from grader.lms.csv_export import gradebook_csv, number_text
from grader.users.service import create_user

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE_NAME = 'Łukasz "Lu" Nowak, Jr.'
FORMULA_NAME = '=HYPERLINK("http://evil.example","x")'
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Course1:
    session: Session
    course: Course
    hw1: Assignment  # due T0, 10 % off per late day, nothing counts after 3 days
    hw2: Assignment  # no due date, latest counts
    users: dict[str, User]

    def submit(self, who: str, assignment: Assignment, score: float | None, minutes: int = 0,
               status: str = "graded", max_score: float = 10.0, override: float | None = None) -> Submission:
        submission = Submission(assignment_id=assignment.id, user_id=self.users[who].id, archive_sha256="0" * 64,
                                status=status, score=score, max_score=max_score if status == "graded" else None,
                                created_at=T0 + timedelta(minutes=minutes), filename="tinytorch.zip",
                                override_score=override, override_comment="checked by hand" if override else None)
        self.session.add(submission)
        self.session.flush()
        return submission


@pytest.fixture
def course1(db_session: Session) -> Course1:
    course = create_course(db_session, "cs1", "Course one")
    hw1 = create_assignment(db_session, course, "hw1", "Homework 1, tensors", due_at=T0,
                            late_policy={"penalty_per_day": 0.1, "max_late_days": 3})
    hw2 = create_assignment(db_session, course, "hw2", "=Homework 2", score_policy="latest")
    users = {}
    for key, email, name, section in (
            ("ada", "ada@example.edu", HOSTILE_NAME, "S1, north"),
            ("bob", "bob@example.edu", "Bob Late", "-S2"),
            ("carl", "carl@example.edu", "Carl Override", None),
            ("dana", "dana@example.edu", "Dana Extended", None),
            ("eve", "eve@example.edu", "Eve Queued", None),
            ("fred", "fred@example.edu", None, None),
            ("mal", "=cmd@example.edu", FORMULA_NAME, "@section"),
            ("gone", "gone@example.edu", "Gone Dropped", None)):
        enrollment, _ = add_member(db_session, course, email, name=name, section=section)
        users[key] = enrollment.user
    users["mal"].name = FORMULA_NAME  # as stored, whatever a roster would have done to it
    ta, _ = create_user(db_session, "tess@example.edu", "student")
    enroll(db_session, ta, course, "ta")
    users["ta"] = ta
    drop_member(db_session, course, "gone@example.edu")
    db_session.refresh(course)
    return Course1(db_session, course, hw1, hw2, users)


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def by_email(rows: list[list[str]], column: str, skip: int = 0) -> dict[str, dict[str, str]]:
    """{address: {header: cell}} of the rows after the header (and `skip` more: Canvas's Points Possible)."""
    header = rows[0]
    return {row[header.index(column)]: dict(zip(header, row, strict=True)) for row in rows[1 + skip:]}


def grade(c: Course1) -> None:
    c.submit("ada", c.hw1, 9.0, minutes=-60)
    c.submit("ada", c.hw1, 6.0, minutes=-30)  # best counts: 9
    c.submit("bob", c.hw1, 8.0, minutes=60)  # a day late: 10 % off
    c.submit("carl", c.hw1, 3.0, minutes=5 * 24 * 60, override=9.5)  # past max_late_days, but overridden
    c.submit("dana", c.hw1, 10.0, minutes=2 * 24 * 60)  # two days late, but her own due date is later
    grant_extension(c.session, c.hw1, c.users["dana"], T0 + timedelta(days=3))
    c.submit("eve", c.hw1, None, status="queued")
    c.submit("gone", c.hw1, 10.0)
    c.submit("ta", c.hw1, 10.0)
    c.submit("mal", c.hw1, 1.0 / 3.0)
    c.submit("ada", c.hw2, 4.0, minutes=0, max_score=5.0)
    c.submit("ada", c.hw2, 2.5, minutes=10, max_score=5.0)  # latest counts: 2.5


def test_canvas_layout_reads_back_with_the_counted_scores(course1: Course1) -> None:
    grade(course1)
    text = gradebook_csv(course1.session, course1.course, "canvas")
    rows = parse(text)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 1, tensors",
                       "'=Homework 2"]
    assert rows[1] == ["Points Possible", "", "", "", "", "10", "5"]
    students = by_email(rows, "SIS Login ID", skip=1)
    assert set(students) == {"ada@example.edu", "bob@example.edu", "carl@example.edu", "dana@example.edu",
                             "eve@example.edu", "fred@example.edu", "'=cmd@example.edu"}  # no TA, no dropped
    ada = students["ada@example.edu"]
    assert (ada["Student"], ada["Section"], ada["Homework 1, tensors"], ada["'=Homework 2"]) == \
        (HOSTILE_NAME, "S1, north", "9", "2.5")
    assert students["bob@example.edu"]["Homework 1, tensors"] == "7.2"  # late penalty
    assert students["bob@example.edu"]["Section"] == "'-S2"
    assert students["carl@example.edu"]["Homework 1, tensors"] == "9.5"  # override
    assert students["dana@example.edu"]["Homework 1, tensors"] == "10"  # extension: on time
    assert students["eve@example.edu"]["Homework 1, tensors"] == ""  # nothing graded: empty, not 0
    assert students["fred@example.edu"]["Student"] == "fred@example.edu"  # no name: the address
    assert students["fred@example.edu"]["Homework 1, tensors"] == ""
    mal = students["'=cmd@example.edu"]
    assert (mal["Student"], mal["Section"], mal["Homework 1, tensors"]) == \
        ("'" + FORMULA_NAME, "'@section", "0.3333")
    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]


def test_moodle_layout_reads_back_with_email_as_the_identifier(course1: Course1) -> None:
    grade(course1)
    rows = parse(gradebook_csv(course1.session, course1.course, "moodle"))
    assert rows[0] == ["First name", "Surname", "ID number", "Email address", "Groups", "Homework 1, tensors",
                       "'=Homework 2"]
    students = by_email(rows, "Email address")
    assert len(students) == 7
    ada = students["ada@example.edu"]
    assert (ada["First name"], ada["Surname"], ada["Groups"]) == ('Łukasz "Lu" Nowak,', "Jr.", "S1, north")
    assert [students[e]["Homework 1, tensors"] for e in ("ada@example.edu", "bob@example.edu", "carl@example.edu",
                                                          "dana@example.edu", "eve@example.edu")] == \
        ["9", "7.2", "9.5", "10", ""]
    assert students["'=cmd@example.edu"]["First name"] == "'" + FORMULA_NAME.rsplit(" ", 1)[0]
    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]


def test_plain_layout_has_score_and_max_per_assignment(course1: Course1) -> None:
    grade(course1)
    rows = parse(gradebook_csv(course1.session, course1.course, "plain"))
    assert rows[0] == ["email", "name", "section", "hw1 score", "hw1 max", "hw2 score", "hw2 max"]
    students = by_email(rows, "email")
    assert list(students["ada@example.edu"].values()) == ["ada@example.edu", HOSTILE_NAME, "S1, north", "9", "10",
                                                         "2.5", "5"]
    assert list(students["eve@example.edu"].values())[3:] == ["", "10", "", "5"]


def test_one_assignment_only(course1: Course1) -> None:
    grade(course1)
    rows = parse(gradebook_csv(course1.session, course1.course, "canvas", assignment="hw2"))
    assert rows[0][5:] == ["'=Homework 2"]
    assert by_email(rows, "SIS Login ID", skip=1)["ada@example.edu"]["'=Homework 2"] == "2.5"
    with pytest.raises(NotFound, match="no assignment 'hw9'"):
        gradebook_csv(course1.session, course1.course, "canvas", assignment="hw9")


def test_unknown_layout_is_refused_naming_the_choices(course1: Course1) -> None:
    with pytest.raises(BadRequest, match="unknown format 'excel': use canvas, moodle, plain"):
        gradebook_csv(course1.session, course1.course, "excel")


def test_rfc4180_crlf_and_a_name_with_line_breaks_stays_one_row(course1: Course1) -> None:
    course1.users["fred"].name = "Fred\r\nTwo Lines"
    course1.session.flush()
    text = gradebook_csv(course1.session, course1.course, "plain")
    assert text.endswith("\r\n") and not text.startswith("\ufeff")
    assert "\n" not in text.replace("\r\n", "")  # no bare LF outside the quoted name... and that one is CRLF
    rows = parse(text)
    assert by_email(rows, "email")["fred@example.edu"]["name"] == "Fred\r\nTwo Lines"
    assert len(rows) == 8


def test_duplicate_titles_get_their_slug(course1: Course1) -> None:
    create_assignment(course1.session, course1.course, "hw3", "Homework 1, tensors")
    course1.session.refresh(course1.course)
    header = parse(gradebook_csv(course1.session, course1.course, "moodle"))[0]
    assert header[5:] == ["Homework 1, tensors [hw1]", "'=Homework 2", "Homework 1, tensors [hw3]"]


def test_open_course_lists_every_student(db_session: Session) -> None:
    course = create_course(db_session, "open", "Open to all", open_to_all_students=True)
    create_user(db_session, "zed@example.edu", "student")
    create_user(db_session, "prof@example.edu", "instructor")
    rows = parse(gradebook_csv(db_session, course, "canvas"))
    logins = [row[3] for row in rows[2:]]
    assert "zed@example.edu" in logins and "prof@example.edu" not in logins


@pytest.mark.parametrize(("value", "text"), [(7.0, "7"), (0.0, "0"), (-0.0, "0"), (6.3, "6.3"),
                                             (0.7 - 1e-16, "0.7"), (1 / 3, "0.3333"), (1234567.0, "1234567"),
                                             (1e-9, "0")])
def test_numbers_are_plain_decimals(value: float, text: str) -> None:
    assert number_text(value) == text
