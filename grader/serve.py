"""`grader serve` (the API with a worker alongside, on embedded defaults) and `grader worker` (production)."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import select

from .bootstrap import prepare_database
from .courses.service import enroll, ensure_default_course
from .db.models import Role, User
from .db.session import session_scope
from .settings import get_settings
from .users.service import create_user

FIRST_INSTRUCTOR = "instructor@localhost"
EMBEDDED_WORKER_NICENESS = 10


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
    worker = _start_worker(grading_workers) if grading_workers else None
    try:
        uvicorn.run(create_app(), host=host, port=port, log_level="warning", **uvicorn_options(settings))
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()


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
