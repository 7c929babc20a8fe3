"""Deep Linking 2.0: an instructor adding the tool to an LMS course picks which of our assignments the new
activity is; the answer (a JWT signed with the tool's key) makes the LMS create the link, with our custom
parameters and a line item whose maximum is the assignment's.

The launch answers with a page of the course's assignments. What the LMS asked (its return URL and `data`) goes
into the form as a ticket: a short-lived JWT signed with our own key and bound to this user and course, so the
choice needs no server-side state and cannot be redirected elsewhere."""

from __future__ import annotations

import html
import secrets
import time
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...courses.service import get_assignment, staff_course
from ...db.models import Assignment, Course, CourseRole, LtiPlatform, User, WebSession
from ...errors import BadRequest, Forbidden, NotFound
from .claims import DEEP_LINKING_SETTINGS, DEPLOYMENT_ID, LTI
from .keys import ALGORITHM, public_jwks, signing_key
from .launch import SignedIn
from .line_items import assignment_maximum

TICKET_AUDIENCE = "grader-lti-deep-link"
TICKET_SECONDS = 30 * 60
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"


def _sign(session: Session, claims: dict[str, Any]) -> str:
    kid, key = signing_key(session)
    return jwt.encode({"alg": ALGORITHM, "kid": kid, "typ": "JWT"}, claims, key)


def deep_linking_page(session: Session, request: Request, signed_in: SignedIn, csrf_token: str) -> Response:
    """The page an instructor picks an assignment on (staff only: a student gets 403)."""
    launched = signed_in.launched
    if launched.role == CourseRole.student:
        raise Forbidden("only course staff can add the grader to an LMS course")
    settings = signed_in.claims.get(DEEP_LINKING_SETTINGS)
    if not isinstance(settings, dict) or not isinstance(settings.get("deep_link_return_url"), str):
        raise BadRequest("the deep-linking launch carries no deep_link_return_url")
    if "ltiResourceLink" not in settings.get("accept_types", ["ltiResourceLink"]):
        raise BadRequest("the LMS does not accept LTI resource links here (accept_types)")
    now = int(time.time())
    ticket = _sign(session, {
        "aud": TICKET_AUDIENCE, "sub": str(launched.user.id), "course": launched.course.id,
        "platform": signed_in.platform.id, "deployment": signed_in.claims.get(DEPLOYMENT_ID),
        "return_url": settings["deep_link_return_url"], "data": settings.get("data"),
        "iat": now, "exp": now + TICKET_SECONDS})
    assignments = session.scalars(select(Assignment).where(Assignment.course_id == launched.course.id,
                                                           Assignment.archived_at.is_(None))
                                  .order_by(Assignment.slug)).all()
    options = "".join(f'<option value="{html.escape(a.slug)}">{html.escape(a.title)} ({html.escape(a.slug)})'
                      f"</option>" for a in assignments)
    return HTMLResponse(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Add a grader assignment</title>"
        f"<h1>Add an assignment of {html.escape(launched.course.name)}</h1>"
        '<form method="post" action="/lti/deep-link">'
        f'<input type="hidden" name="ticket" value="{html.escape(ticket)}">'
        f'<input type="hidden" name="csrf_token" value="{html.escape(csrf_token)}">'
        '<label for="assignment">Assignment</label> '
        f'<select id="assignment" name="assignment" required>{options}</select> '
        "<button>Add to the LMS course</button></form></html>")


def _ticket(session: Session, ticket: str) -> dict[str, Any]:
    try:
        token = jwt.decode(ticket, KeySet.import_key_set(public_jwks(session)), algorithms=[ALGORITHM])
    except (JoseError, ValueError):
        raise BadRequest("the deep-linking form is not ours or was changed: start again from the LMS") from None
    claims = dict(token.claims)
    if claims.get("aud") != TICKET_AUDIENCE or not isinstance(claims.get("exp"), int) \
            or claims["exp"] < time.time():
        raise BadRequest("the deep-linking form expired: start again from the LMS")
    return claims


def deep_link_response(session: Session, user: User, ticket: str, assignment_slug: str,
                       launch_url: str) -> Response:
    """The auto-posting form that hands the LMS the chosen assignment as an ltiResourceLink with a line item."""
    claims = _ticket(session, ticket)
    if claims.get("sub") != str(user.id):
        raise Forbidden("this deep-linking form was made for another person")
    course = session.get(Course, claims.get("course"))
    platform = session.get(LtiPlatform, claims.get("platform"))
    if course is None or platform is None:
        raise NotFound("the course or LMS registration of this form is gone")
    _, role = staff_course(session, user, course.slug)
    if role == CourseRole.student:
        raise Forbidden("only course staff can add the grader to an LMS course")
    try:
        assignment = get_assignment(session, assignment_slug, course_slug=course.slug)
    except NotFound:
        raise BadRequest(f"no assignment {assignment_slug!r} in course {course.slug!r}") from None
    item = {"type": "ltiResourceLink", "title": assignment.title, "url": launch_url,
            "custom": {"course": course.slug, "assignment": assignment.slug},
            "lineItem": {"scoreMaximum": assignment_maximum(session, assignment), "label": assignment.title,
                         "resourceId": f"{course.slug}/{assignment.slug}"}}
    now = int(time.time())
    message: dict[str, Any] = {
        "iss": platform.client_id, "aud": platform.issuer, "azp": platform.client_id, "iat": now, "exp": now + 300,
        "nonce": secrets.token_urlsafe(16), DEPLOYMENT_ID: claims.get("deployment"),
        LTI + "message_type": DEEP_LINKING_RESPONSE, LTI + "version": "1.3.0",
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": [item]}
    if claims.get("data") is not None:
        message["https://purl.imsglobal.org/spec/lti-dl/claim/data"] = claims["data"]
    token = _sign(session, message)
    return HTMLResponse(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Returning to the LMS</title>"
        f'<form id="return" method="post" action="{html.escape(claims["return_url"])}">'
        f'<input type="hidden" name="JWT" value="{html.escape(token)}"><button>Return to the LMS</button></form>'
        "<script>document.getElementById('return').submit()</script></html>")


def session_csrf(session: Session, secret: str) -> str:
    from ...users.service import hash_token

    row = session.scalar(select(WebSession).where(WebSession.token_hash == hash_token(secret)))
    assert row is not None
    return row.csrf_token
