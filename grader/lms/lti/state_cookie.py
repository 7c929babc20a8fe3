"""Binding a login's state to the browser that started it (OIDC's defence against login CSRF: someone else's
id_token posted from another site must not sign this browser in as them).

/lti/login sets a cookie named after the state's hash holding the state; /lti/launch requires it when cookies
can cross sites (https: SameSite=None; Secure). Over plain http a cross-site form post carries no Lax cookie, so
the check cannot be made there: plain http is for trials on one machine, and docs/lms.md says so."""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import Response

from ...auth.cookies import cookie_secure
from ...errors import Unauthorized
from .login import STATE_LIFETIME

_PREFIX = "tt_lti_"


def _name(state: str) -> str:
    # One cookie per login: two launches in two tabs do not overwrite each other's.
    return _PREFIX + hashlib.sha256(state.encode()).hexdigest()[:16]


def set_state_cookie(response: Response, request: Request, state: str) -> None:
    secure = cookie_secure(request)
    response.set_cookie(_name(state), state, max_age=int(STATE_LIFETIME.total_seconds()), path="/lti/",
                        httponly=True, samesite="none" if secure else "lax", secure=secure)


def check_state_cookie(request: Request, state: str) -> None:
    """Unauthorized when the browser posting the launch is not the one that started its login (https only)."""
    if not cookie_secure(request):
        return
    given = request.cookies.get(_name(state or ""))
    if not given or not hmac.compare_digest(given.encode(), (state or "").encode()):
        raise Unauthorized("this browser did not start the LTI login (its state cookie is missing): if the LMS "
                           "shows the tool in a frame and the browser blocks third-party cookies, set the tool "
                           "to open in a new window")


def clear_state_cookie(response: Response, request: Request, state: str) -> None:
    secure = cookie_secure(request)
    response.delete_cookie(_name(state), path="/lti/", httponly=True, samesite="none" if secure else "lax",
                           secure=secure)
