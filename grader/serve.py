"""`grader serve` (the API with a worker alongside, on embedded defaults) and `grader worker` (production)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from sqlalchemy import select

from .bootstrap import prepare_database
from .courses.service import enroll, ensure_default_course
from .db.models import Role, User
from .db.session import session_scope
from .sandboxes import sandbox_problem
from .settings import Settings, get_settings
from .submissions.sweeper import take_back_orphans
from .users.service import create_user

FIRST_INSTRUCTOR = "instructor@localhost"
SETUP_COMMAND = "sudo bash sandbox/setup.sh"
EMBEDDED_WORKER_NICENESS = 10
RESTART_MAX_S = 60.0
RESTART_RESET_S = 120.0


def first_instructor_token() -> str | None:
    """A token for a new first instructor when the install has no instructor or admin yet; else None (tokens
    are stored hashed, so an existing one cannot be shown again)."""
    with session_scope(write=True) as session:
        staff = session.scalar(select(User.id).where(User.role.in_([Role.instructor.value, Role.admin.value])))
        if staff is not None:
            return None
        user, token = create_user(session, FIRST_INSTRUCTOR, Role.instructor)
        course = ensure_default_course(session)
        if course is not None:
            enroll(session, user, course)  # so the first token can see (and try) the capstone at once
        return token


def serve(host: str, port: int, *, grading_workers: int = 1) -> None:
    import uvicorn

    from .api.app import create_app
    from .api.http_guard import uvicorn_options

    settings = get_settings()
    prepare_database()
    token = first_instructor_token()
    print(f"TinyTorch grader on http://{host}:{port}  (data in {settings.data_dir})", flush=True)
    if token:
        print(f"first instructor {FIRST_INSTRUCTOR}, API token: {token}", flush=True)
    print("more users: grader users add EMAIL --role student|instructor|admin  (prints the token)", flush=True)
    if grading_workers:
        _say_whether_grading_runs(settings)
        # What this data dir's previous embedded worker was grading when it was killed: the embedded broker
        # never redelivers its message, so it goes back on the queue now.
        taken = take_back_orphans()
        if taken:
            print(f"{taken} grading(s) left unfinished by a worker that was killed: queued again", flush=True)
    else:
        print("no grading worker here (--grading-workers 0): run `grader worker` against the same database and "
              "broker; /healthz reports them", flush=True)
    supervisor = WorkerSupervisor(grading_workers) if grading_workers else None
    if supervisor is not None:
        supervisor.start()
    try:
        uvicorn.run(create_app(), host=host, port=port, log_level="warning", **uvicorn_options(settings))
    finally:
        if supervisor is not None:
            supervisor.stop()


def _say_whether_grading_runs(settings: Settings) -> None:
    """The sandbox's canary, once, to say at start whether uploads will be graded: a machine without a usable
    sandbox serves all the same with grading paused (uploads kept, /api/v1/status "paused", /healthz "degraded"),
    and its worker grades them by itself once the sandbox passes the canary."""
    problem = sandbox_problem(settings)
    if problem is None:
        print("sandbox ready: uploads are graded", flush=True)
        return
    print(f"GRADING PAUSED: no usable sandbox here ({problem})", flush=True)
    print(f"  uploads are accepted and wait in the queue; to grade them, prepare the sandbox: {SETUP_COMMAND}",
          flush=True)
    print("  (grading starts by itself once the sandbox passes its check; /api/v1/status says paused until then)",
          flush=True)


class WorkerSupervisor:
    """The embedded worker subprocess, restarted with back-off whenever it dies (a full disk, a crash): gradings
    go on once the cause is gone instead of never. Back-off doubles from 1 s to RESTART_MAX_S and starts over
    once a worker has run for RESTART_RESET_S."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.restarts = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="grader-worker-supervisor", daemon=True)

    def start(self) -> None:
        self._process = _start_worker(self.concurrency)
        self._thread.start()

    def _run(self) -> None:
        backoff = 1.0
        while True:
            assert self._process is not None
            started = time.monotonic()
            code = self._process.wait()
            if self._stop.is_set():
                return
            if time.monotonic() - started > RESTART_RESET_S:
                backoff = 1.0
            print(f"grading worker (pid {self._process.pid}) exited with {code}; restarting it in {backoff:g} s",
                  flush=True)
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, RESTART_MAX_S)
            with self._lock:
                if self._stop.is_set():
                    return
                self._process = _start_worker(self.concurrency)
                self.restarts += 1

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            worker = self._process
        if worker is None:
            return
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        self._thread.join(5)


def _start_worker(concurrency: int) -> subprocess.Popen[bytes]:
    # The worker is its own process (Celery's prefork pool enforces the hard time limit by killing a child);
    # it reads the same settings, pinned here so a relative data dir means the same folder to both.
    settings = get_settings()
    env = {**os.environ, "GRADER_DATA_DIR": str(settings.data_dir), "GRADER_DATABASE_URL": settings.database_url,
           "GRADER_BROKER_URL": settings.broker_url}
    return subprocess.Popen([sys.executable, "-m", "grader", "worker", "--concurrency", str(concurrency)], env=env,
                            preexec_fn=_die_with_parent)


def _die_with_parent() -> None:
    # uvicorn re-raises SIGTERM after its shutdown, so `finally` may never run: the kernel ends the worker
    # when serve's process goes, however it goes.
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    # Here the API and the gradings share the machine's cores: an upload waiting behind a grading would wait
    # seconds, a grading behind an upload milliseconds. The worker and the sandboxes it starts with bwrap run
    # nicer (Docker's containers are dockerd's children and keep their own priority).
    os.nice(EMBEDDED_WORKER_NICENESS)


def run_worker(concurrency: int) -> None:
    from .worker import celery_app

    prepare_database()
    celery_app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=prefork",
                            f"--queues={get_settings().task_queue}",
                            "--without-gossip", "--without-mingle", "--without-heartbeat"])
