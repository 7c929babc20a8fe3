"""`grader users ...` and `grader db ...` through the real typer app, against a fresh database per test
(a fresh install: nothing migrated yet), configured the way production is: GRADER_* variables."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result
from sqlalchemy import text

from grader.courses.service import DEFAULT_COURSE_SLUG, course_role, get_course
from grader.db.migrate import head_revision
from grader.db.session import session_scope
from grader.errors import Unauthorized
from grader.users.service import authenticate, get_user_by_email

Invoke = Callable[..., Result]


# `grader`: the CLI on a fresh database (tests/grader/conftest.py).


def _last_line(result: Result) -> str:
    return result.stdout.rstrip("\n").splitlines()[-1]


def test_users_add_prints_a_working_token_as_the_last_line(grader: Invoke, empty_database_url: str) -> None:
    result = grader("users", "add", "Ada@Example.edu", "--role", "student")
    assert result.exit_code == 0, result.output
    token = _last_line(result)
    assert token.startswith("tt_") and " " not in token
    with session_scope(empty_database_url) as session:
        user = authenticate(session, token)
        assert (user.email, user.role) == ("ada@example.edu", "student")
        # A fresh install: the schema was created and the default course, open to students, exists.
        assert course_role(session, user, get_course(session, DEFAULT_COURSE_SLUG)) == "student"
        stored = session.execute(text("SELECT token_hash, prefix FROM api_tokens")).all()
    assert all(token not in value for row in stored for value in row)


def test_instructors_join_the_default_course_and_list_shows_everyone(grader: Invoke, empty_database_url: str) -> None:
    assert grader("users", "add", "ada@example.edu").exit_code == 0
    result = grader("users", "add", "prof@example.edu", "--role", "instructor")
    assert result.exit_code == 0, result.output
    assert "instructor in course default" in result.stdout
    with session_scope(empty_database_url) as session:
        prof = get_user_by_email(session, "prof@example.edu")
        assert course_role(session, prof, get_course(session, DEFAULT_COURSE_SLUG)) == "instructor"
    listing = grader("users", "list")
    assert listing.exit_code == 0, listing.output
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["id", "role", "email", "tokens", "created", "(UTC)"]
    assert [line.split()[1:4] for line in lines[1:]] == [["student", "ada@example.edu", "1"],
                                                         ["instructor", "prof@example.edu", "1"]]
    only = grader("users", "list", "--role", "instructor")
    assert [line.split()[2] for line in only.stdout.splitlines()[1:]] == ["prof@example.edu"]


def test_refusals_exit_non_zero_with_the_reason_and_no_token(grader: Invoke) -> None:
    assert grader("users", "add", "ada@example.edu").exit_code == 0
    for args, reason in [(("users", "add", "ADA@example.edu"), "already exists"),
                         (("users", "add", "not-an-email"), "not a valid email"),
                         (("users", "add", "x@example.edu", "--course", "nope"), "no course 'nope'")]:
        result = grader(*args)
        assert result.exit_code == 1
        assert reason in result.stderr
        assert "tt_" not in result.stdout
    assert grader("users", "add", "x@example.edu", "--role", "root").exit_code == 2  # typer's own usage error


def test_token_and_revoke(grader: Invoke, empty_database_url: str) -> None:
    first = _last_line(grader("users", "add", "ada@example.edu"))
    result = grader("users", "token", "ada@example.edu", "--label", "laptop")
    assert result.exit_code == 0, result.output
    second = _last_line(result)
    assert second != first
    with session_scope(empty_database_url) as session:
        assert authenticate(session, second).email == "ada@example.edu"
    revoked = grader("users", "revoke", "ada@example.edu")
    assert revoked.exit_code == 0 and "revoked 2 token(s)" in revoked.stdout
    with session_scope(empty_database_url) as session:
        for token in (first, second):
            with pytest.raises(Unauthorized):
                authenticate(session, token)


def test_db_upgrade_and_current(grader: Invoke) -> None:
    head = head_revision()
    first = grader("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip().endswith(f"empty -> {head}")
    again = grader("db", "upgrade")
    assert again.stdout.strip().endswith(f"already at {head}")
    current = grader("db", "current")
    assert current.exit_code == 0 and f"at {head}, latest {head}" in current.stdout
