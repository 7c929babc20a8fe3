"""Platform registrations: which LMS (issuer + client id) may launch this tool, from which deployments, where its
keys, login and token endpoints are, and which course its launches land in (None: the launch names it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...courses.service import get_course
from ...db.models import Course, LtiPlatform
from ...errors import BadRequest, Conflict, NotFound


def _url(value: str, what: str) -> str:
    value = (value or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or len(value) > 1000:
        raise BadRequest(f"{what} must be an http(s) URL of at most 1000 characters, not {value!r}")
    return value


def _text(value: str, what: str, limit: int) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit or any(ord(c) < 32 for c in value):
        raise BadRequest(f"{what} must be 1 to {limit} printable characters, not {value!r}")
    return value


def add_platform(session: Session, *, issuer: str, client_id: str, deployment_ids: Sequence[str], jwks_url: str,
                 auth_url: str, token_url: str, course: Course | None = None) -> LtiPlatform:
    """Register a platform (Conflict if its issuer and client id are registered already)."""
    deployments = [_text(d, "a deployment id", 255) for d in deployment_ids]
    if not deployments:
        raise BadRequest("a registration needs at least one deployment id (the LMS shows it on the tool's page)")
    row = LtiPlatform(issuer=_text(issuer, "the issuer", 500), client_id=_text(client_id, "the client id", 255),
                      deployment_ids=sorted(set(deployments)), jwks_url=_url(jwks_url, "the JWKS URL"),
                      auth_url=_url(auth_url, "the auth (OIDC) URL"), token_url=_url(token_url, "the token URL"),
                      course_id=course.id if course is not None else None)
    existing = session.scalar(select(LtiPlatform.id).where(LtiPlatform.issuer == row.issuer,
                                                           LtiPlatform.client_id == row.client_id))
    if existing is not None:
        raise Conflict(f"issuer {row.issuer!r} with client id {row.client_id!r} is registered already "
                       f"(registration {existing})")
    session.add(row)
    session.flush()
    return row


def add_platform_for_course_slug(session: Session, course_slug: str | None, **fields: Any) -> LtiPlatform:
    course = get_course(session, course_slug) if course_slug else None
    return add_platform(session, course=course, **fields)


def list_platforms(session: Session, course: Course | None = None) -> Sequence[LtiPlatform]:
    query = select(LtiPlatform).order_by(LtiPlatform.id)
    if course is not None:
        query = query.where(LtiPlatform.course_id == course.id)
    return session.scalars(query).all()


def platforms_for_issuer(session: Session, issuer: str, client_id: str | None) -> LtiPlatform:
    """The registration a login names. The issuer alone is enough only when it has one registration."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        query = query.where(LtiPlatform.client_id == client_id)
    found = session.scalars(query.limit(2)).all()
    if not found:
        raise BadRequest(f"unknown LTI platform: issuer {issuer!r}"
                         + (f" with client id {client_id!r}" if client_id else "") + " is not registered here")
    if len(found) > 1:
        raise BadRequest(f"issuer {issuer!r} has several registrations here: the login must name its client_id")
    return found[0]


def get_platform(session: Session, platform_id: int) -> LtiPlatform:
    row = session.get(LtiPlatform, platform_id)
    if row is None:
        raise NotFound(f"no LTI registration {platform_id}")
    return row


def platform_json(row: LtiPlatform, course_slug: str | None = None) -> dict[str, Any]:
    return {"id": row.id, "issuer": row.issuer, "client_id": row.client_id, "deployment_ids": row.deployment_ids,
            "jwks_url": row.jwks_url, "auth_url": row.auth_url, "token_url": row.token_url, "course": course_slug}
