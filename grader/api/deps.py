"""The app's request dependencies: one database transaction per request, and who is asking.

A request is authenticated by an API token (`Authorization: Bearer tt_...`) or by a signed-in browser's
`tt_session` cookie (docs/sign-in.md). A cookie-authenticated request that changes something (POST, PUT,
PATCH, DELETE) must also carry the session's CSRF token (X-CSRF-Token header, or a csrf_token form field) and,
when it says where it comes from (Origin, Referer), come from this site: else 403. Bearer requests need neither:
a browser never adds an Authorization header on its own, so a cross-site page cannot forge one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from ..auth import csrf, sessions
from ..auth.cookies import set_session_cookie
from ..db.models import User, WebSession
from ..db.session import get_sessionmaker
from ..errors import Unauthorized
from ..settings import get_settings
from ..users.service import authenticate

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def db_session() -> Iterator[Session]:
    # write=True: requests read then write (a token's last use, a new submission, a regrade); on SQLite they
    # queue for the write lock instead of failing. Routes that must commit before acting (enqueue) commit
    # themselves; what is left commits when the route returns.
    with get_sessionmaker(write=True)() as session:
        yield session
        session.commit()


# scope="function": the transaction commits when the route returns, before the response is sent (FastAPI's
# default runs a yield dependency's exit after sending), so a client that reads right after a 202 sees what it
# was told happened, and a commit that fails is the request's error, not a lost write after a 2xx.
DbSession = Annotated[Session, Depends(db_session, scope="function")]


async def csrf_form_field(request: Request) -> str | None:
    """The csrf_token field of a plain HTML form post, read only when it is the CSRF token that counts (a cookie
    request that changes something, with no X-CSRF-Token header). Async, so reading the body does not hold a
    thread; FastAPI has already parsed the form of a route with form fields, and this reuses it."""
    if (request.method in SAFE_METHODS or CSRF_HEADER in request.headers or "authorization" in request.headers
            or sessions.COOKIE_NAME not in request.cookies):
        return None
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Caller:
    """Who is asking, and how: `web_session` is their browser session, None for an API token."""

    user: User
    web_session: WebSession | None


def current_caller(request: Request, response: Response, session: DbSession,
                   form_csrf: Annotated[str | None, Depends(csrf_form_field)]) -> Caller:
    authorization = request.headers.get("authorization")
    if authorization is not None:
        # An Authorization header is the credential, even beside a cookie: a wrong token is 401, never the cookie.
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized()
        user = authenticate(session, token.strip())
        caller = Caller(user, None)
    else:
        secret = request.cookies.get(sessions.COOKIE_NAME)
        if not secret:
            raise Unauthorized("not signed in: send an API token (Authorization: Bearer tt_...) or sign in at "
                               "/sign-in")
        settings = get_settings()
        lifetime = timedelta(days=settings.session_days)
        web_session, user, slid = sessions.session_user(session, secret, lifetime)
        if request.method not in SAFE_METHODS:
            csrf.require_same_origin(request.headers, request.url.netloc, settings.public_url)
            sessions.require_csrf(web_session, request.headers.get(CSRF_HEADER) or form_csrf)
        if slid:  # the expiry moved: so does the cookie's, or the browser would drop it while the session lives
            set_session_cookie(response, request, secret, lifetime)
        caller = Caller(user, web_session)
    # End the transaction (and so SQLite's write lock) now: the route's own work, e.g. unpacking an upload,
    # must not hold it. The objects stay usable (expire_on_commit=False).
    session.commit()
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def current_user(caller: CurrentCaller) -> User:
    return caller.user


CurrentUser = Annotated[User, Depends(current_user)]

# The names the dashboard's routes use.
SessionDep = DbSession
UserDep = CurrentUser
