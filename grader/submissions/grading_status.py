"""`GET /api/v1/status`: is grading running, in words for students (the pages' banner). What exactly is wrong
(which sandbox, which host) is the operator's: /healthz, the workers table, `GET /api/v1/instructor/status`.

    grading_status(session)     # {"grading": "ok" | "paused" | "delayed", "message": "..."}

- paused: no live grading worker takes work (none runs, or every one's sandbox fails its canary, as when
  `grader serve` started on a machine whose sandbox is not set up): uploads are kept, nothing is graded yet.
- delayed: some worker grades, but submissions wait on the grading machine's problem (a sick worker, or queued
  submissions marked delayed).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.models import Submission, SubmissionStatus, Worker, WorkerState
from ..settings import get_settings

MESSAGES = {
    "ok": "Grading is running normally.",
    "paused": ("Grading is paused for the moment. Uploads are still accepted and kept safe in the queue; they will "
               "be graded as soon as grading resumes, with nothing for you to do."),
    "delayed": ("Grading is slower than usual because of a problem on the grading machine, not with anyone's work. "
                "Submissions are safe in the queue and will be graded; there is nothing to do."),
}


def grading_status(session: Session, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=get_settings().lease_timeout_s)
    alive = dict(session.execute(select(Worker.state, func.count()).where(Worker.heartbeat_at >= since)
                                 .group_by(Worker.state)).all())  # type: ignore[arg-type]
    if not alive.get(WorkerState.ready.value):
        state = "paused"
    else:
        delayed = session.scalar(select(func.count()).where(Submission.status == SubmissionStatus.queued.value,
                                                            Submission.delayed_reason.is_not(None))) or 0
        state = "delayed" if delayed or alive.get(WorkerState.sandbox_unhealthy.value) else "ok"
    return {"grading": state, "message": MESSAGES[state]}
