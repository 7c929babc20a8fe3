"""A course's webhook endpoints and their deliveries: what the API and the CLI do (functions over a Session;
flush, the caller commits). Who may: grader.lms.webhooks.access; the CLI is the operator's and skips it.

    endpoint = add_endpoint(session, course, "https://lms.example.edu/hook", ["submission.graded"])
    endpoint.secret                              # whsec_...: shown once, to set up the receiver
    redeliver(session, delivery)                 # the same event (same webhook-id), sent after the commit
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db.models import Course, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookState
from ...errors import BadRequest, Conflict, NotFound
from ..events import EVENT_KINDS
from .outbox import send_after_commit

MAX_URL_CHARS = 2000
MAX_ENDPOINTS_PER_COURSE = 20
SECRET_BYTES = 24
DELIVERIES_SHOWN = 100


def new_secret() -> str:
    """Standard Webhooks' format: whsec_ + base64 of random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def checked_url(url: Any) -> str:
    """An absolute http(s) URL with a host and no credentials, else BadRequest naming the problem."""
    if not isinstance(url, str) or not url.strip():
        raise BadRequest("url is required: the receiver's http:// or https:// address")
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        raise BadRequest(f"url must be at most {MAX_URL_CHARS} characters, not {len(url)}")
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise BadRequest("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError as error:
        raise BadRequest(f"url is not a valid URL: {error}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BadRequest(f"url must be http:// or https://, not {parts.scheme or 'no scheme'}: {url!r}")
    if not parts.hostname:
        raise BadRequest(f"url must name a host: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise BadRequest("url must not hold a user name or password: the signature authenticates the sender")
    return url


def checked_events(events: Any) -> list[str]:
    """The event kinds asked for (None: all of them), else BadRequest naming the unknown one."""
    if events is None:
        return list(EVENT_KINDS)
    if isinstance(events, str):
        events = [part.strip() for part in events.split(",") if part.strip()]
    if not isinstance(events, list | tuple) or not events:
        raise BadRequest(f"events must be a non-empty list of {', '.join(EVENT_KINDS)}")
    chosen: list[str] = []
    for kind in events:
        if kind not in EVENT_KINDS:
            raise BadRequest(f"events: {kind!r} is not one of {', '.join(EVENT_KINDS)}")
        if kind not in chosen:
            chosen.append(kind)
    return chosen


def add_endpoint(session: Session, course: Course, url: Any, events: Any = None) -> WebhookEndpoint:
    url, kinds = checked_url(url), checked_events(events)
    count = len(session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.course_id == course.id)).all())
    if count >= MAX_ENDPOINTS_PER_COURSE:
        raise Conflict(f"course {course.slug} has {count} webhook endpoints already, the most it may have")
    endpoint = WebhookEndpoint(course_id=course.id, url=url, secret=new_secret(), events=kinds)
    session.add(endpoint)
    session.flush()
    return endpoint


def course_endpoints(session: Session, course: Course) -> Sequence[WebhookEndpoint]:
    return session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.course_id == course.id)
                           .order_by(WebhookEndpoint.id)).all()


def course_endpoint(session: Session, course: Course, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.course_id != course.id:
        raise NotFound(f"no webhook endpoint {endpoint_id} in course {course.slug}")
    return endpoint


def remove_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    """Gone with its deliveries and their attempts (nothing more is sent there)."""
    session.delete(endpoint)
    session.flush()


def get_delivery(session: Session, delivery_id: int) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    return delivery


def redeliver(session: Session, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the delivery's event again now (the same webhook-id: receivers that have it ignore it), with a fresh
    set of tries; its task goes out after the commit. Conflict while the endpoint is disabled."""
    endpoint = delivery.endpoint
    if endpoint.disabled_at is not None:
        raise Conflict(f"webhook endpoint {endpoint.id} is disabled ({endpoint.disabled_reason}): add the "
                       "receiver's URL again to send to it")
    delivery.state = WebhookState.pending.value
    delivery.tries = 0
    delivery.next_attempt_at = datetime.now(UTC)
    delivery.enqueued_at = None
    session.flush()
    send_after_commit(session, [delivery.id])
    return delivery


def endpoint_json(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    """The listing; the secret only when the endpoint is made (it is the receiver's to keep)."""
    shown: dict[str, Any] = {
        "id": endpoint.id, "url": endpoint.url, "events": list(endpoint.events or []),
        "status": "disabled" if endpoint.disabled_at is not None else "active",
        "disabled_at": _iso(endpoint.disabled_at), "disabled_reason": endpoint.disabled_reason,
        "created_at": _iso(endpoint.created_at),
    }
    if with_secret:
        shown["secret"] = endpoint.secret
    return shown


def deliveries_json(session: Session, endpoint: WebhookEndpoint) -> list[dict[str, Any]]:
    """The endpoint's latest deliveries, newest first, each with its attempts."""
    deliveries = session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
                                 .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
                                 .limit(DELIVERIES_SHOWN)).all()
    attempts = session.scalars(select(WebhookAttempt)
                               .where(WebhookAttempt.delivery_id.in_([d.id for d in deliveries]))
                               .order_by(WebhookAttempt.id)).all() if deliveries else []
    by_delivery: dict[int, list[dict[str, Any]]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt.delivery_id, []).append({
            "at": _iso(attempt.started_at), "status_code": attempt.status_code, "latency_ms": attempt.latency_ms,
            "response_excerpt": attempt.response_excerpt, "error": attempt.error})
    return [{"id": d.id, "event_id": str(d.event_id), "event": d.event.kind,
             "submission_id": str(d.event.submission_id), "state": d.state, "tries": d.tries,
             "next_attempt_at": _iso(d.next_attempt_at),
             "delivered_at": _iso(d.delivered_at), "created_at": _iso(d.created_at),
             "attempts": by_delivery.get(d.id, [])} for d in deliveries]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()
