"""The sign-in pages: /sign-in (a link by email, or an API token) and /sign-in/link (the button that uses a
link). Plain HTML forms, no script needed; errors come back as the same page with the message in a role=alert."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..api.deps import DbSession
from ..errors import Unauthorized
from ..web.routes import _asset_version, templates
from . import links

router = APIRouter(include_in_schema=False)
# The link page's URL holds the link's secret: no cached copy, and no Referer naming it to another site.
# "same-origin", not "no-referrer": under no-referrer a browser sends `Origin: null` with the page's own form
# posts, which the Origin check (grader.auth.csrf) must refuse.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}


def wants_page(request: Request) -> bool:
    """A browser's own form post or navigation (it asks for HTML), not a script (JSON or */*)."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def sign_in_page(request: Request, *, notice: str | None = None, error: str | None = None,
                 error_field: str | None = None, email: str = "", status_code: int = 200,
                 headers: dict[str, str] | None = None) -> HTMLResponse:
    context = {"version": _asset_version(), "page": "sign-in", "notice": notice, "error": error,
               "error_field": error_field, "email": email[:254]}
    return templates.TemplateResponse(request, "sign_in.html", context, status_code=status_code,
                                      headers={**PRIVATE, **(headers or {})})


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request) -> HTMLResponse:
    return sign_in_page(request)


@router.get("/sign-in/link", response_class=HTMLResponse)
def sign_in_link(request: Request, session: DbSession, token: str = "") -> HTMLResponse:
    """Who the link signs in as, and one button to do it. Looking is all a GET does: mail scanners open links."""
    try:
        user, link = links.link_user(session, token)
    except Unauthorized as error:
        return sign_in_page(request, error=error.detail, status_code=error.status_code)
    context = {"version": _asset_version(), "page": "sign-in", "link_email": user.email, "token": token,
               "expires_at": link.expires_at}
    return templates.TemplateResponse(request, "sign_in.html", context, headers=PRIVATE)
