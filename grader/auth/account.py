"""The signed-in person's own account: what /api/v1/me shows, and replacing their API token."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..courses.service import course_role, courses_for
from ..db.models import ApiToken, User, WebSession
from ..users.service import issue_token, revoke_user_tokens


def describe(session: Session, user: User, web_session: WebSession | None) -> dict[str, Any]:
    """The /api/v1/me answer: who, their courses and roles, their live tokens (never a token itself), and the
    CSRF token when the request came with the session cookie (None for a Bearer request)."""
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                             .order_by(ApiToken.created_at, ApiToken.id)).all()
    courses = []
    for course in courses_for(session, user):
        role = course_role(session, user, course)
        courses.append({"slug": course.slug, "name": course.name, "role": role.value if role else None})
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "csrf_token": web_session.csrf_token if web_session is not None else None,
        "courses": courses,
        "tokens": [{"prefix": t.prefix, "label": t.label, "created_at": t.created_at, "last_used_at": t.last_used_at}
                   for t in tokens],
    }


def rotate_token(session: Session, user: User) -> tuple[ApiToken, str]:
    """A new API token for `user` (plaintext in the return value only); every older one is revoked. Web
    sessions stay signed in: they are not tokens."""
    revoke_user_tokens(session, user)
    return issue_token(session, user, label="rotated")
