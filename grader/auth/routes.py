"""The sign-in routes (docs/course-api.md, "Sign-in"): asking for and using one-time links, signing in with an API
token, signing out, /api/v1/me, rotating one's token, and the links course staff copy. Thin: one service call
each, plus the cookie and, for a browser's form post, the page instead of JSON."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from ..api.deps import CSRF_HEADER, CurrentCaller, CurrentUser, DbSession
from ..db.models import User
from ..errors import BadRequest, Forbidden, TooManyRequests, Unauthorized
from ..settings import get_settings
from ..users.service import authenticate
from . import account, csrf, links, pages, sessions, staff
from .cookies import clear_session_cookie, set_session_cookie
from .mail import SignInMail, mail_configured, send_sign_in_mail
from .schemas import Detail, EmailIn, NewToken, SignInLinkOut, SignOutIn, TokenIn, is_form, read_body

LINK_SENT = ("If this address belongs to an account here, a sign-in link is on its way to it; the link works once, "
             "for 30 minutes. Nothing after a few minutes? Check your spam folder, or ask your course staff for "
             "a sign-in link.")
ASK_STAFF = "This grader does not send email: ask your course staff for a sign-in link."
# What a browser's form post gets back as the sign-in page, with the message; everything else stays an error.
_SHOWN_ON_PAGE = (BadRequest, Unauthorized, Forbidden, TooManyRequests)

router = APIRouter(tags=["sign-in"])


def _documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI entry of a body these routes read themselves (JSON from scripts, a form from the pages), so the
    schema shows it and the errors a body can cause (400, 413, 422) are listed."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": schema}, "application/x-www-form-urlencoded": {"schema": schema}}}}


# A redirect has no body: declared so, not as the JSON FastAPI assumes.
_SIGNED_IN = {303: {"description": "signed in: the session cookie is set; to the page for the user's role"}}
router.include_router(pages.router)


async def _email_body(request: Request) -> EmailIn:
    return await read_body(request, EmailIn)


async def _token_body(request: Request) -> TokenIn:
    return await read_body(request, TokenIn)


async def _sign_out_body(request: Request) -> SignOutIn:
    return await read_body(request, SignOutIn)


def _same_site(request: Request) -> None:
    # The sign-in posts have no session to check a CSRF token against: a cross-site form must not sign a
    # browser in as someone else, nor mail links on another site's behalf.
    csrf.require_same_origin(request.headers, request.url.netloc, get_settings().public_url)


def _page_for_form(request: Request) -> bool:
    return is_form(request) and pages.wants_page(request)


def _base_url(request: Request) -> str:
    return get_settings().public_url or str(request.base_url)


def _signed_in(request: Request, session: DbSession, user: User) -> RedirectResponse:
    lifetime = timedelta(days=get_settings().session_days)
    _, secret = sessions.start_session(session, user, lifetime)
    response = RedirectResponse(staff.landing_path(session, user), status_code=303)
    set_session_cookie(response, request, secret, lifetime)
    return response


@router.post("/auth/link", status_code=202, response_model=Detail, openapi_extra=_documented_body(EmailIn))
def ask_for_link(request: Request, session: DbSession, body: Annotated[EmailIn, Depends(_email_body)],
                 background: BackgroundTasks) -> Response:
    settings = get_settings()
    mailing = mail_configured(settings)
    try:
        _same_site(request)
        client = request.client.host if request.client else "unknown"
        user, link, token = links.request_link(session, body.email, client, issue=mailing)
    except _SHOWN_ON_PAGE as error:
        if not _page_for_form(request):
            raise
        return pages.sign_in_page(request, error=error.detail, error_field="email", email=body.email,
                                  status_code=error.status_code, headers=error.headers)
    if user is not None and link is not None and token is not None:
        # After the answer is sent: a slow mail server delays nobody, and known and unknown addresses take the
        # same time to answer.
        mail = SignInMail(to=user.email, url=links.link_url(_base_url(request), token), expires_at=link.expires_at)
        background.add_task(send_sign_in_mail, mail, settings)
    detail = LINK_SENT if mailing else ASK_STAFF
    if _page_for_form(request):
        return pages.sign_in_page(request, notice=detail, status_code=202)
    return JSONResponse({"detail": detail}, status_code=202)


@router.post("/auth/link/redeem", status_code=303, response_class=RedirectResponse, responses=_SIGNED_IN,
             openapi_extra=_documented_body(TokenIn))
def redeem_link(request: Request, session: DbSession, body: Annotated[TokenIn, Depends(_token_body)]) -> Response:
    try:
        _same_site(request)
        user = links.redeem_link(session, body.token)
    except _SHOWN_ON_PAGE as error:
        if not _page_for_form(request):
            raise
        return pages.sign_in_page(request, error=error.detail, status_code=error.status_code)
    return _signed_in(request, session, user)


@router.post("/auth/token", status_code=303, response_class=RedirectResponse, responses=_SIGNED_IN,
             openapi_extra=_documented_body(TokenIn))
def sign_in_with_token(request: Request, session: DbSession,
                       body: Annotated[TokenIn, Depends(_token_body)]) -> Response:
    try:
        _same_site(request)
        user = authenticate(session, body.token.strip())
    except _SHOWN_ON_PAGE as error:
        if not _page_for_form(request):
            raise
        return pages.sign_in_page(request, error=error.detail, error_field="token", status_code=error.status_code)
    return _signed_in(request, session, user)


@router.post("/auth/sign-out", status_code=303, response_class=RedirectResponse,
             responses={303: {"description": "signed out; to /sign-in"}}, openapi_extra=_documented_body(SignOutIn))
def sign_out(request: Request, session: DbSession, body: Annotated[SignOutIn, Depends(_sign_out_body)]) -> Response:
    _same_site(request)
    secret = request.cookies.get(sessions.COOKIE_NAME)
    if secret:
        sessions.end_session(session, secret, request.headers.get(CSRF_HEADER) or body.csrf_token)
    response = RedirectResponse("/sign-in", status_code=303)
    clear_session_cookie(response, request)
    return response


@router.get("/api/v1/me")
def me(session: DbSession, caller: CurrentCaller) -> dict[str, Any]:
    return account.describe(session, caller.user, caller.web_session)


@router.post("/api/v1/me/token", status_code=201, response_model=NewToken)
def rotate_token(session: DbSession, user: CurrentUser) -> NewToken:
    row, token = account.rotate_token(session, user)
    return NewToken(token=token, prefix=row.prefix)


@router.post("/api/v1/instructor/courses/{course}/roster/{user_id}/sign-in-link", status_code=201,
             response_model=SignInLinkOut)
def staff_sign_in_link(request: Request, course: str, user_id: int, session: DbSession,
                       user: CurrentUser) -> SignInLinkOut:
    link, token = staff.staff_sign_in_link(session, user, course, user_id)
    return SignInLinkOut(url=links.link_url(_base_url(request), token), expires_at=link.expires_at)
