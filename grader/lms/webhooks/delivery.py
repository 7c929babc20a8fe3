"""One try of one delivery: claim it, POST the signed event, log the attempt, decide what comes next.

    deliver(delivery_id)   # "delivered" | "retry" | "failed" | "gone" | "skipped" (nothing due: idempotent)

Signed per Standard Webhooks (the `standardwebhooks` package): webhook-id is the event's id on every try (a
receiver de-duplicates on it), webhook-timestamp the try's own time, webhook-signature v1 HMAC-SHA256 over
"id.timestamp.body". 2xx: delivered. 410 Gone: the endpoint is disabled (the listing says so). Anything else
(another status, a refused connection, a timeout): tried again after the next wait of webhook_retry_s, then
given up. No database transaction is open during the HTTP request.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

from ...db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookState
from ...db.session import session_scope
from ...settings import get_settings
from ..http import lms_http
from .outbox import LONGEST_COUNTDOWN_S, send_task

log = logging.getLogger(__name__)

EXCERPT_BYTES = 1024
USER_AGENT = "tinytorch-grader-webhooks/1"
# A claimed try holds the delivery this much past its own time limit: a duplicate message finds nothing due.
CLAIM_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    latency_ms: int
    excerpt: str | None
    error: str | None


@dataclass(frozen=True)
class _Claimed:
    url: str
    secret: str
    event_id: str
    body: bytes
    tries: int


def deliver(delivery_id: int, now: datetime | None = None) -> str:
    """Make the delivery's next try if it is due (idempotent: a duplicate message, or one for a delivery already
    delivered or given up, does nothing)."""
    now = now or datetime.now(UTC)
    claimed = _claim(delivery_id, now)
    if isinstance(claimed, str):
        return claimed
    answer = post(claimed.url, claimed.secret, claimed.event_id, claimed.body)
    return _record(delivery_id, claimed.tries + 1, answer, datetime.now(UTC))


def body_of(payload: dict[str, Any]) -> bytes:
    """The event's bytes as sent (the same on every try: the signature covers them)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(secret: str, event_id: str, body: bytes, moment: datetime) -> dict[str, str]:
    return {"webhook-id": event_id, "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": Webhook(secret).sign(event_id, moment, body),
            "content-type": "application/json", "user-agent": USER_AGENT}


def post(url: str, secret: str, event_id: str, body: bytes) -> Answer:
    """One signed POST, within webhook_timeout_s for the whole request; never raises for the receiver's faults."""
    timeout = get_settings().webhook_timeout_s
    started = time.monotonic()
    try:
        # No redirects (lms_http): a receiver that moved must be re-registered.
        response = lms_http().post(url, content=body, timeout=timeout,
                                   headers=signed_headers(secret, event_id, body, datetime.now(UTC)))
        excerpt = response.content[:EXCERPT_BYTES].decode("utf-8", "replace")
        return Answer(response.status_code, _ms_since(started), excerpt, None)
    except httpx.HTTPError as error:
        return Answer(None, _ms_since(started), None, f"{type(error).__name__}: {error}"[:EXCERPT_BYTES])


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _claim(delivery_id: int, now: datetime) -> _Claimed | str:
    hold = now + timedelta(seconds=get_settings().webhook_timeout_s) + CLAIM_MARGIN
    with session_scope(write=True) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.state != WebhookState.pending.value:
            return "skipped"
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return "skipped"  # not due (a duplicate message, or one whose try another worker holds)
        endpoint = delivery.endpoint
        if endpoint.disabled_at is not None:
            delivery.state = WebhookState.failed.value
            return "gone"
        # The same condition again in the UPDATE: of two messages for this delivery, one makes the try.
        taken = session.execute(update(WebhookDelivery)
                                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.tries == delivery.tries,
                                       WebhookDelivery.state == WebhookState.pending.value,
                                       WebhookDelivery.next_attempt_at <= now)
                                .values(next_attempt_at=hold)
                                .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if not taken:
            return "skipped"
        return _Claimed(endpoint.url, endpoint.secret, str(delivery.event_id), body_of(delivery.event.payload),
                        delivery.tries)


def _record(delivery_id: int, tries: int, answer: Answer, now: datetime) -> str:
    waits = get_settings().webhook_retry_s
    countdown: float | None = None
    with session_scope(write=True) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return "skipped"  # its endpoint was removed meanwhile
        session.add(WebhookAttempt(delivery_id=delivery_id, started_at=now, status_code=answer.status_code,
                                   latency_ms=answer.latency_ms, response_excerpt=answer.excerpt, error=answer.error))
        delivery.tries = tries
        code = answer.status_code
        if code is not None and 200 <= code < 300:
            delivery.state, delivery.delivered_at, delivery.next_attempt_at = WebhookState.delivered.value, now, None
            outcome = "delivered"
        elif code == 410:
            _disable(session, delivery.endpoint_id, now, "the receiver answered 410 Gone")
            delivery.state, delivery.next_attempt_at = WebhookState.failed.value, None
            outcome = "gone"
        elif tries > len(waits):
            delivery.state, delivery.next_attempt_at = WebhookState.failed.value, None
            outcome = "failed"
        else:
            wait = waits[tries - 1]
            delivery.next_attempt_at = now + timedelta(seconds=wait)
            # A short wait is a delayed message; a long one is the sweeper's (enqueued_at NULL: send when due).
            countdown = wait if wait <= LONGEST_COUNTDOWN_S else None
            delivery.enqueued_at = delivery.next_attempt_at if countdown is not None else None
            outcome = "retry"
    log.info("webhook delivery %s try %d: %s (%s)", delivery_id, tries, outcome,
             answer.status_code if answer.status_code is not None else answer.error)
    if countdown is not None:
        send_task(delivery_id, countdown=countdown)
    return outcome


def _disable(session: Any, endpoint_id: int, now: datetime, reason: str) -> None:
    session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                  WebhookEndpoint.disabled_at.is_(None))
                    .values(disabled_at=now, disabled_reason=reason))
