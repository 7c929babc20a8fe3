"""What a worker says of its sandbox, and what /healthz, /metrics and the student's report make of it: the
workers table on a real database (both backends), the API through its app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from grader.api.app import create_app
from grader.bootstrap import prepare_database
from grader.db.models import Worker, WorkerState
from grader.db.session import dispose_engines, session_scope
from grader.sandbox_health import healthz_entry, mark_worker, workers_by_state
from grader.settings import get_settings


@pytest.fixture
def env(empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from grader.db import migrate

    migrate.upgrade(empty_database_url)
    monkeypatch.setenv("GRADER_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GRADER_BROKER_URL", raising=False)
    get_settings.cache_clear()
    prepare_database(empty_database_url)
    yield empty_database_url
    get_settings.cache_clear()
    dispose_engines()


def test_health_and_metrics_follow_the_workers_sandboxes(env: str) -> None:
    client = TestClient(create_app())
    assert client.get("/healthz").json()["checks"]["sandbox"] == "ok"  # no worker has said anything yet
    mark_worker(WorkerState.sandbox_unhealthy, "rootfs missing at /var/lib/x")  # this process's row, inserted
    assert workers_by_state() == {"ready": 0, "sandbox_unhealthy": 1, "stopping": 0}
    health = client.get("/healthz")
    # Uploads are still accepted (nothing is lost; the student reads that grading is delayed): 200, "degraded".
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["checks"]["sandbox"].startswith("error: 1 of 1 workers")
    assert 'grader_workers{state="sandbox_unhealthy"} 1.0' in client.get("/metrics").text
    with session_scope(env, write=True) as session:  # another worker, healthy: some grading still happens
        session.add(Worker(id="other:1:x", hostname="other", pid=1, state=WorkerState.ready.value))
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["checks"]["sandbox"].startswith("degraded: 1 of 2")
    mark_worker(WorkerState.ready, None)  # the canary passes again: the same row, updated
    assert workers_by_state() == {"ready": 2, "sandbox_unhealthy": 0, "stopping": 0}
    assert healthz_entry() == "ok"
