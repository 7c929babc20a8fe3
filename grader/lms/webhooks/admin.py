"""What the webhook routes do, one function per route: check who is asking, do it, answer JSON. Instructors
change; TAs read; students get 403, people with no role in the course 404 (grader.courses.service)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ...courses.service import instructor_course, staff_course
from ...db.models import Course, User
from ...errors import NotFound
from . import endpoints


def add(session: Session, user: User, slug: str, url: Any, events: Any) -> dict[str, Any]:
    course = instructor_course(session, user, slug)
    return endpoints.endpoint_json(endpoints.add_endpoint(session, course, url, events), with_secret=True)


def listing(session: Session, user: User, slug: str) -> list[dict[str, Any]]:
    course, _ = staff_course(session, user, slug)
    return [endpoints.endpoint_json(endpoint) for endpoint in endpoints.course_endpoints(session, course)]


def remove(session: Session, user: User, slug: str, endpoint_id: int) -> None:
    course = instructor_course(session, user, slug)
    endpoints.remove_endpoint(session, endpoints.course_endpoint(session, course, endpoint_id))


def deliveries(session: Session, user: User, slug: str, endpoint_id: int) -> list[dict[str, Any]]:
    course, _ = staff_course(session, user, slug)
    return endpoints.deliveries_json(session, endpoints.course_endpoint(session, course, endpoint_id))


def redeliver(session: Session, user: User, delivery_id: int) -> dict[str, Any]:
    delivery = endpoints.get_delivery(session, delivery_id)
    course = session.get(Course, delivery.endpoint.course_id)
    try:
        instructor_course(session, user, course.slug if course is not None else "")
    except NotFound:
        raise NotFound(f"no webhook delivery {delivery_id}") from None  # another course's: none of theirs
    endpoints.redeliver(session, delivery)
    return {"id": delivery.id, "state": delivery.state, "event_id": str(delivery.event_id)}
