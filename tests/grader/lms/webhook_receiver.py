"""For the webhook tests: a real receiver on loopback that verifies every request with the stock
`standardwebhooks` library and answers as its script says, and a graded submission made through record_grade.

    with Receiver(secret, ["fail", "fail", "ok"]) as receiver:   # then "ok" for every later request
        receiver.url, receiver.requests, receiver.applied        # applied: de-duplicated on webhook-id
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from grader.courses.service import ensure_default_course
from grader.db.models import Assignment, Submission, User
from grader.grading.grade import GradeReport
from grader.scoring import Group, ScoredTest, ScoreSheet
from grader.submissions.service import record_grade
from grader.users.service import create_user

HANG_S = 3.0
LONG_BODY = "x" * 5000


@dataclass
class Received:
    webhook_id: str | None
    verified: bool
    payload: Any
    answered: int | str


@dataclass
class Receiver:
    secret: str
    script: list[str] = field(default_factory=list)  # per request: ok, fail, long-fail, hang, late-ok, gone
    requests: list[Received] = field(default_factory=list)
    applied: dict[str, Any] = field(default_factory=dict)  # webhook-id -> payload, each applied once

    def __post_init__(self) -> None:
        receiver = self
        hook = Webhook(self.secret)
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with lock:
                    action = receiver.script.pop(0) if receiver.script else "ok"
                try:
                    payload, verified = hook.verify(body, {k.lower(): v for k, v in self.headers.items()}), True
                except Exception as error:
                    payload, verified = {"error": repr(error)}, False
                webhook_id = self.headers.get("webhook-id")
                with lock:
                    receiver.requests.append(Received(webhook_id, verified, payload, action))
                    # late-ok: applied, but answered after the sender's timeout (it must not be applied twice)
                    if action in ("ok", "late-ok") and verified and webhook_id not in receiver.applied:
                        receiver.applied[webhook_id] = payload  # a receiver de-duplicates on webhook-id
                if action in ("hang", "late-ok"):
                    time.sleep(HANG_S)
                code = {"ok": 200 if verified else 400, "fail": 500, "long-fail": 503, "hang": 200, "late-ok": 200,
                        "gone": 410}[action]
                text = LONG_BODY if action == "long-fail" else f"answer {code}"
                try:
                    self.send_response(code)
                    self.send_header("content-length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text.encode())
                except OSError:
                    pass  # the sender gave up waiting (the hang)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def grade_report(score: float = 3.0, max_score: float = 5.0) -> GradeReport:
    tests = (ScoredTest("capstone", "t1", 1, "passed", score, max_score, True, "visible"),)
    sheet = ScoreSheet(score, max_score, (Group("capstone:P1", 1, "P1", score, max_score),), tests)
    now = datetime.now(UTC)
    return GradeReport(seed=1, suites=["capstone"], sheet=sheet, results={}, runtime={}, suite_version="v",
                       started_at=now, finished_at=now)


def capstone(session: Session) -> Assignment:
    course = ensure_default_course(session)
    assert course is not None
    return next(a for a in course.assignments if a.slug == "capstone")


def new_student(session: Session) -> User:
    return create_user(session, f"ada-{uuid.uuid4().hex[:8]}@uni.edu", "student")[0]


def graded_submission(session: Session, student: User | None = None, score: float = 3.0) -> Submission:
    """A submission to the default course's capstone, graded through record_grade (flushed, not committed)."""
    assignment = capstone(session)
    student = student or new_student(session)
    row = Submission(id=uuid.uuid4(), assignment_id=assignment.id, user_id=student.id, archive_sha256="0" * 64,
                     status="running")
    session.add(row)
    session.flush()
    return record_grade(session, row.id, grade_report(score))
