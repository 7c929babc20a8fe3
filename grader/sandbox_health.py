"""A worker's sandbox health: the canary, what a grading does on an infrastructure fault, and pausing the worker.

A broken sandbox (image or rootfs missing, numpy missing in it, bwrap that will not start) is never the student's
fault. So:
- Before a grading, `require_healthy()` raises SandboxUnhealthy if this worker's last canary failed, and runs the
  canary (grader.sandboxes.canary: `python3 -c "import numpy"` in the sandbox) when the last pass is older than
  Settings.sandbox_check_interval_s.
- A grading that ends in an infrastructure fault goes back to `queued` with `delayed_reason` set
  (grader.submissions.status.requeue_delayed),
  the task's message back to the broker, and the worker is marked sick (`report_fault`).
- In the worker's main process, a monitor thread (started on Celery's worker_ready) runs the canary at start; while
  the sandbox is sick it cancels the worker's queue consumer (it takes no work, so healthy workers take the queue),
  writes `sandbox_unhealthy` and the canary's error to its `workers` row, and re-checks with back-off; once the
  canary passes it consumes again and writes `ready`.

Health is shared between the main process and the prefork pool's children through shared memory made at import
(before the pool forks), so a child's fault pauses the worker within a second, and the monitor's pass lets every
child grade again.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import threading
import time
from datetime import datetime
from typing import Any

from celery import signals
from sqlalchemy import update

from sandbox import SandboxError

from .db.models import Worker, WorkerState
from .db.session import session_scope
from .sandboxes import sandbox_problem
from .settings import get_settings
from .workers import beat, current_worker_id, live_workers

log = logging.getLogger(__name__)

DETAIL_BYTES = 2000
POLL_S = 0.5  # how soon the monitor sees a child's fault
FLAP_WINDOW_S = 60.0  # a fault this soon after the canary passed again does not reset the back-off
UNHEALTHY_PAUSE_S = 1.0  # a child that finds the sandbox sick waits this long before giving the message back
RESEND_AFTER_S = 2  # the task's message is sent again after this (a healthy worker, or this one once well, takes it)

UNKNOWN, HEALTHY, UNHEALTHY = 0, 1, 2
_state = multiprocessing.Value(ctypes.c_int, UNKNOWN, lock=True)
_last_pass = multiprocessing.Value(ctypes.c_double, 0.0, lock=False)  # time.time() of the last passing canary
_detail = multiprocessing.Array(ctypes.c_char, DETAIL_BYTES, lock=True)


class SandboxUnhealthy(SandboxError):
    """This worker's sandbox failed its canary: the grading is not started, the submission waits in the queue."""


# ------------------------------------------------------------------------------------------------ shared state
def _set(state: int, detail: str | None = None) -> None:
    with _state.get_lock():
        _state.value = state
        if state == HEALTHY:
            _last_pass.value = time.time()
    if detail is not None:
        _detail.value = detail.encode(errors="replace")[: DETAIL_BYTES - 1]


def detail() -> str:
    return _detail.value.decode(errors="replace")


def check_now() -> str | None:
    """Run the canary here and record the outcome; None if it passed, else the operator's detail."""
    problem = sandbox_problem(get_settings())
    if problem is None:
        _set(HEALTHY, "")
    else:
        _set(UNHEALTHY, problem)
    return problem


def require_healthy() -> None:
    """Before taking a grading: SandboxUnhealthy if this worker's sandbox is known sick, or fails the canary run
    now because the last pass is older than Settings.sandbox_check_interval_s."""
    if _state.value == UNHEALTHY:
        time.sleep(UNHEALTHY_PAUSE_S)  # the monitor is about to cancel the consumer: do not spin on the message
        raise SandboxUnhealthy(f"the sandbox failed its canary: {detail()}")
    if time.time() - _last_pass.value > get_settings().sandbox_check_interval_s:
        problem = check_now()
        if problem is not None:
            raise SandboxUnhealthy(f"the sandbox failed its canary: {problem}")


def report_fault(error: BaseException) -> None:
    """A grading hit an infrastructure fault: the monitor pauses the worker and checks the canary before any
    other grading is taken here."""
    log.error("grading infrastructure fault, pausing this worker until its sandbox passes the canary: %s", error)
    _set(UNHEALTHY, str(error))


# ------------------------------------------------------------------------------------------------ database
def mark_worker(state: WorkerState, what: str | None) -> None:
    """Write this worker's state and detail (its row made first if nothing made it yet)."""
    key = current_worker_id()
    beat(key)
    with session_scope(write=True) as session:
        session.execute(update(Worker).where(Worker.id == key).values(state=state.value, detail=what))


def workers_by_state(now: datetime | None = None) -> dict[str, int]:
    """Live workers (grader.workers.live_workers: refreshed within the lease timeout) counted by state, every
    state present."""
    rows = live_workers(now)
    return {state.value: int(rows.get(state.value, 0)) for state in WorkerState}


def healthz_entry() -> str:
    """/healthz's "sandbox" check: ok; "degraded: ..." while some live workers' sandboxes are sick (others
    grade); "error: ..." when every live worker's is (nothing is graded until one recovers)."""
    counts = workers_by_state()
    sick, live = counts[WorkerState.sandbox_unhealthy.value], sum(counts.values())
    if not sick:
        return "ok"
    words = f"{sick} of {live} workers' sandboxes fail the canary (see the workers table's detail)"
    return f"error: {words}" if sick == live - counts[WorkerState.stopping.value] else f"degraded: {words}"


# ------------------------------------------------------------------------------------------------ the monitor
class Monitor:
    """In the worker's main process: pauses the queue consumer while the sandbox is sick, resumes it once well."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.queue = get_settings().task_queue
        self.stop = threading.Event()
        self.paused = False
        self.thread = threading.Thread(target=self._run, name="sandbox-health", daemon=True)

    def _run(self) -> None:
        delay, resumed_at = 1.0, 0.0
        problem = self._check()
        while not self.stop.is_set():
            if problem is None and _state.value != UNHEALTHY:
                self.stop.wait(POLL_S)
                continue
            if not self.paused:  # a child's fault, or the start-up check failed
                if time.monotonic() - resumed_at > FLAP_WINDOW_S:
                    delay = 1.0  # else a sandbox that passes the canary but fails gradings: keep backing off
                self._pause(problem or detail())
            if self.stop.wait(delay):
                return
            delay = min(delay * 2, get_settings().sandbox_recheck_max_s)
            problem = self._check()
            if problem is None:
                self._resume()
                resumed_at = time.monotonic()
            else:
                self._note_waiting()

    def _check(self) -> str | None:
        try:
            return check_now()
        except Exception as error:  # a fault of the check itself: still a sick sandbox, never a dead monitor
            log.exception("sandbox canary could not run")
            _set(UNHEALTHY, f"the canary could not run: {error}")
            return detail()

    def _pause(self, problem: str) -> None:
        log.error("sandbox unhealthy, this worker stops taking work until the canary passes: %s", problem)
        self.consumer.call_soon(self.consumer.cancel_task_queue, self.queue)
        self.paused = True
        self._mark(WorkerState.sandbox_unhealthy, problem)
        self._note_waiting()

    def _note_waiting(self) -> None:
        # Submissions queued while nothing grades say so to their students (their messages wait unconsumed).
        from .submissions.status import note_delayed_while_nothing_grades

        try:
            note_delayed_while_nothing_grades()
        except Exception:
            log.exception("could not mark the waiting submissions delayed")

    def _resume(self) -> None:
        log.warning("sandbox healthy again: this worker takes work again")
        if self.paused:
            self.consumer.call_soon(self.consumer.add_task_queue, self.queue)
            self.paused = False
        self._mark(WorkerState.ready, None)

    def _mark(self, state: WorkerState, what: str | None) -> None:
        try:
            mark_worker(state, what)
        except Exception:  # the database may be down too: the consumer is paused all the same
            log.exception("could not record the worker's sandbox state %s", state.value)


_monitor: Monitor | None = None


@signals.worker_ready.connect
def _start_monitor(sender: Any = None, **_: Any) -> None:
    global _monitor
    if sender is None or not hasattr(sender, "cancel_task_queue"):
        return
    _monitor = Monitor(sender)
    _monitor.thread.start()


@signals.worker_shutdown.connect
def _stop_monitor(**_: Any) -> None:
    if _monitor is not None:
        _monitor.stop.set()
