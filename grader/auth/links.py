"""One-time sign-in links: a random secret in a URL (emailed, or copied by course staff), the database keeping
only its sha256. A link works once, for 30 minutes; only a user's newest few stay valid.

    link, token = issue_link(session, user)            # token: only in the return value (and the URL)
    user = redeem_link(session, token)                 # once; Unauthorized afterwards, or when expired

Pure functions over a Session: they flush, the caller commits.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ..db.base import utcnow
from ..db.models import SignInLink, User
from ..errors import BadRequest, Unauthorized
from ..users.service import hash_token, normalize_email
from .ratelimit import SlidingWindowLimit, check_and_record

LINK_LIFETIME = timedelta(minutes=30)
# Asking again (the first mail was slow) leaves the previous links usable; older ones stop working.
LIVE_LINKS_PER_USER = 3
_TOKEN_BYTES = 32
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,128}")
# A valid address is at most 254 characters; a longer one is refused without echoing it back.
_MAX_EMAIL_INPUT = 320
LINK_REFUSED = "this sign-in link is not valid any more (used, expired or replaced by a newer one); ask for a new one"

# Per address: keeps one inbox from being flooded. Per client: keeps one client from mailing many addresses, but
# generous, since a whole classroom may share one address behind NAT at the start of term.
PER_EMAIL = SlidingWindowLimit(limit=5, window_s=15 * 60)
PER_CLIENT = SlidingWindowLimit(limit=30, window_s=15 * 60)
RATE_LIMITED = "too many sign-in links asked for; wait a few minutes, then ask again"


def link_url(base_url: str, token: str) -> str:
    """The page that redeems `token`, under `base_url` (the service's public address)."""
    return f"{base_url.rstrip('/')}/sign-in/link?{urlencode({'token': token})}"


def issue_link(session: Session, user: User, now: datetime | None = None) -> tuple[SignInLink, str]:
    """A new link for `user`; the user's used and expired links are deleted, and so are unused ones beyond the
    newest LIVE_LINKS_PER_USER (this one included)."""
    now = now or utcnow()
    _prune(session, user.id, now)
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    row = SignInLink(user_id=user.id, token_hash=hash_token(token), created_at=now, expires_at=now + LINK_LIFETIME)
    session.add(row)
    session.flush()
    return row, token


def _prune(session: Session, user_id: int, now: datetime) -> None:
    session.execute(delete(SignInLink).where(
        SignInLink.user_id == user_id, or_(SignInLink.used_at.is_not(None), SignInLink.expires_at <= now)))
    keep = select(SignInLink.id).where(SignInLink.user_id == user_id).order_by(
        SignInLink.created_at.desc(), SignInLink.id.desc()).limit(LIVE_LINKS_PER_USER - 1)
    session.execute(delete(SignInLink).where(SignInLink.user_id == user_id, SignInLink.id.not_in(keep)))


def request_link(session: Session, email: str, client: str, *, issue: bool = True,
                 now: datetime | None = None) -> tuple[User | None, SignInLink | None, str | None]:
    """Someone asks for a link to `email`: the user, the link and its token, or three Nones for an unknown
    address. The caller answers both the same way; the database work is the same either way too (the lookup,
    and the pruning of a user's old links, run for an unknown address as well), so the time taken says as
    little as the answer. TooManyRequests past the per-address or per-client limit, for both alike.

    issue=False (no mail can be sent) only looks the user up: a link nobody receives would only push out the
    links staff copied for that user."""
    now = now or utcnow()
    if len(email) > _MAX_EMAIL_INPUT:
        raise BadRequest("email: not a valid email address (longer than 254 characters)")
    address = normalize_email(email)
    # The address is hashed for its key: the limiter's memory holds no list of who asked.
    check_and_record([(PER_EMAIL, "email:" + hashlib.sha256(address.encode()).hexdigest()),
                      (PER_CLIENT, "client:" + client)], now.timestamp(), RATE_LIMITED)
    user = session.scalar(select(User).where(User.email == address))
    if not issue:
        return user, None, None
    if user is None:
        _prune(session, -1, now)  # no row has user id -1: the same statements, nothing changed
        return None, None, None
    link, token = issue_link(session, user, now)
    return user, link, token


def _valid_token(token: str) -> bool:
    return bool(_TOKEN.fullmatch(token))


def link_user(session: Session, token: str, now: datetime | None = None) -> tuple[User, SignInLink]:
    """Whom `token` would sign in, without using it (the page that asks "Sign in as ...?"); Unauthorized if it
    cannot be redeemed."""
    now = now or utcnow()
    found = None
    if _valid_token(token):
        found = session.execute(select(User, SignInLink).join(SignInLink, SignInLink.user_id == User.id)
                                .where(SignInLink.token_hash == hash_token(token))
                                .execution_options(populate_existing=True)).first()
    if found is None or found[1].used_at is not None or found[1].expires_at <= now:
        raise Unauthorized(LINK_REFUSED)
    return found[0], found[1]


def redeem_link(session: Session, token: str, now: datetime | None = None) -> User:
    """Use `token` up and return its user; Unauthorized if unknown, used, expired or replaced.

    One UPDATE marks the link used only if it is still unused and unexpired, so of two concurrent redeems
    exactly one changes the row (PostgreSQL re-checks the condition after waiting for the other's row lock;
    SQLite has one writer at a time) and the other is refused."""
    now = now or utcnow()
    if not _valid_token(token):
        raise Unauthorized(LINK_REFUSED)
    digest = hash_token(token)
    used = session.execute(update(SignInLink).where(
        SignInLink.token_hash == digest, SignInLink.used_at.is_(None), SignInLink.expires_at > now,
    ).values(used_at=now))
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise Unauthorized(LINK_REFUSED)
    user = session.scalar(select(User).join(SignInLink, SignInLink.user_id == User.id)
                          .where(SignInLink.token_hash == digest))
    assert user is not None  # the row was just updated in this transaction
    return user
