"""Webhook deliveries against a real receiver on loopback that verifies each request with the stock
`standardwebhooks` library: delivered; failing three times then delivered (applied once, one webhook-id); a
receiver that hangs (timed out, tried again); 410 Gone (the endpoint is disabled); giving up after the last try.
The task's body (deliver) runs here as the worker would run it, on a real database, with the waits shrunk."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from webhook_receiver import HANG_S, Receiver, graded_submission, new_student

from grader.bootstrap import prepare_database
from grader.courses.service import get_course
from grader.db import migrate
from grader.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from grader.db.session import dispose_engines, session_scope
from grader.errors import Conflict
from grader.lms.webhooks.delivery import EXCERPT_BYTES, deliver
from grader.lms.webhooks.endpoints import add_endpoint, endpoint_json, get_delivery, new_secret, redeliver
from grader.settings import get_settings

WAIT_S = 0.1
TIMEOUT_S = 1.0


@pytest.fixture
def env(empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database of this test's own; tries 0.1 s apart (8 tries), 1 s per request; the embedded broker."""
    migrate.upgrade(empty_database_url)
    monkeypatch.setenv("GRADER_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GRADER_BROKER_URL", raising=False)
    monkeypatch.setenv("GRADER_WEBHOOK_RETRY_S", str([WAIT_S] * 7))
    monkeypatch.setenv("GRADER_WEBHOOK_TIMEOUT_S", str(TIMEOUT_S))
    get_settings.cache_clear()
    prepare_database()
    yield empty_database_url
    get_settings.cache_clear()
    dispose_engines()


def endpoint_and_grade(receiver: Receiver, events: str = "submission.graded") -> tuple[int, int]:
    """An endpoint of the default course for `receiver`, then a committed grade: (endpoint id, delivery id)."""
    with session_scope(write=True) as session:
        endpoint = add_endpoint(session, get_course(session, "default"), receiver.url, events)
        endpoint.secret = receiver.secret
        graded_submission(session)
        endpoint_id = endpoint.id
    with session_scope() as session:
        deliveries = session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)).all()
    assert len(deliveries) == 1
    return endpoint_id, deliveries[0]


def run_until_settled(delivery_id: int, limit_s: float = 60) -> list[str]:
    """The worker's part: the task, each time it is due, until the delivery is delivered or given up."""
    outcomes: list[str] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        outcome = deliver(delivery_id)
        if outcome != "skipped":
            outcomes.append(outcome)
        if outcome in ("delivered", "failed", "gone"):
            return outcomes
        time.sleep(WAIT_S / 2)
    raise AssertionError(f"delivery {delivery_id} still pending after {limit_s} s: {outcomes}")


def attempts(delivery_id: int) -> list[WebhookAttempt]:
    with session_scope() as session:
        return list(session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
                                    .order_by(WebhookAttempt.id)).all())


def test_a_grade_reaches_the_receiver_signed(env: str) -> None:
    with Receiver(new_secret()) as receiver:
        _, delivery_id = endpoint_and_grade(receiver)
        assert run_until_settled(delivery_id) == ["delivered"]
        assert deliver(delivery_id) == "skipped"  # a duplicate message does nothing
    [request] = receiver.requests
    assert request.verified
    data = request.payload["data"]
    assert request.payload["type"] == "submission.graded"
    assert (data["score"], data["max_score"], data["counted_score"]) == (3.0, 5.0, 3.0)
    assert data["course"]["slug"] == "default" and data["assignment"]["slug"] == "capstone"
    assert data["student"]["email"].startswith("ada-") and data["student"]["lms_user_id"] is None
    assert data["submission"]["url"] == f"/api/v1/submissions/{data['submission']['id']}"
    assert data["priorities"][0]["score"] == 3.0 and data["graded_at"]
    [attempt] = attempts(delivery_id)
    assert attempt.status_code == 200 and attempt.error is None and attempt.latency_ms >= 0
    with session_scope() as session:
        delivery = get_delivery(session, delivery_id)
        assert (delivery.state, delivery.tries, str(delivery.event_id)) == ("delivered", 1, request.webhook_id)


def test_three_failures_then_success_is_applied_once_under_one_webhook_id(env: str) -> None:
    with Receiver(new_secret(), ["fail", "long-fail", "fail", "ok", "ok"]) as receiver:
        _, delivery_id = endpoint_and_grade(receiver)
        assert run_until_settled(delivery_id) == ["retry", "retry", "retry", "delivered"]
        # Sent again by hand (the instructor's redeliver): the same event id, so the receiver ignores it.
        with session_scope(write=True) as session:
            redeliver(session, get_delivery(session, delivery_id))
        assert run_until_settled(delivery_id) == ["delivered"]
    assert [r.answered for r in receiver.requests] == ["fail", "long-fail", "fail", "ok", "ok"]
    assert all(r.verified for r in receiver.requests)
    assert len({r.webhook_id for r in receiver.requests}) == 1
    assert list(receiver.applied) == [receiver.requests[0].webhook_id]
    logged = attempts(delivery_id)
    assert [a.status_code for a in logged] == [500, 503, 500, 200, 200]
    assert len(logged[1].response_excerpt or "") == EXCERPT_BYTES  # at most 1 KB of a long answer is kept


def test_a_receiver_that_hangs_costs_one_timed_out_try(env: str) -> None:
    with Receiver(new_secret(), ["hang"]) as receiver:
        _, delivery_id = endpoint_and_grade(receiver)
        started = time.monotonic()
        assert run_until_settled(delivery_id) == ["retry", "delivered"]
        assert time.monotonic() - started < HANG_S + 2
    first, second = attempts(delivery_id)
    assert first.status_code is None and "Timeout" in (first.error or "")
    assert TIMEOUT_S * 1000 * 0.9 <= first.latency_ms < HANG_S * 1000
    assert second.status_code == 200
    assert len(receiver.applied) == 1


def test_410_gone_disables_the_endpoint(env: str) -> None:
    with Receiver(new_secret(), ["gone"]) as receiver:
        endpoint_id, delivery_id = endpoint_and_grade(receiver)
        assert run_until_settled(delivery_id) == ["gone"]
        with session_scope(write=True) as session:
            shown = endpoint_json(session.get(WebhookEndpoint, endpoint_id))
            graded_submission(session, new_student(session))  # a later grade: nothing for a disabled endpoint
        assert (shown["status"], shown["disabled_reason"]) == ("disabled", "the receiver answered 410 Gone")
        with session_scope() as session:
            assert len(session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
                       .all()) == 1
            assert get_delivery(session, delivery_id).state == "failed"
        with pytest.raises(Conflict, match="disabled"), session_scope(write=True) as session:
            redeliver(session, get_delivery(session, delivery_id))
    assert len(receiver.requests) == 1


def test_the_task_is_the_workers_acked_late() -> None:
    from grader.worker import celery_app

    task = celery_app.tasks["grader.deliver_webhook"]
    assert task.acks_late and task.name == "grader.deliver_webhook"


def test_gives_up_after_the_last_try(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_WEBHOOK_RETRY_S", "[0.05, 0.05]")
    get_settings.cache_clear()
    with Receiver(new_secret(), ["fail"] * 10) as receiver:
        _, delivery_id = endpoint_and_grade(receiver)
        assert run_until_settled(delivery_id) == ["retry", "retry", "failed"]
    assert len(receiver.requests) == 3


def test_a_refused_connection_is_logged_and_retried(env: str) -> None:
    with Receiver(new_secret()) as receiver:
        url = receiver.url  # closed on leaving: nothing listens there any more
    with session_scope(write=True) as session:
        endpoint = add_endpoint(session, get_course(session, "default"), url, None)
        graded_submission(session)
        endpoint_id = endpoint.id
    with session_scope() as session:
        delivery_id = session.scalars(select(WebhookDelivery.id)
                                      .where(WebhookDelivery.endpoint_id == endpoint_id)).one()
    assert deliver(delivery_id) == "retry"
    [attempt] = attempts(delivery_id)
    assert attempt.status_code is None and "Connect" in (attempt.error or "")
