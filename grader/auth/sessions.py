"""Web sessions: a signed-in browser's cookie secret (the database keeps only its sha256) and its CSRF token.

    row, secret = start_session(session, user, lifetime)     # secret: the cookie's value, never stored
    row, user, slid = session_user(session, secret, lifetime)  # or Unauthorized (unknown, expired, revoked)

Pure functions over a Session: they flush, the caller commits.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.base import utcnow
from ..db.models import User, WebSession
from ..errors import Forbidden, Unauthorized
from ..users.service import hash_token

COOKIE_NAME = "tt_session"
_SECRET_BYTES = 32
# A cookie value we issue is 43 characters of base64url; anything else is refused before it is hashed.
_SECRET = re.compile(r"[A-Za-z0-9_-]{20,128}")
# last_seen_at (and the sliding expiry with it) is written at most this often: a write per request would
# queue every page's API calls behind SQLite's single writer for a value nobody needs to the second.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
SESSION_ENDED = "you are not signed in (your session ended or expired); sign in again at /sign-in"
CSRF_REFUSED = ("the X-CSRF-Token header (or csrf_token form field) is missing or does not match this session's "
                "CSRF token; reload the page and try again")


def start_session(session: Session, user: User, lifetime: timedelta,
                  now: datetime | None = None) -> tuple[WebSession, str]:
    """A new session for `user` and its cookie secret (plaintext, only in the return value)."""
    now = now or utcnow()
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    row = WebSession(user_id=user.id, token_hash=hash_token(secret), csrf_token=secrets.token_urlsafe(_SECRET_BYTES),
                     created_at=now, expires_at=now + lifetime, last_seen_at=now)
    session.add(row)
    session.flush()
    return row, secret


def _live_session(session: Session, secret: str, now: datetime) -> tuple[WebSession, User] | None:
    if not _SECRET.fullmatch(secret):
        return None
    # Looked up by the hash of a 256-bit secret: timing reveals nothing a guess could build on.
    found = session.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                            .where(WebSession.token_hash == hash_token(secret))).first()
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or row.expires_at <= now:
        return None
    return row, user


def session_user(session: Session, secret: str, lifetime: timedelta,
                 now: datetime | None = None) -> tuple[WebSession, User, bool]:
    """The live session `secret` opens and its user, and whether its expiry slid forward now (the cookie is then
    sent again with a fresh Max-Age). Unauthorized if it is unknown, expired or ended."""
    now = now or utcnow()
    found = _live_session(session, secret, now)
    if found is None:
        raise Unauthorized(SESSION_ENDED)
    row, user = found
    slid = row.last_seen_at is None or now - row.last_seen_at >= LAST_SEEN_RESOLUTION
    if slid:
        row.last_seen_at = now
        row.expires_at = now + lifetime
        session.flush()
    return row, user, slid


def require_csrf(row: WebSession, given: str | None) -> None:
    """Forbidden unless `given` is this session's CSRF token (compared in constant time)."""
    if not given or not hmac.compare_digest(row.csrf_token.encode(), given.encode()):
        raise Forbidden(CSRF_REFUSED)


def end_session(session: Session, secret: str, csrf_given: str | None, now: datetime | None = None) -> bool:
    """Sign out: revoke the session `secret` opens, after checking its CSRF token. A cookie that opens no live
    session is nothing to end (False); signing out is then already done."""
    now = now or utcnow()
    found = _live_session(session, secret, now)
    if found is None:
        return False
    row, _ = found
    require_csrf(row, csrf_given)
    row.revoked_at = now
    session.flush()
    return True
