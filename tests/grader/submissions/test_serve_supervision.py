"""`grader serve` supervises its embedded worker: a worker that dies is restarted (with back-off, logged), /healthz
says whether a worker is alive. A real `grader serve` process on the embedded defaults, the bwrap sandbox.
(test_worker_faults.py shows the restarted side grading what a killed worker held.)"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path
from typing import Any

from running_server import grader_env, grader_serve
from sqlalchemy import select
from submission_helpers import wait_until

from grader.db.models import Worker
from grader.db.session import session_scope


def get(url: str, token: str | None = None) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def children(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_dead_embedded_worker_is_restarted_and_reported(tmp_path: Path) -> None:
    env = grader_env(GRADER_DATA_DIR=str(tmp_path / "data"), GRADER_SANDBOX="bwrap", GRADER_LEASE_HEARTBEAT_S="1",
                     GRADER_LEASE_TIMEOUT_S="3")
    with grader_serve(env, tmp_path / "serve.log") as server:
        # Up means registered (healthz) and consuming (Celery's "ready."): the row is written before Celery logs
        # "ready.", so a kill between the two would leave the log with one "ready." for two workers.
        wait_until(lambda: get(f"{server.url}/healthz")["checks"]["workers"] == "ok" and
                   server.read_log().count("ready.") == 1, 30, what="the embedded worker to report in")
        (worker,) = [pid for pid in children(server.process.pid) if "grader worker" in cmdline(pid)]
        for pid in [worker, *children(worker)]:  # the worker and its pool: as a crash (or the OOM killer) would
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: f"grading worker (pid {worker}) exited with -9; restarting it in 1 s" in server.read_log(),
                   30, what="the supervisor to log the restart")
        wait_until(lambda: server.read_log().count("ready.") >= 2 and
                   get(f"{server.url}/healthz")["checks"]["workers"] == "ok", 90, what="the new worker")
        assert get(f"{server.url}/healthz")["status"] == "ok"
        # The dead worker's row went (the new one cleared the dead of its host): one worker, the live one.
        assert 'grader_workers{state="ready"} 1.0' in metrics(server.url)
    # A clean shutdown (SIGTERM) takes the worker's row away with it (serve itself may exit first).
    def no_worker_rows() -> bool:
        with session_scope(f"sqlite:///{tmp_path / 'data' / 'grader.db'}") as session:
            return session.scalars(select(Worker.id)).all() == []

    wait_until(no_worker_rows, 30, what="the stopped worker to remove its row")


def metrics(base: str) -> str:
    with urllib.request.urlopen(f"{base}/metrics", timeout=30) as response:
        return response.read().decode()  # type: ignore[no-any-return]
