"""The worker registry: each grading worker keeps a row in the `workers` table alive while it runs.

    current_worker_id()          "<host>:<pid>:<random>": this worker's id (a lease's holder, a workers row)
    registration = WorkerRegistration.start()    # the Celery worker's main process, at start-up
    registration.stop()                          # at clean shutdown: the row goes

The row is refreshed every `lease_heartbeat_s` by a thread of the worker's main process, so /healthz and
/metrics (any API replica, any host) see which workers are alive: a row not refreshed for `lease_timeout_s` is
a dead worker's. The pool children forked from the main process inherit its id, so the leases they take name
the worker whose row says whether it lives. The sandbox-health fields (state, detail) are written by the
sandbox checks, not here: a refresh touches heartbeat_at only.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from .db.models import Worker, WorkerState
from .db.session import session_scope
from .settings import get_settings

log = logging.getLogger(__name__)

_worker_id: str | None = None


def hostname() -> str:
    return socket.gethostname()


def current_worker_id() -> str:
    """This worker's id. In a Celery pool child, the id of the worker (main process) that forked it; in any
    other process, an id of its own, made on first use."""
    return _worker_id if _worker_id is not None else new_worker_id()


def new_worker_id() -> str:
    """Give this process a fresh id (a worker's main process, at start-up) and return it."""
    global _worker_id
    _worker_id = make_worker_id()
    return _worker_id


def make_worker_id() -> str:
    # The random part keeps a pid reused after a restart (or on another host) from naming an older worker.
    return f"{hostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def parse_worker_id(worker_id: str) -> tuple[str, int] | None:
    """(hostname, pid) of an id made by make_worker_id, or None for anything else."""
    parts = worker_id.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to judge
    # A killed process whose parent died too stays a zombie until someone reaps it (in a container whose PID 1
    # does not reap, for good): it answers kill(0) but holds nothing.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def holder_is_gone(worker_id: str | None) -> bool:
    """True when `worker_id` names a process on this host that no longer exists (hostnames are taken as unique
    per process namespace: two containers must not share a hostname). Unknown or remote holders: False."""
    parsed = parse_worker_id(worker_id or "")
    if parsed is None or parsed[0] != hostname():
        return False
    return parsed[1] != os.getpid() and not pid_alive(parsed[1])


def alive_workers(session: Session, now: datetime | None = None) -> list[Worker]:
    """The rows of workers that refreshed within lease_timeout_s (the ones grading status is computed from)."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=get_settings().lease_timeout_s)
    return list(session.scalars(select(Worker).where(Worker.heartbeat_at >= since).order_by(Worker.id)))


def live_workers(now: datetime | None = None) -> dict[str, int]:
    """Workers that refreshed their row within lease_timeout_s, counted by state."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=get_settings().lease_timeout_s)
    with session_scope() as session:
        rows = session.execute(select(Worker.state, func.count()).where(Worker.heartbeat_at >= since)
                               .group_by(Worker.state)).all()
    return {state: count for state, count in rows}


def beat(worker_id: str, now: datetime | None = None) -> None:
    """Refresh this worker's row; make it if it is missing (first beat, or deleted by an operator)."""
    now = now or datetime.now(UTC)
    if _refresh(worker_id, now):
        return
    host, pid = parse_worker_id(worker_id) or (hostname(), os.getpid())
    try:
        with session_scope(write=True) as session:
            session.add(Worker(id=worker_id, hostname=host, pid=pid, state=WorkerState.ready.value,
                               started_at=now, heartbeat_at=now))
    except IntegrityError:  # made meanwhile by another thread of this worker (the sandbox monitor, say)
        _refresh(worker_id, now)


def _refresh(worker_id: str, now: datetime) -> bool:
    with session_scope(write=True) as session:
        return bool(session.execute(update(Worker).where(Worker.id == worker_id).values(heartbeat_at=now)
                                    ).rowcount)  # type: ignore[attr-defined]


def forget(worker_id: str) -> None:
    with session_scope(write=True) as session:
        session.execute(delete(Worker).where(Worker.id == worker_id))


def forget_dead_on_this_host() -> int:
    """Delete the rows of workers on this host whose process is gone (a crash leaves its row behind)."""
    with session_scope(write=True) as session:
        rows = session.execute(select(Worker.id, Worker.pid).where(Worker.hostname == hostname())).all()
        dead = [worker_id for worker_id, pid in rows if pid != os.getpid() and not pid_alive(pid)]
        if dead:
            session.execute(delete(Worker).where(Worker.id.in_(dead)))
    return len(dead)


class WorkerRegistration:
    """The workers row of this process, refreshed by a daemon thread from start() until stop()."""

    def __init__(self, worker_id: str, interval_s: float) -> None:
        self.worker_id = worker_id
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grader-worker-heartbeat", daemon=True)

    @classmethod
    def start(cls) -> WorkerRegistration:
        """Keep this process's row alive under current_worker_id()."""
        registration = cls(current_worker_id(), get_settings().lease_heartbeat_s)
        try:
            beat(registration.worker_id)
        except SQLAlchemyError as error:
            # The database may be down at start-up; the thread keeps trying, the worker must not die of it.
            log.warning("could not register worker %s yet: %s", registration.worker_id, error)
        registration._thread.start()
        log.info("worker %s registered", registration.worker_id)
        return registration

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        try:
            forget(self.worker_id)
        except SQLAlchemyError as error:
            log.warning("could not remove worker %s's row: %s", self.worker_id, error)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                beat(self.worker_id)
            except Exception as error:  # a database restart must not end the heartbeat for good
                log.warning("worker heartbeat failed (next try in %g s): %s", self.interval_s, error)
