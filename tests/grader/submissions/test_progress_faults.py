"""Progress is advisory: Redis gone in the middle of a grading costs the progress bar, never the grading.
A Redis of this test's own (it is killed), a real bwrap grading of the reference in this process."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from running_server import free_port
from submission_helpers import new_user, wait_until

from grader.bootstrap import prepare_database
from grader.db.models import Submission
from grader.db.session import session_scope
from grader.settings import get_settings
from grader.submissions import progress, service, tasks


@pytest.fixture
def own_redis() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        wait_until(lambda: _pings(redis.Redis.from_url(url)), 10, interval=0.1, what="the test's redis-server")
        yield server, url
    finally:
        server.kill()
        server.wait()


def _pings(client: object) -> bool:
    try:
        return bool(client.ping())  # type: ignore[attr-defined]
    except Exception:
        return False


def test_redis_gone_mid_grading_still_grades(sandbox_ready: None, isolated_env: Path, isolated_url: str,
                                             own_redis: tuple[subprocess.Popen[bytes], str], reference_zip: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    server, url = own_redis
    monkeypatch.setenv("GRADER_BROKER_URL", url)  # progress goes to Redis when the broker is Redis
    monkeypatch.setenv("GRADER_SANDBOX", "bwrap")
    get_settings.cache_clear()
    prepare_database(isolated_url)
    with session_scope(isolated_url, write=True) as session:
        student, _ = new_user(session, "student")
        key = service.accept_submission(session, student, reference_zip, "reference.zip").id
    claimed = tasks.claim(key)
    assert claimed.lease is not None and claimed.lease.submission_id == key
    errors: list[BaseException] = []

    def run() -> None:
        try:
            assert tasks.grade_stored(claimed.lease)
        except BaseException as error:  # reported below: the grading must not raise
            errors.append(error)

    grading = threading.Thread(target=run)
    grading.start()
    # Killed as soon as the grading has published its plan, before its first test ends.
    wait_until(lambda: progress.read(str(key)), 120, interval=0.02, what="the first progress record")
    server.kill()
    server.wait()
    killed_while_grading = grading.is_alive()
    grading.join(timeout=300)
    assert killed_while_grading and not grading.is_alive()
    assert errors == []
    with session_scope(isolated_url) as session:
        row = session.get(Submission, key)
        assert row is not None and row.status == "graded" and row.score == row.max_score == 100.0
    assert progress.read(str(key)) is None  # nothing to read with Redis gone, and no error either
    progress.publish(str(key), 1, 2, "x")  # nor when writing


def test_progress_without_redis_does_not_raise(isolated_env: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    get_settings.cache_clear()
    progress.publish("some-id", 1, 14, "test_x")
    assert progress.read("some-id") is None
