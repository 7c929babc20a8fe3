"""The LTI score outbox's schedule: a newer score for the same person and line item supersedes an older unsent
one; a failed try is due again after 30 s, doubling, and given up after the last; `grader lti send-scores`
starts given-up rows over; the sweeper sends again a row due for a while whose message was lost, claimed once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lti_platform_fixtures
import pytest
from kombu import Connection
from lti_platform_fixtures import Lti
from sqlalchemy import select
from test_lti_ags import _outbox, _student_launch, _submission

from grader.db import migrate
from grader.db.models import LtiPlatform, LtiScoreOutbox
from grader.db.session import dispose_engines, session_scope
from grader.lms.lti.ags import publish_score, send_score
from grader.lms.lti.score_outbox import RETRY_S, start_over, sweep_scores
from grader.lms.lti.tasks import TASK_NAME
from grader.lms.queue import lms_queue
from grader.settings import get_settings

lti = lti_platform_fixtures.lti
_fresh_caches = lti_platform_fixtures._fresh_caches


def test_a_newer_score_supersedes_the_older_unsent_one(lti: Lti) -> None:
    user = _student_launch(lti)
    publish_score(lti.session, _submission(lti, user, "graded", 10.0))
    publish_score(lti.session, _submission(lti, user, "graded", 25.0))
    older, newer = _outbox(lti)
    assert older.superseded_at is not None and newer.superseded_at is None
    assert send_score(lti.session, older.id) is None and older.attempts == 0  # nothing sent
    assert send_score(lti.session, newer.id) is None
    assert [s["scoreGiven"] for s in lti.platform.scores] == [25.0]


def test_failed_tries_back_off_then_give_up_and_send_scores_starts_over(lti: Lti) -> None:
    user = _student_launch(lti)
    publish_score(lti.session, _submission(lti, user, "graded", 30.0))
    [row] = _outbox(lti)
    lti.platform.trust_tool_keys({"keys": []})  # no token for us until the platform knows our key again
    waits = []
    for _ in range(len(RETRY_S) + 1):
        before = datetime.now(UTC)
        assert send_score(lti.session, row.id) is not None
        if row.next_attempt_at is not None:
            due = row.next_attempt_at.replace(tzinfo=UTC) if row.next_attempt_at.tzinfo is None else row.next_attempt_at
            waits.append(round((due - before).total_seconds()))
    assert waits == list(RETRY_S)
    assert row.gave_up_at is not None and row.attempts == len(RETRY_S) + 1
    assert send_score(lti.session, row.id) is None and row.attempts == len(RETRY_S) + 1  # no more tries

    lti.platform.trust_tool_keys(lti.client.get("/lti/jwks").json())
    assert start_over(lti.session) == [row.id]
    assert row.gave_up_at is None and row.attempts == 0
    assert send_score(lti.session, row.id) is None and row.sent_at is not None


@pytest.fixture
def committed(empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    migrate.upgrade(empty_database_url)
    monkeypatch.setenv("GRADER_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GRADER_BROKER_URL", "memory://lti-sweep-test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    dispose_engines()


def _queued() -> list[int]:
    found = []
    with Connection("memory://lti-sweep-test") as connection, connection.SimpleQueue(lms_queue()) as queue:
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                return found
            assert message.headers["task"] == TASK_NAME
            found.append(message.payload[0][0])
            message.ack()


def test_the_sweeper_sends_again_a_lost_score_once_and_leaves_the_rest(committed: None) -> None:
    now = datetime.now(UTC)
    with session_scope(write=True) as session:
        platform = LtiPlatform(issuer="https://lms.example", client_id="c", deployment_ids=["d"],
                               jwks_url="https://lms.example/k", auth_url="https://lms.example/a",
                               token_url="https://lms.example/t")
        session.add(platform)
        session.flush()

        def row(**fields: object) -> int:
            item = LtiScoreOutbox(platform_id=platform.id, lineitem_url="https://lms.example/li/1", user_sub="u",
                                  payload={}, created_at=now - timedelta(hours=1), **fields)
            session.add(item)
            session.flush()
            return item.id

        lost = row(next_attempt_at=now - timedelta(minutes=5))
        row(next_attempt_at=now + timedelta(minutes=5))  # waiting for its retry
        recent = row(next_attempt_at=now - timedelta(seconds=30))  # due just now: its message is on the way
        row(next_attempt_at=now - timedelta(minutes=5), sent_at=now)
        row(next_attempt_at=now - timedelta(minutes=5), gave_up_at=now)
        row(next_attempt_at=now - timedelta(minutes=5), superseded_at=now)
    _queued()
    assert sweep_scores(now) == 1 and _queued() == [lost]
    assert sweep_scores(now) == 0 and _queued() == []  # claimed: not again within RESEND_AFTER
    # Neither tried 3 minutes on: both are sent (the lost one again, its claim having lapsed).
    assert sweep_scores(now + timedelta(minutes=3)) == 2 and sorted(_queued()) == sorted([lost, recent])
    with session_scope() as session:
        assert session.scalar(select(LtiScoreOutbox.enqueued_at).where(LtiScoreOutbox.id == lost)) is not None
