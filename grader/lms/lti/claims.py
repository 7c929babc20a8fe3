"""Verifying a platform's id_token (the LTI 1.3 launch message) in full: signature against the platform's JWKS,
iss, aud and azp, the nonce of this login, exp and iat with a small leeway, a registered deployment, a message
type we handle and version 1.3.0. Every refusal says which check failed."""

from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from ...db.models import LtiPlatform
from ...errors import Unauthorized
from .platform_keys import platform_key_set

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DEPLOYMENT_ID = LTI + "deployment_id"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
CUSTOM = LTI + "custom"
RESOURCE_LINK = LTI + "resource_link"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
MESSAGE_TYPES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)
LEEWAY_SECONDS = 60


def _header(id_token: str) -> dict[str, Any]:
    try:
        return dict(extract_compact(id_token.encode()).protected)
    except (JoseError, ValueError, TypeError, UnicodeError):
        raise Unauthorized("the id_token is not a signed JWT (JWS compact serialisation)") from None


def _claims(id_token: str, platform: LtiPlatform) -> dict[str, Any]:
    header = _header(id_token)
    if header.get("alg") != "RS256":
        raise Unauthorized(f"the id_token must be signed with RS256, not {header.get('alg')!r}")
    keys = platform_key_set(platform.jwks_url, header.get("kid"))
    try:
        return dict(jwt.decode(id_token, keys, algorithms=["RS256"]).claims)
    except JoseError as error:
        raise Unauthorized(f"bad signature: the id_token does not verify against the platform's keys "
                           f"({platform.jwks_url}): {error.description or error.error}") from None


def _check_times(claims: dict[str, Any], now: float) -> None:
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise Unauthorized("the id_token must carry numeric exp and iat claims")
    if exp + LEEWAY_SECONDS < now:
        raise Unauthorized(f"the id_token expired {int(now - exp)} seconds ago: launch again from the LMS")
    if iat - LEEWAY_SECONDS > now:
        raise Unauthorized("the id_token was issued in the future (iat): check the clocks of the LMS and grader")


def _check_audience(claims: dict[str, Any], client_id: str) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise Unauthorized(f"wrong audience: the id_token is for {aud!r}, not this tool's client id {client_id!r}")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise Unauthorized(f"wrong authorized party (azp) {azp!r}: expected {client_id!r}")


def verified_launch(id_token: str, platform: LtiPlatform, nonce: str, now: float | None = None) -> dict[str, Any]:
    """The claims of `id_token` once every check passed; Unauthorized naming the first that failed."""
    if not id_token or len(id_token) > 64_000:
        raise Unauthorized("the launch carries no id_token (or one too large)")
    now = time.time() if now is None else now
    claims = _claims(id_token, platform)
    if claims.get("iss") != platform.issuer:
        raise Unauthorized(f"unknown issuer {claims.get('iss')!r}: this login began for {platform.issuer!r}")
    _check_audience(claims, platform.client_id)
    _check_times(claims, now)
    if claims.get("nonce") != nonce:
        raise Unauthorized("the id_token's nonce is not this login's (a replayed or foreign token)")
    deployment = claims.get(DEPLOYMENT_ID)
    if deployment not in platform.deployment_ids:
        raise Unauthorized(f"unknown deployment {deployment!r}: register it with the platform "
                           "(grader lti add-platform --deployment-id)")
    if claims.get(MESSAGE_TYPE) not in MESSAGE_TYPES:
        raise Unauthorized(f"unsupported LTI message type {claims.get(MESSAGE_TYPE)!r}: expected one of "
                           f"{', '.join(MESSAGE_TYPES)}")
    if claims.get(VERSION) != "1.3.0":
        raise Unauthorized(f"unsupported LTI version {claims.get(VERSION)!r}: expected 1.3.0")
    if not isinstance(claims.get("sub"), str) or not claims["sub"] or len(claims["sub"]) > 255:
        raise Unauthorized("the id_token names no user (sub)")
    return claims
