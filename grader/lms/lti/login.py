"""OIDC login initiation (LTI 1.3 "third-party initiated login"): the platform names itself and the user; we keep
a state and a nonce server-side (single use, minutes) and send the browser to the platform's auth URL, which
posts the signed id_token back to /lti/launch."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from ...db.base import utcnow
from ...db.models import LtiLoginState, LtiPlatform
from ...errors import BadRequest, Unauthorized
from .platforms import platforms_for_issuer

STATE_LIFETIME = timedelta(minutes=10)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _required(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip()
    if not value:
        raise BadRequest(f"the LTI login is missing its {name!r} parameter")
    if len(value) > 2000:
        raise BadRequest(f"the LTI login's {name!r} parameter is too long")
    return value


def start_login(session: Session, params: Mapping[str, str], launch_url: str,
                now: datetime | None = None) -> tuple[str, str]:
    """The URL of the platform's auth endpoint to send the browser to, with a fresh state and nonce, and the
    state (for the browser's cookie)."""
    now = now or utcnow()
    platform = platforms_for_issuer(session, _required(params, "iss"), params.get("client_id") or None)
    deployment = params.get("lti_deployment_id")
    if deployment and deployment not in platform.deployment_ids:
        raise BadRequest(f"unknown LTI deployment {deployment!r} for issuer {platform.issuer!r}")
    login_hint = _required(params, "login_hint")
    _required(params, "target_link_uri")
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    # Logins that were never finished are swept as new ones start: the table holds minutes of logins, no more.
    session.execute(delete(LtiLoginState).where(LtiLoginState.expires_at < now - STATE_LIFETIME))
    session.add(LtiLoginState(platform_id=platform.id, state_hash=_hash(state), nonce=nonce, created_at=now,
                              expires_at=now + STATE_LIFETIME))
    session.flush()
    query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
             "client_id": platform.client_id, "redirect_uri": launch_url, "login_hint": login_hint,
             "state": state, "nonce": nonce}
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    parts = urlsplit(platform.auth_url)
    joined = f"{parts.query}&{urlencode(query)}" if parts.query else urlencode(query)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, "")), state


def use_state(session: Session, state: str, now: datetime | None = None) -> tuple[LtiPlatform, str]:
    """The platform and nonce of login `state`, which is used up now. One UPDATE: of two launches with the same
    state exactly one gets it. Unauthorized for an unknown, used or expired state."""
    now = now or utcnow()
    if not state or len(state) > 200:
        raise Unauthorized("the LTI launch has no valid state: start again from the LMS")
    used = session.execute(
        update(LtiLoginState)
        .where(LtiLoginState.state_hash == _hash(state), LtiLoginState.used_at.is_(None),
               LtiLoginState.expires_at > now)
        .values(used_at=now).returning(LtiLoginState.platform_id, LtiLoginState.nonce)).first()
    if used is None:
        raise Unauthorized("the LTI launch's state is unknown, expired or used already: start again from the LMS")
    platform = session.get(LtiPlatform, used.platform_id)
    assert platform is not None  # the foreign key cascades
    return platform, used.nonce
