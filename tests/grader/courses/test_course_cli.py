"""`grader courses|assignments|roster|extensions` through the real typer app, on a fresh database per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from grader.courses.extensions import extension_due
from grader.courses.service import course_role, get_assignment, get_course
from grader.db.session import session_scope
from grader.users.service import get_user_by_email

Invoke = Callable[..., Result]


# `grader`: the CLI on a fresh database (tests/grader/conftest.py).


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_course_term_from_the_command_line(grader: Invoke, empty_database_url: str, tmp_path: Path) -> None:
    _ok(grader("courses", "add", "ml101", "--name", "ML Systems 101"))
    out = _ok(grader("assignments", "add", "ml101/final", "--title", "Final capstone", "--suites", "capstone",
                     "--due", "2027-01-15T23:59:00+01:00", "--late-policy", '{"penalty_per_day": 0.1}',
                     "--policy", "latest", "--per-hour", "5", "--edition", "current"))
    assert "due 2027-01-15T23:59:00+01:00" in out
    roster = tmp_path / "roster.csv"
    roster.write_bytes(b'Student,ID,SIS User ID,SIS Login ID,Section\r\n    Points Possible,,,,\r\n'
                       b'"Lovelace, Ada",101,ada001,ada@uni.edu,S1\r\n"Turing, Alan",102,at2,aturing,S1\r\n')
    out = _ok(grader("roster", "import", "ml101", str(roster), "--format", "canvas"))
    assert "added 1, updated 0, skipped 1" in out and "skipped line 4:" in out and "aturing" in out
    assert "added 0, updated 1, skipped 1" in _ok(grader("roster", "import", "ml101", str(roster)))
    _ok(grader("roster", "add", "ml101", "ta@uni.edu", "--role", "ta", "--name", "Tim A", "--section", "S2"))
    listed = _ok(grader("roster", "list", "ml101"))
    assert "Ada Lovelace" in listed and "ta@uni.edu" in listed and " ta " in listed
    _ok(grader("extensions", "grant", "ml101/final", "ada@uni.edu", "--due", "2027-01-20T23:59:00+01:00",
               "--reason", "ill"))
    _ok(grader("assignments", "edit", "ml101/final", "--due", "2027-01-16T23:59[Europe/Zurich]", "--per-hour", "3"))
    assert "2027-01-16T23:59:00+01:00" in _ok(grader("assignments", "list", "ml101"))
    _ok(grader("roster", "drop", "ml101", "ada@uni.edu"))
    # The roster's students get tokens the usual way.
    assert _ok(grader("users", "token", "ada@uni.edu")).splitlines()[-1].startswith("tt_")
    _ok(grader("courses", "archive", "ml101"))
    assert "ml101" in _ok(grader("courses", "list"))
    with session_scope(empty_database_url) as session:
        course = get_course(session, "ml101")
        ada = get_user_by_email(session, "ada@uni.edu")
        final = get_assignment(session, "final", course_slug="ml101")
        assert course.archived_at is not None and course_role(session, ada, course) is None
        assert final.max_submissions_per_hour == 3 and final.due_time_zone == "Europe/Zurich"
        assert extension_due(session, final, ada).isoformat() == "2027-01-20T22:59:00+00:00"


@pytest.mark.parametrize(("args", "message"), [
    (("assignments", "add", "ml101/final", "--title", "F", "--due", "2027-01-15T23:59:00"), "no time zone"),
    (("assignments", "add", "final", "--title", "F"), "COURSE/SLUG"),
    (("assignments", "add", "ml101/final", "--title", "F", "--late-policy", "{bad"), "not JSON"),
    (("assignments", "add", "ml101/final", "--title", "F", "--suites", "nope"), "unknown suites"),
    (("assignments", "add", "nope/final", "--title", "F"), "no course 'nope'"),
    (("assignments", "edit", "ml101/final"), "nothing to change"),
    (("courses", "add", "ml101", "--name", "Again"), "already exists"),
    (("courses", "add", "Bad Slug", "--name", "X"), "course slug"),
    (("roster", "add", "ml101", "not-an-address"), "not a valid email"),
    (("roster", "drop", "ml101", "who@uni.edu"), "not on the roster"),
    (("extensions", "grant", "ml101/final", "x@uni.edu", "--due", "2027-01-20"), "no time zone"),
])
def test_errors_exit_2_with_the_reason(grader: Invoke, args: tuple[str, ...], message: str) -> None:
    _ok(grader("courses", "add", "ml101", "--name", "ML"))
    result = grader(*args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_roster_import_refuses_a_huge_file(grader: Invoke, tmp_path: Path) -> None:
    _ok(grader("courses", "add", "ml101", "--name", "ML"))
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as out:
        out.truncate(20 * 1024 * 1024)
    result = grader("roster", "import", "ml101", str(huge), "--format", "plain")
    assert result.exit_code == 2 and "at most 5 MB" in " ".join(result.output.split())
