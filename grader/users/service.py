"""Users and API tokens: pure functions over a Session (they flush; the caller commits).

    user, token = create_user(session, "ada@example.edu", "student")   # token: shown once, never stored
    authenticate(session, token)                                       # -> user, or Unauthorized

A token is `tt_` + 43 random URL-safe characters (256 bits). The database keeps its sha256 and its first
11 characters (the prefix, for listings and lookup); the plaintext exists only in the return value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from ..db.base import utcnow
from ..db.models import ApiToken, Role, User
from ..errors import BadRequest, Conflict, NotFound, Unauthorized

TOKEN_PREFIX = "tt_"
PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
_TOKEN_BYTES = 32
# Longer than any token we issue: anything longer is refused before it is hashed.
_MAX_TOKEN_LENGTH = 128
# last_used_at is written at most this often per token: a write per request would serialise every API
# call on SQLite's single writer for a value nobody needs to the second.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Deliberately plain: one @, a local part without spaces or controls, a domain of DNS labels. "admin@localhost"
# is accepted (a single label), as small installs use such addresses.
_EMAIL = re.compile(rf"[^@\s\x00-\x1f\x7f]{{1,64}}@{_LABEL}(?:\.{_LABEL})*")
_MAX_EMAIL_LENGTH = 254


def normalize_email(email: str) -> str:
    """The address as stored: trimmed and lower-cased (so Ada@X and ada@x are one user), or BadRequest."""
    normalized = email.strip().lower()
    if len(normalized) > _MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(normalized):
        raise BadRequest(f"not a valid email address: {email!r}")
    return normalized


def parse_role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise BadRequest(f"unknown role {role!r}; expected one of {', '.join(r.value for r in Role)}") from None


def hash_token(token: str) -> str:
    # A plain sha256 is enough (no salt, no slow KDF): the token is 256 random bits, not a password, so there
    # is nothing to brute-force, and an unsalted digest can be looked up.
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, email: str, role: str | Role) -> tuple[User, str]:
    """A new user and their first API token (plaintext; shown once). Conflict if the email is taken."""
    user = User(email=normalize_email(email), role=parse_role(role).value)
    if session.scalar(select(User.id).where(User.email == user.email)) is not None:
        raise Conflict(f"a user with email {user.email} already exists")
    try:
        # A savepoint, so that losing a race with a concurrent create leaves the caller's transaction usable.
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise Conflict(f"a user with email {user.email} already exists") from None
    _, token = issue_token(session, user)
    return user, token


def issue_token(session: Session, user: User, label: str | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`: the row (hash and prefix only) and the plaintext, which is not kept anywhere."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    row = ApiToken(user=user, token_hash=hash_token(token), prefix=token[:PREFIX_LENGTH], label=label)
    session.add(row)
    session.flush()
    return row, token


def authenticate(session: Session, token: str, now: datetime | None = None) -> User:
    """The user `token` belongs to; Unauthorized if it is unknown, malformed or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > _MAX_TOKEN_LENGTH:
        raise Unauthorized("invalid or revoked API token")
    digest = hash_token(token)
    # Rows are found by the non-secret prefix, then told apart by a constant-time comparison of the hashes,
    # so response timing says nothing about how close a guess came.
    # The user comes in the same query: every authenticated request needs it.
    candidates = session.scalars(select(ApiToken).options(joinedload(ApiToken.user))
                                 .where(ApiToken.prefix == token[:PREFIX_LENGTH])).all()
    match = None
    for candidate in candidates:
        if hmac.compare_digest(candidate.token_hash, digest):
            match = candidate
    if match is None or match.revoked_at is not None:
        raise Unauthorized("invalid or revoked API token")
    now = now or utcnow()
    if match.last_used_at is None or now - match.last_used_at >= LAST_USED_RESOLUTION:
        match.last_used_at = now
        session.flush()
    return match.user


def revoke_token(session: Session, token: str) -> None:
    """Revoke one token, given its plaintext (a user retiring their own). Unknown tokens: Unauthorized."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        raise Unauthorized("invalid or revoked API token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()


def revoke_user_tokens(session: Session, user: User) -> int:
    """Revoke every live token of `user`; returns how many were live."""
    now = utcnow()
    live = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for row in live:
        row.revoked_at = now
    session.flush()
    return len(live)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def get_user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise NotFound(f"no user with email {email.strip().lower()}")
    return user


def list_users(session: Session, role: str | Role | None = None) -> Sequence[User]:
    """All users (or those with `role`), oldest first."""
    query = select(User).order_by(User.id)
    if role is not None:
        query = query.where(User.role == parse_role(role).value)
    return session.scalars(query).all()


def live_token_count(session: Session, user: User) -> int:
    query = select(func.count()).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    return session.scalar(query) or 0
