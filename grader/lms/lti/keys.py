"""The tool's own RSA key pairs: the newest live one signs (client assertions, deep-linking responses); every
unretired one is published at /lti/jwks. Rotating adds a key beside the old one, so a platform that cached
the old key set still verifies what was signed before it refetches. Private keys never leave this module."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db.base import utcnow
from ...db.models import LtiKey

ALGORITHM = "RS256"
_KEY_BITS = 2048


def _new_key(session: Session, now: datetime) -> LtiKey:
    kid = secrets.token_hex(8)
    key = RSAKey.generate_key(_KEY_BITS, parameters={"kid": kid, "use": "sig", "alg": ALGORITHM})
    row = LtiKey(kid=kid, private_pem=key.as_pem(private=True).decode(), created_at=now)
    session.add(row)
    session.flush()
    return row


def _live_keys(session: Session) -> list[LtiKey]:
    return list(session.scalars(select(LtiKey).where(LtiKey.retired_at.is_(None)).order_by(LtiKey.id)))


def signing_key(session: Session) -> tuple[str, RSAKey]:
    """The kid and private key that sign now (made on first use)."""
    live = _live_keys(session)
    row = live[-1] if live else _new_key(session, utcnow())
    return row.kid, RSAKey.import_key(row.private_pem, parameters={"kid": row.kid, "use": "sig",
                                                                   "alg": ALGORITHM})


def rotate_key(session: Session, now: datetime | None = None, keep: int = 2) -> LtiKey:
    """A new signing key; the previous one stays published, keys older than the newest `keep` are retired."""
    now = now or utcnow()
    row = _new_key(session, now)
    for old in _live_keys(session)[:-keep]:
        old.retired_at = now
    session.flush()
    return row


def public_jwks(session: Session) -> dict[str, Any]:
    """{"keys": [...]}: the public halves of the live keys (made on first use), each with its kid."""
    if not _live_keys(session):
        _new_key(session, utcnow())
    keys = []
    for row in _live_keys(session):
        key = RSAKey.import_key(row.private_pem)
        public = key.as_dict(private=False)
        public.update({"kid": row.kid, "use": "sig", "alg": ALGORITHM})
        keys.append(public)
    return {"keys": keys}
