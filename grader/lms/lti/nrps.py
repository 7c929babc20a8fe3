"""Names and Role Provisioning Services: the LMS course's roster, fetched with a service token, becomes the
course's enrolments here (new members enrolled with their LMS role, roles updated, members the LMS marks
Inactive or Deleted dropped). Run from the instructor's button, and as a task after each staff launch."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...courses.service import enroll, get_course, instructor_course
from ...db.base import utcnow
from ...db.models import Course, Enrollment, LtiContext, LtiPlatform, User
from ...errors import BadRequest, GraderError
from .accounts import course_role_from, user_for
from .nrps_scope import NRPS_SCOPE
from .service_token import access_token

MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
_MAX_PAGES = 50
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


@dataclass
class RosterSync:
    enrolled: int = 0
    dropped: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"enrolled": self.enrolled, "dropped": self.dropped, "skipped": self.skipped}


def _members(session: Session, platform: LtiPlatform, url: str, http: httpx.Client) -> list[dict[str, Any]]:
    token = access_token(session, platform, [NRPS_SCOPE], http)
    members: list[dict[str, Any]] = []
    next_url: str | None = url
    for _ in range(_MAX_PAGES):
        if next_url is None:
            break
        response = http.get(next_url, headers={"Authorization": f"Bearer {token}", "Accept": MEDIA_TYPE})
        if response.status_code != 200:
            # The status only, never the body: a registration's URLs are an instructor's input, and the answer
            # of whatever they point at must not come back to them.
            raise BadRequest(f"the LMS refused the roster (HTTP {response.status_code} from {next_url})")
        body = response.json()
        members.extend(m for m in body.get("members", []) if isinstance(m, dict))
        found = _NEXT.search(response.headers.get("link", ""))
        next_url = found.group(1) if found else None
    return members


def sync_context(session: Session, context: LtiContext, http: httpx.Client) -> RosterSync:
    """Bring the course's enrolments in line with the LMS roster of `context`."""
    platform = session.get(LtiPlatform, context.platform_id)
    course = session.get(Course, context.course_id)
    assert platform is not None and course is not None
    if context.memberships_url is None:
        raise BadRequest("the LMS offered no roster service (NRPS) in its launches of this course")
    result = RosterSync()
    try:
        members = _members(session, platform, context.memberships_url, http)
    except (httpx.HTTPError, ValueError) as error:
        raise BadRequest(f"could not fetch the roster from the LMS ({type(error).__name__})") from None
    for member in members:
        sub = member.get("user_id")
        if not isinstance(sub, str) or not sub:
            continue
        try:
            with session.begin_nested():
                user = user_for(session, platform, sub, member.get("email"), member.get("name"))
                if member.get("status", "Active") in ("Inactive", "Deleted"):
                    result.dropped += _drop(session, user, course)
                else:
                    enroll(session, user, course, course_role_from(member.get("roles")))
                    result.enrolled += 1
        except GraderError as error:  # no email, or an account this registration may not link
            result.skipped.append(f"{member.get('name') or sub}: {error.detail}")
    context.updated_at = utcnow()
    session.flush()
    return result


def _drop(session: Session, user: User, course: Course) -> int:
    enrollment = session.scalar(select(Enrollment).where(Enrollment.user_id == user.id,
                                                         Enrollment.course_id == course.id))
    if enrollment is None or enrollment.dropped_at is not None:
        return 0
    enrollment.dropped_at = utcnow()
    session.flush()
    return 1


def sync_course(session: Session, course: Course, http: httpx.Client | None = None) -> RosterSync:
    contexts = session.scalars(select(LtiContext).where(LtiContext.course_id == course.id,
                                                        LtiContext.memberships_url.is_not(None))).all()
    if not contexts:
        raise BadRequest(f"no LMS has launched course {course.slug!r} with a roster service yet: launch the tool "
                         "from the LMS course first")
    total = RosterSync()
    client = http or httpx.Client(timeout=15.0)
    try:
        for context in contexts:
            part = sync_context(session, context, client)
            total.enrolled += part.enrolled
            total.dropped += part.dropped
            total.skipped.extend(part.skipped)
    finally:
        if http is None:
            client.close()
    return total


def staff_sync(session: Session, user: User, slug: str, http: httpx.Client | None = None) -> dict[str, Any]:
    """The instructor's button: sync course `slug` from every LMS course that launched into it."""
    return sync_course(session, instructor_course(session, user, slug), http).as_json()


def sync_course_by_slug(session: Session, slug: str) -> dict[str, Any]:
    return sync_course(session, get_course(session, slug)).as_json()
