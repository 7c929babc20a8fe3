"""The LTI routes (docs/lms.md, "LTI 1.3"): the tool's keys and config, the OIDC login and the launch, and the
registrations for admins (whole install) and instructors (their course). One service call each."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from ...api.deps import CurrentUser, DbSession
from ...auth.cookies import cookie_secure
from ...auth.sessions import COOKIE_NAME
from ...settings import get_settings
from . import registrations
from .keys import public_jwks
from .launch import complete_launch
from .login import start_login
from .state_cookie import check_state_cookie, clear_state_cookie, set_state_cookie
from .tool_config import tool_config

router = APIRouter(tags=["lti"])


def _base_url(request: Request) -> str:
    return (get_settings().public_url or str(request.base_url)).rstrip("/")


@router.get("/lti/jwks")
def jwks(session: DbSession) -> JSONResponse:
    return JSONResponse(public_jwks(session), headers={"Cache-Control": "public, max-age=300"})


@router.get("/lti/config")
def config(request: Request) -> dict[str, Any]:
    return tool_config(_base_url(request))


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


# The form is read by an async dependency, the routes are sync: FastAPI runs them in its thread pool, so the
# database and the fetch of a platform's keys never block the event loop.
Params = Annotated[dict[str, str], Depends(_params)]


def _login(request: Request, session: DbSession, params: dict[str, str]) -> Response:
    url, state = start_login(session, params, _base_url(request) + "/lti/launch")
    response = RedirectResponse(url, status_code=302)
    set_state_cookie(response, request, state)
    return response


# The platform may start the login with a GET or a form POST (LTI 1.3, 5.1.1): the same parameters either way.
@router.get("/lti/login", response_class=RedirectResponse, status_code=302)
def login_get(request: Request, session: DbSession, params: Params) -> Response:
    return _login(request, session, params)


@router.post("/lti/login", response_class=RedirectResponse, status_code=302)
def login_post(request: Request, session: DbSession, params: Params) -> Response:
    return _login(request, session, params)


@router.post("/lti/launch", response_class=RedirectResponse, status_code=303)
def launch(request: Request, session: DbSession, form: Params) -> Response:
    lifetime = timedelta(days=get_settings().session_days)
    state = form.get("state", "")
    check_state_cookie(request, state)
    signed_in = complete_launch(session, form.get("id_token", ""), state, lifetime)
    if signed_in.deep_linking:
        from .deep_linking import deep_linking_page, session_csrf

        csrf = session_csrf(session, signed_in.cookie_secret)
        response: Response = deep_linking_page(session, request, signed_in, csrf)
    else:
        response = RedirectResponse(signed_in.landing, status_code=303)
    secure = cookie_secure(request)
    # Inside the LMS's iframe the cookie is third-party: only SameSite=None (which browsers accept only with
    # Secure) is sent there. Over plain http it stays Lax: the tool link must open in a new window.
    response.set_cookie(COOKIE_NAME, signed_in.cookie_secret, max_age=int(lifetime.total_seconds()), path="/",
                        httponly=True, samesite="none" if secure else "lax", secure=secure)
    clear_state_cookie(response, request, state)
    return response


class PlatformIn(BaseModel):
    issuer: str = Field(max_length=500)
    client_id: str = Field(max_length=255)
    deployment_ids: list[str] = Field(min_length=1, max_length=50)
    jwks_url: str = Field(max_length=1000)
    auth_url: str = Field(max_length=1000)
    token_url: str = Field(max_length=1000)


@router.get("/api/v1/admin/lti/platforms")
def admin_platforms(session: DbSession, user: CurrentUser) -> dict[str, Any]:
    return registrations.admin_list(session, user)


@router.post("/api/v1/admin/lti/platforms", status_code=201)
def admin_add_platform(body: PlatformIn, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    return registrations.admin_add(session, user, body.model_dump())


@router.get("/api/v1/instructor/courses/{course}/lti/platforms")
def course_platforms(course: str, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    return registrations.course_list(session, user, course)


@router.post("/api/v1/instructor/courses/{course}/lti/platforms", status_code=201)
def course_add_platform(course: str, body: PlatformIn, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    return registrations.course_add(session, user, course, body.model_dump())


@router.post("/api/v1/instructor/courses/{course}/lti/roster-sync")
def roster_sync(course: str, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    from .nrps import staff_sync

    return staff_sync(session, user, course)


@router.post("/lti/deep-link", response_class=HTMLResponse)
def deep_link(request: Request, session: DbSession, user: CurrentUser, form: Params) -> Response:
    from .deep_linking import deep_link_response

    return deep_link_response(session, user, form.get("ticket", ""), form.get("assignment", ""),
                              _base_url(request) + "/lti/launch")
