"""The launch, end to end: use up the login's state, verify the id_token against it, and sign the platform's
user in here (a web session, as grader.auth does). Pure over a Session: the route sets the cookie."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from ...auth.sessions import start_session
from ...db.models import CourseRole, LtiPlatform
from .accounts import Launched, launch_member
from .claims import DEEP_LINKING_REQUEST, MESSAGE_TYPE, verified_launch
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
    landing = "/" if launched.role == CourseRole.student else "/instructor"
    if launched.role != CourseRole.student:
        # Staff launched: the roster follows the LMS's, fetched by a worker once this launch is committed.
        schedule_roster_sync(session, launched.course.slug)
    return SignedIn(launched=launched, cookie_secret=secret, landing=landing, platform=platform, claims=claims)
