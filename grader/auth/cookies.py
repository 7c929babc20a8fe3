"""The `tt_session` cookie: HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site posts), Path=/,
and Secure on https (or when the operator says the service is reached over https)."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from ..settings import get_settings
from .sessions import COOKIE_NAME


def cookie_secure(request: Request) -> bool:
    settings = get_settings()
    return (request.url.scheme == "https" or settings.session_cookie_secure
            or (settings.public_url or "").lower().startswith("https://"))


def set_session_cookie(response: Response, request: Request, secret: str, lifetime: timedelta) -> None:
    response.set_cookie(COOKIE_NAME, secret, max_age=int(lifetime.total_seconds()), path="/", httponly=True,
                        samesite="lax", secure=cookie_secure(request))


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=cookie_secure(request))
