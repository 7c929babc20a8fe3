"""Nothing is lost when a worker dies between two tries: a real `grader worker` (Celery) on a Redis of the test's
own and a fresh PostgreSQL database, a receiver on loopback that verifies every request with `standardwebhooks`.

- Webhook: the receiver fails the first try; the worker schedules the next one as a delayed message, which it
  holds (unacked) until due; it is kill -9'd then, with its pool. Redis keeps the held message unacked for its
  visibility timeout (an hour), so the new worker does not get it; the sweeper (every API process runs it; here
  its pass, `sweep_deliveries`, is called as the API's thread would) re-sends the due delivery a minute later.
  The receiver applies the event once (one webhook-id), both tries are logged, and a late duplicate message for
  the delivery does nothing.
- Webhook: a receiver that applies the event but answers 200 after the timeout: counted as a timeout, tried
  again, applied once thanks to the id.
- LTI score: the platform's token endpoint is down at the first try (503); the worker is kill -9'd while it holds
  the retry; the platform comes back, a new worker starts, the sweeper's pass re-sends the row its retry left
  due and untried, and the platform gets it exactly once. Without the kill, the worker's own retry (30 s
  later) sends it once the token endpoint is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from lms_worker import kill_hard, launched_student, lms_worker, wait_until, worker_env
from lti_platform import LtiPlatformServer
from own_services import own_redis
from sqlalchemy import select
from webhook_receiver import HANG_S, Receiver, capstone, graded_submission, new_student

from grader.bootstrap import prepare_database
from grader.courses.service import get_course
from grader.db import migrate
from grader.db.models import LtiScoreOutbox, WebhookAttempt, WebhookDelivery
from grader.db.session import dispose_engines, session_scope
from grader.lms.lti import platform_keys, service_token
from grader.lms.lti.score_outbox import RESEND_AFTER as SCORE_RESEND_AFTER
from grader.lms.lti.score_outbox import RETRY_S, sweep_scores
from grader.lms.webhooks.endpoints import add_endpoint, new_secret
from grader.lms.webhooks.outbox import RESEND_AFTER, send_task, sweep_deliveries
from grader.settings import get_settings

QUEUE = "grader-lms-kill"
LMS_QUEUE = QUEUE + ".lms"
WAIT_S = 5.0  # between tries: long enough to kill the worker while it holds the next try's message
TIMEOUT_S = 1.0  # per try (the late receiver answers after HANG_S = 3 s)
RECOVERY_S = RESEND_AFTER.total_seconds() + 60


@dataclass
class Stack:
    env: dict[str, str]
    redis: redis.Redis
    folder: Path


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          new_postgres_database: Callable[[], AbstractContextManager[str]]) -> Iterator[Stack]:
    with own_redis(tmp_path) as broker, new_postgres_database() as database_url:
        migrate.upgrade(database_url)
        env = worker_env(database_url, broker.url, tmp_path / "data", QUEUE,
                         GRADER_WEBHOOK_RETRY_S=str([WAIT_S] * 7), GRADER_WEBHOOK_TIMEOUT_S=str(TIMEOUT_S))
        for name, value in env.items():
            if name.startswith("GRADER_"):
                monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        platform_keys.clear_cache()
        service_token.clear_cache()
        prepare_database()
        try:
            yield Stack(env, redis.Redis.from_url(broker.url), tmp_path)
        finally:
            get_settings.cache_clear()
            dispose_engines()


def grade_with_endpoint(receiver: Receiver) -> int:
    """An endpoint of the default course for `receiver`, then a committed grade (its delivery's task goes to
    Redis on the commit): the delivery's id."""
    with session_scope(write=True) as session:
        endpoint = add_endpoint(session, get_course(session, "default"), receiver.url, "submission.graded")
        endpoint.secret = receiver.secret
        session.flush()
        endpoint_id = endpoint.id
        graded_submission(session)
    with session_scope() as session:
        return session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)).one()


def attempts(delivery_id: int) -> list[WebhookAttempt]:
    with session_scope() as session:
        return list(session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
                                    .order_by(WebhookAttempt.id)))


def delivery(delivery_id: int) -> WebhookDelivery:
    with session_scope() as session:
        row = session.get(WebhookDelivery, delivery_id)
        assert row is not None
        session.expunge(row)
        return row


def held_by_the_worker(broker: redis.Redis) -> bool:
    """The next try's message is taken from the queue and held unacked by the worker (kombu's Redis transport)."""
    return broker.llen(LMS_QUEUE) == 0 and broker.hlen("unacked") >= 1


def test_a_webhook_survives_a_worker_kill_between_tries(stack: Stack) -> None:
    with Receiver(new_secret(), ["fail"]) as receiver:
        with lms_worker(stack.env, stack.folder / "worker-1.log") as first:
            delivery_id = grade_with_endpoint(receiver)
            wait_until(lambda: len(attempts(delivery_id)) == 1, 60, "the first try")
            wait_until(lambda: held_by_the_worker(stack.redis), 20, "the worker to hold the next try's message")
            kill_hard(first)
            killed_at = time.monotonic()
        assert delivery(delivery_id).state == "pending"
        with lms_worker(stack.env, stack.folder / "worker-2.log") as second:
            wait_until(lambda: delivery(delivery_id).state == "delivered", RECOVERY_S,
                       "the delivery after the kill", interval=1.0, between=sweep_deliveries)
            recovered_s = time.monotonic() - killed_at
            # The message the dead worker held comes back one day (Redis's visibility timeout): it finds the
            # delivery done and does nothing.
            assert send_task(delivery_id)
            wait_until(lambda: "succeeded in" in second.read_log() and "'skipped'" in second.read_log(), 30,
                       "the duplicate message to be consumed (and skipped)")
            assert "try 1: retry (500)" in first.read_log()
        [event_id] = {r.webhook_id for r in receiver.requests}
        assert [r.answered for r in receiver.requests] == ["fail", "ok"]
        assert all(r.verified for r in receiver.requests)
        assert list(receiver.applied) == [event_id]  # applied once
        assert receiver.applied[event_id]["type"] == "submission.graded"
    logged = attempts(delivery_id)
    assert [a.status_code for a in logged] == [500, 200]
    done = delivery(delivery_id)
    assert done.tries == 2 and done.delivered_at is not None and str(done.event_id) == event_id
    print(f"webhook: worker kill -9 between tries -> delivered {recovered_s:.1f} s later")


def test_a_receiver_answering_200_after_the_timeout_applies_the_event_once(stack: Stack) -> None:
    with (Receiver(new_secret(), ["late-ok"]) as receiver,
          lms_worker(stack.env, stack.folder / "worker.log")):
        delivery_id = grade_with_endpoint(receiver)
        wait_until(lambda: delivery(delivery_id).state == "delivered", 60, "the delivery after the late answer")
        time.sleep(HANG_S)  # the late answer's handler has finished
        assert [r.answered for r in receiver.requests] == ["late-ok", "ok"]
        assert len({r.webhook_id for r in receiver.requests}) == 1
        assert len(receiver.applied) == 1  # applied by the first try, recognised on the second
    first, second = attempts(delivery_id)
    assert first.status_code is None and first.error is not None and "Timeout" in first.error
    assert second.status_code == 200


def graded_lti_student(platform: LtiPlatformServer, sub: str) -> int:
    """A student who launched from `platform` (a sub, the capstone's line item), graded 4/5: the outbox row's id."""
    with session_scope(write=True) as session:
        student = new_student(session)
        launched_student(session, platform, capstone(session).id, student, sub)
        graded_submission(session, student, score=4.0)
    with session_scope() as session:
        return session.scalars(select(LtiScoreOutbox.id)).one()


def outbox(outbox_id: int) -> LtiScoreOutbox:
    with session_scope() as session:
        row = session.get(LtiScoreOutbox, outbox_id)
        assert row is not None
        session.expunge(row)
        return row


def test_an_lti_score_survives_a_down_token_endpoint_and_a_worker_kill(stack: Stack) -> None:
    platform = LtiPlatformServer(tool_base="http://127.0.0.1:9").start()
    try:
        platform.token_down = True
        outbox_id = graded_lti_student(platform, "lms-user-42")
        with lms_worker(stack.env, stack.folder / "worker-1.log") as first:
            wait_until(lambda: outbox(outbox_id).attempts == 1, 60, "the first try of the score")
            wait_until(lambda: held_by_the_worker(stack.redis), 20, "the worker to hold the retry")
            kill_hard(first)
        row = outbox(outbox_id)
        assert row.sent_at is None and "503" in (row.last_error or "")
        assert platform.scores == []
        platform.token_down = False
        with lms_worker(stack.env, stack.folder / "worker-2.log"):
            # The sweeper's pass as it runs once the retry has been due for RESEND_AFTER untried (the clock
            # moved on instead of waiting 2.5 minutes): it claims the row and sends it again.
            later = datetime.now(UTC) + timedelta(seconds=RETRY_S[0]) + SCORE_RESEND_AFTER + timedelta(seconds=1)
            assert sweep_scores(later) == 1
            assert sweep_scores(later) == 0  # claimed: a second sweeper does not send it too
            wait_until(lambda: platform.scores, 60, "the score after the platform came back")
            time.sleep(2)  # nothing else arrives
        [score] = platform.scores
        assert score["userId"] == "lms-user-42" and score["scoreGiven"] == 4.0 and score["scoreMaximum"] == 5.0
        assert score["gradingProgress"] == "FullyGraded"
        row = outbox(outbox_id)
        assert row.sent_at is not None and row.attempts == 2 and row.last_error is None
    finally:
        platform.stop()


def test_an_lti_score_arrives_once_the_token_endpoint_is_back(stack: Stack) -> None:
    """No kill: the worker's own retry (30 s later) sends it once the platform's token endpoint answers again."""
    platform = LtiPlatformServer(tool_base="http://127.0.0.1:9").start()
    try:
        platform.token_down = True
        outbox_id = graded_lti_student(platform, "lms-user-43")
        with lms_worker(stack.env, stack.folder / "worker.log"):
            wait_until(lambda: outbox(outbox_id).attempts == 1, 60, "the first try of the score")
            platform.token_down = False
            wait_until(lambda: platform.scores, 30 + 60, "the score from the worker's retry")
            time.sleep(2)
        [score] = platform.scores
        assert score["userId"] == "lms-user-43" and score["scoreGiven"] == 4.0
        row = outbox(outbox_id)
        assert row.sent_at is not None and row.attempts == 2 and row.last_error is None
    finally:
        platform.stop()
