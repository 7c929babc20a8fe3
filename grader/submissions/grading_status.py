"""Is grading running: one rule for the students' banner (`GET /api/v1/status`, in words, no detail) and the
staff's view (grader.dashboard.status, with the operator's detail and the stuck gradings of their courses).

    grading_status(session)                    # {"grading": "ok" | "paused" | "delayed", "message": "..."}
    grading_state(workers, waiting, words)     # ("delayed", "1 of 2 workers' sandboxes fail ...")

- paused: no live grading worker takes work (none runs, or every one's sandbox fails its canary, as when
  `grader serve` started on a machine whose sandbox is not set up): uploads are kept, nothing is graded yet.
- delayed: some worker grades, but submissions wait on the grading machine's problem (a sick worker, or
  submissions waiting: for students, queued ones marked delayed; for staff, their courses' stuck gradings).
What exactly is wrong (which sandbox, which host) is the operator's: /healthz, the workers table, the detail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.models import Submission, SubmissionStatus, Worker, WorkerState
from ..settings import get_settings
from ..workers import alive_workers

DETAIL_CHARS = 2000

MESSAGES = {
    "ok": "Grading is running normally.",
    "paused": ("Grading is paused for the moment. Uploads are still accepted and kept safe in the queue; they will "
               "be graded as soon as grading resumes, with nothing for you to do."),
    "delayed": ("Grading is slower than usual because of a problem on the grading machine, not with anyone's work. "
                "Submissions are safe in the queue and will be graded; there is nothing to do."),
}


def grading_state(workers: list[Worker], waiting: int, waiting_words: str) -> tuple[str, str | None]:
    """The state, and the operator's words for it (None when all is well), from the live workers' rows and
    how many submissions wait on the machine (`waiting_words` says which)."""
    sick = [w for w in workers if w.state == WorkerState.sandbox_unhealthy.value]
    ready = [w for w in workers if w.state == WorkerState.ready.value]
    sick_words = "; ".join(f"{w.hostname}: {w.detail or 'the sandbox fails its canary'}" for w in sick)
    if not workers:
        return "paused", (f"no grading worker has reported in the last {get_settings().lease_timeout_s:g} s: "
                          "submissions wait in the queue until a `grader worker` runs")
    if not ready:
        if sick:
            return "paused", f"every live worker's sandbox fails its canary ({sick_words})"[:DETAIL_CHARS]
        return "paused", "every live grading worker is stopping; none takes work"
    if sick:
        return "delayed", (f"{len(sick)} of {len(workers)} workers' sandboxes fail their canary, the others "
                           f"grade ({sick_words})")[:DETAIL_CHARS]
    if waiting:
        return "delayed", f"{waiting} {waiting_words} although the workers report healthy"
    return "ok", None


def grading_status(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """The students' banner: the state in words, without the operator's detail."""
    delayed = session.scalar(select(func.count()).where(Submission.status == SubmissionStatus.queued.value,
                                                        Submission.delayed_reason.is_not(None))) or 0
    state, _ = grading_state(alive_workers(session, now), delayed, "queued submission(s) marked delayed")
    return {"grading": state, "message": MESSAGES[state]}
