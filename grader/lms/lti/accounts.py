"""What a verified launch does here: the platform's user becomes (or is linked to) a user of ours, enrolled in
the course the registration (or the launch's `course` custom parameter) names, with the role the platform
sends; an AGS line item named for an assignment is remembered for publishing scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...courses.service import course_role, enroll, get_assignment, get_course
from ...db.base import utcnow
from ...db.models import Course, CourseRole, Enrollment, LtiContext, LtiIdentity, LtiLineItem, LtiPlatform, Role, User
from ...errors import BadRequest, Forbidden, NotFound
from ...users.service import create_user, normalize_email
from .claims import AGS_ENDPOINT, CONTEXT, CUSTOM, NRPS, ROLES
from .line_items import LINEITEM_SCOPE, find_or_create_line_item

_MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"


@dataclass(frozen=True)
class Launched:
    user: User
    course: Course
    role: CourseRole


def course_role_from(roles: Any) -> CourseRole:
    """TeachingAssistant -> ta, Instructor (or Administrator) -> instructor, anything else -> student: the
    least a role we do not know can do."""
    values = [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []
    if any(r.endswith("#TeachingAssistant") for r in values):
        return CourseRole.ta
    staff = (f"{_MEMBERSHIP}#Instructor", f"{_MEMBERSHIP}#Administrator", "Instructor")
    if any(r in staff for r in values):
        return CourseRole.instructor
    return CourseRole.student


def _context_id(claims: dict[str, Any]) -> str | None:
    context = claims.get(CONTEXT)
    context_id = context.get("id") if isinstance(context, dict) else None
    return context_id if isinstance(context_id, str) and context_id and len(context_id) <= 255 else None


def _linked_course(session: Session, platform: LtiPlatform, claims: dict[str, Any], user: User,
                   role: CourseRole) -> Course:
    """The course of a whole-install registration's launch. The LMS course (context) is linked to ours by the
    first launch of one of our course's instructors (custom parameter course=SLUG); after that the link decides.
    Whoever can edit a link's custom parameters in the LMS must not be able to enter any course here by naming it.
    """
    context_id = _context_id(claims)
    if context_id is None:
        raise BadRequest("the launch names no LMS course (context claim): a registration for the whole install "
                         "needs one to know which of our courses it is")
    custom = claims.get(CUSTOM)
    slug = custom.get("course") if isinstance(custom, dict) else None
    slug = slug if isinstance(slug, str) and slug else None
    linked = session.scalar(select(LtiContext).where(LtiContext.platform_id == platform.id,
                                                     LtiContext.context_id == context_id))
    if linked is not None:
        course = session.get(Course, linked.course_id)
        assert course is not None  # the foreign key cascades
        if slug is not None and slug != course.slug:
            raise Forbidden(f"this LMS course is linked to our course {course.slug!r}, not {slug!r}")
        return course
    if slug is None:
        raise BadRequest("this LTI registration is for the whole install, so the launch must name our course in "
                         "the custom parameter course=SLUG (set it on the LMS's tool link)")
    try:
        course = get_course(session, slug)
    except NotFound:
        raise BadRequest(f"the launch's custom parameter course={slug!r} names no course here") from None
    if role != CourseRole.instructor or course_role(session, user, course) != CourseRole.instructor:
        raise Forbidden(f"this LMS course is not linked to our course {slug!r} yet: one of its instructors here "
                        "must launch the tool from the LMS first")
    return course


def _may_link_by_email(session: Session, platform: LtiPlatform, user: User) -> bool:
    # A per-course registration is set up by that course's instructor, who then controls what its tokens say:
    # its email claims must not reach site staff or anyone with a role in another course.
    if platform.course_id is None:
        return True
    if user.role != Role.student.value:
        return False
    elsewhere = select(Enrollment.id).where(Enrollment.user_id == user.id,
                                            Enrollment.course_id != platform.course_id)
    return session.scalar(elsewhere.limit(1)) is None


def user_for(session: Session, platform: LtiPlatform, sub: str, email: Any, name: Any) -> User:
    """The user the platform calls `sub`: known by it, else linked or created by `email` (then remembered)."""
    identity = session.scalar(select(LtiIdentity).where(LtiIdentity.platform_id == platform.id,
                                                        LtiIdentity.sub == sub))
    if identity is not None:
        user = session.get(User, identity.user_id)
        assert user is not None
        return user
    if not isinstance(email, str) or not email.strip():
        raise BadRequest("the platform sent no email for this user: we need it the first time to create or find "
                         "the account (turn on sharing the email with the tool in the LMS)")
    address = normalize_email(email)
    user = session.scalar(select(User).where(User.email == address))
    if user is None:
        user, _ = create_user(session, address, Role.student)
    elif not _may_link_by_email(session, platform, user):
        raise Forbidden(f"the account {address} has rights beyond this course, so a course's own LTI registration "
                        "cannot sign it in: ask the operator to register the LMS for the whole install")
    if user.name is None and isinstance(name, str) and name.strip():
        user.name = name.strip()[:200]
    session.add(LtiIdentity(platform_id=platform.id, sub=sub, user_id=user.id))
    session.flush()
    return user


def remember_context(session: Session, platform: LtiPlatform, course: Course, claims: dict[str, Any]) -> None:
    """Keep which LMS course launched into ours, with its roster (NRPS) URL when the launch offers one."""
    context_id, nrps = _context_id(claims), claims.get(NRPS)
    if context_id is None:
        return
    url = nrps.get("context_memberships_url") if isinstance(nrps, dict) else None
    url = url if isinstance(url, str) and url.startswith(("https://", "http://")) and len(url) <= 1000 else None
    row = session.scalar(select(LtiContext).where(LtiContext.platform_id == platform.id,
                                                  LtiContext.context_id == context_id))
    if row is None:
        session.add(LtiContext(platform_id=platform.id, context_id=context_id, course_id=course.id,
                               memberships_url=url))
    else:
        row.course_id, row.memberships_url, row.updated_at = course.id, url or row.memberships_url, utcnow()
    session.flush()


def remember_line_item(session: Session, platform: LtiPlatform, course: Course, claims: dict[str, Any]) -> None:
    """Keep the AGS line item for the assignment the custom parameter `assignment` names: the launch's
    `lineitem`, else (a link with only the container, and the line item scope) one found or made there."""
    endpoint = claims.get(AGS_ENDPOINT)
    custom = claims.get(CUSTOM)
    if not isinstance(endpoint, dict) or not isinstance(custom, dict) or not isinstance(custom.get("assignment"),
                                                                                        str):
        return
    slug = custom["assignment"]
    try:
        assignment = get_assignment(session, slug, course_slug=course.slug)
    except NotFound:
        raise BadRequest(f"the launch's custom parameter assignment={slug!r} names no assignment of course "
                         f"{course.slug!r}") from None
    scopes = [s for s in endpoint.get("scope", []) if isinstance(s, str)]
    row = session.scalar(select(LtiLineItem).where(LtiLineItem.platform_id == platform.id,
                                                   LtiLineItem.assignment_id == assignment.id))
    lineitem, container = endpoint.get("lineitem"), endpoint.get("lineitems")
    if not _http_url(lineitem):
        if row is not None or not _http_url(container) or LINEITEM_SCOPE not in scopes:
            return
        lineitem = find_or_create_line_item(session, platform, container, course, assignment)
    if row is None:
        session.add(LtiLineItem(platform_id=platform.id, assignment_id=assignment.id, lineitem_url=lineitem,
                                scopes=scopes))
    else:
        row.lineitem_url, row.scopes, row.updated_at = lineitem, scopes, utcnow()
    session.flush()


def _http_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= 1000


def launch_member(session: Session, platform: LtiPlatform, claims: dict[str, Any]) -> Launched:
    """The user this launch signs in, enrolled in its course with the platform's role."""
    role = course_role_from(claims.get(ROLES))
    user = user_for(session, platform, claims["sub"], claims.get("email"), claims.get("name"))
    if platform.course_id is not None:
        course = session.get(Course, platform.course_id)
        assert course is not None  # the foreign key cascades
    else:
        course = _linked_course(session, platform, claims, user, role)
    if course.archived_at is not None:
        raise Forbidden(f"course {course.slug!r} is archived")
    enroll(session, user, course, role)
    remember_line_item(session, platform, course, claims)
    remember_context(session, platform, course, claims)
    return Launched(user=user, course=course, role=role)
