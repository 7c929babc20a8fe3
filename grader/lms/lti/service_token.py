"""OAuth2 client-credentials tokens for the platform's services (IMS Security Framework 4.1): a JWT client
assertion signed with the tool's key, exchanged at the platform's token URL; cached until shortly before it
expires, per platform and scope set."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence

import httpx
from joserfc import jwt
from sqlalchemy.orm import Session

from ...db.models import LtiPlatform
from .keys import ALGORITHM, signing_key

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_MARGIN_SECONDS = 60
_cache: dict[tuple[int, str], tuple[float, str]] = {}
_lock = threading.Lock()


class TokenRefused(httpx.HTTPError):
    """The platform's token endpoint gave no token."""


def client_assertion(session: Session, platform: LtiPlatform, now: float | None = None) -> str:
    now = time.time() if now is None else now
    kid, key = signing_key(session)
    claims = {"iss": platform.client_id, "sub": platform.client_id, "aud": platform.token_url,
              "iat": int(now), "exp": int(now) + 300, "jti": secrets.token_urlsafe(16)}
    return jwt.encode({"alg": ALGORITHM, "kid": kid, "typ": "JWT"}, claims, key)


def access_token(session: Session, platform: LtiPlatform, scopes: Sequence[str], http: httpx.Client) -> str:
    scope = " ".join(sorted(scopes))
    cache_key = (platform.id, scope)
    now = time.time()
    with _lock:
        cached = _cache.get(cache_key)
    if cached is not None and cached[0] > now:
        return cached[1]
    response = http.post(platform.token_url, data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(session, platform, now), "scope": scope})
    try:
        body = response.json()
        token, expires_in = body["access_token"], float(body.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError):
        raise TokenRefused(f"the platform's token URL answered {response.status_code} without an access token"
                           ) from None
    with _lock:
        _cache[cache_key] = (now + max(0.0, expires_in - _MARGIN_SECONDS), token)
    return str(token)


def clear_cache() -> None:
    with _lock:
        _cache.clear()
