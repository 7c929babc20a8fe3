"""The launch, end to end: use up the login's state, verify the id_token against it, and sign the platform's
user in here (a web session, as grader.auth does). Pure over a Session: the route sets the cookie."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from ...auth.sessions import start_session
from ...courses.service import get_assignment
from ...db.models import CourseRole, LtiPlatform
from ...errors import NotFound
from .accounts import Launched, launch_member
from .claims import CUSTOM, DEEP_LINKING_REQUEST, MESSAGE_TYPE, verified_launch
from .login import use_state
from .tasks import schedule_roster_sync


@dataclass(frozen=True)
class SignedIn:
    launched: Launched
    cookie_secret: str
    landing: str
    platform: LtiPlatform
    claims: dict[str, Any]

    @property
    def deep_linking(self) -> bool:
        return self.claims.get(MESSAGE_TYPE) == DEEP_LINKING_REQUEST


def complete_launch(session: Session, id_token: str, state: str, lifetime: timedelta) -> SignedIn:
    """Verify the launch and sign its user in; Unauthorized / BadRequest / Forbidden naming the reason."""
    platform, nonce = use_state(session, state)
    claims = verified_launch(id_token, platform, nonce)
    launched = launch_member(session, platform, claims)
    _, secret = start_session(session, launched.user, lifetime)
    landing = landing_page(session, launched, claims)
    if launched.role != CourseRole.student:
        # Staff launched: the roster follows the LMS's, fetched by a worker once this launch is committed.
        schedule_roster_sync(session, launched.course.slug)
    return SignedIn(launched=launched, cookie_secret=secret, landing=landing, platform=platform, claims=claims)


def landing_page(session: Session, launched: Launched, claims: dict[str, Any]) -> str:
    """Where the launch opens: the link's assignment (custom parameter `assignment`) on the student's page, or
    that course and assignment on the instructor page; the page alone when the link names none here."""
    course = launched.course
    custom = claims.get(CUSTOM)
    slug = custom.get("assignment") if isinstance(custom, dict) else None
    if isinstance(slug, str) and slug:
        try:
            slug = get_assignment(session, slug, course_slug=course.slug).slug
        except NotFound:
            slug = None
    else:
        slug = None
    if launched.role == CourseRole.student:
        return "/" if slug is None else "/?" + urlencode({"assignment": f"{course.slug}/{slug}"})
    query = {"course": course.slug} | ({} if slug is None else {"assignment": slug})
    return "/instructor?" + urlencode(query)
