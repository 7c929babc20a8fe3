"""Roster CSV imports as the learning platforms write them, and as people mangle them."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from grader.courses.roster import roster_json
from grader.courses.roster_import import MAX_ROSTER_BYTES, import_roster
from grader.courses.service import create_course
from grader.db.models import Course
from grader.errors import BadRequest, BadUpload

# A Canvas gradebook export: a "Points Possible" line under the header, assignment columns after Section, a
# Test Student without a login, quoted "Last, First" names.
CANVAS = (
    '\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Final capstone (12345),Current Score\r\n'
    '    Points Possible,,,,,100.00,(read only)\r\n'
    '"Lovelace, Ada",101,ada001,ada@uni.edu,S1,95,95\r\n'
    '"Hopper, Grace",102,gh002,Grace@Uni.edu,"S1, S2",80,80\r\n'
    '\r\n'
    '"Student, Test",103,,,S1,,\r\n'
    '"Turing, Alan",104,at004,aturing,S2,70,70\r\n'
    '"Lovelace, Ada",101,ada001,ada@uni.edu,S1,95,95\r\n'
    '"Bad, Address",105,b5,not an@email,S1,,\r\n'
)

MOODLE = (
    'First name,Surname,ID number,Institution,Department,Email address,Groups\n'
    'Ada,Lovelace,s1001,Uni,CS,ada@uni.edu,Group A\n'
    'Grace,"Hopper, Jr.",s1002,Uni,CS,grace@uni.edu,"Group A, Group B"\n'
    'Nobody,Here,s1003,Uni,CS,,Group A\n'
)


@pytest.fixture
def course(db_session: Session) -> Course:
    return create_course(db_session, "ml101", "ML")


def _members(db_session: Session, course: Course) -> dict[str, dict]:  # type: ignore[type-arg]
    return {m["email"]: m for m in roster_json(db_session, course)["members"]}


def test_canvas_export_with_its_quirks(db_session: Session, course: Course) -> None:
    result = import_roster(db_session, course, CANVAS.encode(), "canvas")
    assert (result.added, result.updated, result.encoding) == (2, 0, "utf-8")
    skipped = dict(result.skipped)
    assert set(skipped) == {6, 7, 8, 9}
    assert "no SIS Login ID" in skipped[6]
    assert "'aturing' is not an email address" in skipped[7] and "grader roster add" in skipped[7]
    assert "listed already, on line 3" in skipped[8]
    assert "not an email address" in skipped[9]
    members = _members(db_session, course)
    assert members["ada@uni.edu"] | {"user_id": 0, "last_submission_at": None} == {
        "user_id": 0, "email": "ada@uni.edu", "name": "Ada Lovelace", "role": "student", "section": "S1",
        "sis_id": "ada001", "dropped": False, "last_submission_at": None}
    assert members["grace@uni.edu"]["section"] == "S1, S2"
    # Importing the same file again adds nobody; the names and sections are refreshed.
    again = import_roster(db_session, course, CANVAS.replace(",S1,95", ",S3,95").encode(), "canvas")
    assert (again.added, again.updated) == (0, 2)
    assert _members(db_session, course)["ada@uni.edu"]["section"] == "S3"


def test_an_import_keeps_staff_roles_and_takes_back_drops(db_session: Session, course: Course) -> None:
    import_roster(db_session, course, b"email,name,section,role\nta@uni.edu,T,,ta\nada@uni.edu\n", "plain")
    from grader.courses.roster import drop_member

    drop_member(db_session, course, "ada@uni.edu")
    result = import_roster(db_session, course, b"ta@uni.edu\nada@uni.edu\n", "plain")
    assert (result.added, result.updated) == (0, 2)
    members = _members(db_session, course)
    assert members["ta@uni.edu"]["role"] == "ta" and not members["ada@uni.edu"]["dropped"]


def test_moodle_export(db_session: Session, course: Course) -> None:
    result = import_roster(db_session, course, MOODLE.encode(), "moodle")
    assert (result.added, result.updated) == (2, 0)
    assert result.skipped == [(4, "no Email address")]
    members = _members(db_session, course)
    assert members["grace@uni.edu"]["name"] == "Grace Hopper, Jr."
    assert members["grace@uni.edu"]["section"] == "Group A, Group B"
    assert members["ada@uni.edu"]["sis_id"] == "s1001"


def test_windows_1252_file_is_read_and_said_so(db_session: Session, course: Course) -> None:
    data = 'First name,Surname,Email address\r\nJosé,Müller,jose@uni.edu\r\n'.encode("cp1252")
    result = import_roster(db_session, course, data, "moodle")
    assert (result.added, result.encoding) == (1, "cp1252")
    assert _members(db_session, course)["jose@uni.edu"]["name"] == "José Müller"


def test_plain_lists_with_and_without_header(db_session: Session, course: Course) -> None:
    plain = b'ada@uni.edu,"Lovelace, Ada",S1\n\n  grace@uni.edu  \nbob@uni.edu,Bob,S2,professor\n' \
            b'x@uni.edu,a,b,student,extra\n@nope\n'
    result = import_roster(db_session, course, plain, "plain")
    assert (result.added, result.updated) == (2, 0)
    reasons = dict(result.skipped)
    assert "professor" in reasons[4] and "5 columns" in reasons[5] and "not an email" in reasons[6]
    assert _members(db_session, course)["ada@uni.edu"]["name"] == "Lovelace, Ada"
    with_header = import_roster(db_session, course, b"Email,Name\nada@uni.edu,Ada\n", "plain")
    assert (with_header.added, with_header.updated, with_header.skipped) == (0, 1, [])


@pytest.mark.parametrize(("data", "format_", "message"), [
    (b"", "canvas", "empty"),
    (b"\n\r\n\n", "plain", "empty"),
    (b"email,name\nada@uni.edu,Ada\n", "canvas", "no column 'Student'"),
    (b"Student,ID\n", "canvas", "SIS Login ID"),
    (b"PK\x03\x04\x00\x00binary", "plain", "NUL"),
    (b"ada@uni.edu\n", "excel", "unknown roster format"),
    (b"\x81\x8d\x8f\x90\x9d", "plain", "neither UTF-8 nor Windows-1252"),
])
def test_files_that_are_no_roster_are_refused(db_session: Session, course: Course, data: bytes, format_: str,
                                              message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        import_roster(db_session, course, data, format_)


def test_a_20_mb_file_is_refused_with_the_limit(db_session: Session, course: Course) -> None:
    line = b"student@uni.edu,A Student,S1\n"
    data = line * (20 * 1024 * 1024 // len(line))
    with pytest.raises(BadUpload, match="at most 5 MB") as refused:
        import_roster(db_session, course, data, "plain")
    assert refused.value.status_code == 413 and len(data) > MAX_ROSTER_BYTES


def test_hostile_cells(db_session: Session, course: Course) -> None:
    long_name = "A" * 5000
    data = (f'ada@uni.edu,{long_name}\n'
            f'"grace@uni.edu","=HYPERLINK(""http://x"")",S1\n'
            f'"unterminated@uni.edu,"Name\n').encode()
    result = import_roster(db_session, course, data, "plain")
    reasons = dict(result.skipped)
    assert "5000 characters" in reasons[1]
    assert "not an email address" in reasons[3]  # a stray quote does not swallow the rest of the file silently
    assert result.added == 1  # the formula is a name like any other: stored as text, never evaluated
    assert _members(db_session, course)["grace@uni.edu"]["name"] == '=HYPERLINK("http://x")'


def test_oversized_cells_and_row_counts_are_refused_whole(db_session: Session, course: Course) -> None:
    with pytest.raises(BadRequest, match="line 2: not readable as CSV"):
        import_roster(db_session, course, b"email\n" + b"a" * 200_000 + b"@uni.edu\n", "plain")
    with pytest.raises(BadRequest, match="at most 10000"):
        import_roster(db_session, course, b"a@uni.edu\n" * 10_002, "plain")


def test_a_class_of_two_thousand_imports_in_reasonable_time(db_session: Session, course: Course) -> None:
    import time

    rows = "".join(f'"Student, No{i}",{i},sis{i},s{i}@uni.edu,S{i % 4}\n' for i in range(2000))
    data = ("Student,ID,SIS User ID,SIS Login ID,Section\n" + rows).encode()
    started = time.monotonic()
    result = import_roster(db_session, course, data, "canvas")
    assert (result.added, result.skipped) == (2000, [])
    assert time.monotonic() - started < 20  # one batch: a few queries, not a few per line
