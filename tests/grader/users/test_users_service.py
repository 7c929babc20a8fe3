"""Users and tokens: create + authenticate round trip, tokens kept only as hashes, revocation, validation."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import ApiToken, User
from grader.errors import BadRequest, Conflict, NotFound, Unauthorized
from grader.users.service import (
    LAST_USED_RESOLUTION,
    PREFIX_LENGTH,
    authenticate,
    create_user,
    get_user_by_email,
    issue_token,
    list_users,
    live_token_count,
    revoke_token,
    revoke_user_tokens,
)


def test_create_user_then_authenticate(db_session: Session) -> None:
    user, token = create_user(db_session, "  Ada.Lovelace@Example.EDU ", "student")
    assert user.id is not None and user.email == "ada.lovelace@example.edu" and user.role == "student"
    assert token.startswith("tt_") and len(token) >= 40
    assert authenticate(db_session, token) is user
    assert get_user_by_email(db_session, "ADA.LOVELACE@example.edu") is user


def test_tokens_are_stored_only_as_hashes(db_session: Session) -> None:
    user, token = create_user(db_session, "ada@example.edu", "instructor")
    second, token2 = issue_token(db_session, user, label="laptop")
    rows = db_session.execute(text("SELECT * FROM api_tokens")).mappings().all()
    assert len(rows) == 2
    for row in rows:
        for value in row.values():
            # Not the token, nor its secret part: only the short display prefix may appear.
            for plaintext in (token, token2):
                assert plaintext not in str(value) and plaintext[PREFIX_LENGTH:] not in str(value)
    stored = {row["token_hash"] for row in rows}
    assert stored == {hashlib.sha256(t.encode()).hexdigest() for t in (token, token2)}
    assert second.prefix == token2[:PREFIX_LENGTH]
    assert authenticate(db_session, token2) is user and authenticate(db_session, token) is user


@pytest.mark.parametrize("bad", ["", "Bearer x", "tt_", "tt_" + "A" * 43, "x" * 500])
def test_unknown_or_malformed_tokens_are_refused(db_session: Session, bad: str) -> None:
    create_user(db_session, "ada@example.edu", "student")
    with pytest.raises(Unauthorized):
        authenticate(db_session, bad)


def test_a_token_differing_only_after_the_prefix_is_refused(db_session: Session) -> None:
    _, token = create_user(db_session, "ada@example.edu", "student")
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(Unauthorized):
        authenticate(db_session, forged)


def test_revoked_tokens_are_refused(db_session: Session) -> None:
    user, token = create_user(db_session, "ada@example.edu", "student")
    _, spare = issue_token(db_session, user)
    revoke_token(db_session, token)
    with pytest.raises(Unauthorized, match="invalid or revoked"):
        authenticate(db_session, token)
    assert authenticate(db_session, spare) is user
    assert live_token_count(db_session, user) == 1
    assert revoke_user_tokens(db_session, user) == 1
    with pytest.raises(Unauthorized):
        authenticate(db_session, spare)
    assert live_token_count(db_session, user) == 0
    # A revoked token stays on record (for audit), it just no longer opens anything.
    assert all(row.revoked_at is not None for row in db_session.scalars(select(ApiToken)))


def test_last_used_is_recorded_but_not_on_every_request(db_session: Session) -> None:
    _, token = create_user(db_session, "ada@example.edu", "student")
    row = db_session.scalars(select(ApiToken)).one()
    assert row.last_used_at is None
    start = utcnow()
    authenticate(db_session, token, now=start)
    assert row.last_used_at == start
    authenticate(db_session, token, now=start + LAST_USED_RESOLUTION / 2)
    assert row.last_used_at == start
    later = start + LAST_USED_RESOLUTION + timedelta(seconds=1)
    authenticate(db_session, token, now=later)
    assert row.last_used_at == later


def test_duplicate_emails_conflict_case_insensitively(db_session: Session) -> None:
    create_user(db_session, "ada@example.edu", "student")
    with pytest.raises(Conflict, match="already exists"):
        create_user(db_session, "ADA@example.edu", "admin")
    # The caller's transaction is still usable after the refusal.
    create_user(db_session, "grace@example.edu", "student")
    assert [u.email for u in list_users(db_session)] == ["ada@example.edu", "grace@example.edu"]


@pytest.mark.parametrize("email", ["", "ada", "ada@", "@example.edu", "a b@example.edu", "ada@exa mple.edu",
                                   "ada@-example.edu", "ada@example..edu", "a@b@c.d", "x" * 65 + "@example.edu"])
def test_invalid_emails_are_refused(db_session: Session, email: str) -> None:
    with pytest.raises(BadRequest, match="valid email"):
        create_user(db_session, email, "student")


def test_local_addresses_are_accepted(db_session: Session) -> None:
    user, _ = create_user(db_session, "admin@localhost", "admin")
    assert user.role == "admin"


def test_unknown_role_is_refused(db_session: Session) -> None:
    with pytest.raises(BadRequest, match="unknown role"):
        create_user(db_session, "ada@example.edu", "root")
    assert db_session.scalars(select(User)).all() == []


def test_list_users_by_role_and_missing_users(db_session: Session) -> None:
    create_user(db_session, "s1@example.edu", "student")
    create_user(db_session, "t1@example.edu", "instructor")
    create_user(db_session, "s2@example.edu", "student")
    assert [u.email for u in list_users(db_session, "student")] == ["s1@example.edu", "s2@example.edu"]
    assert [u.email for u in list_users(db_session, "instructor")] == ["t1@example.edu"]
    with pytest.raises(NotFound):
        get_user_by_email(db_session, "nobody@example.edu")
