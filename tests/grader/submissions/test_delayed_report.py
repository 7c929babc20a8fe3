"""A submission put back in the queue for an infrastructure fault reads as "grading is delayed" to its student: in
words, with no host path and no operator instruction, and never as failed or scored."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import update
from submission_helpers import new_user

from grader.bootstrap import prepare_database
from grader.db.models import Submission
from grader.db.session import session_scope
from grader.submissions import service
from grader.submissions.report import submission_report
from grader.submissions.status import DELAYED_REASON, clear_delay, requeue_delayed


def test_a_delayed_submission_reads_as_delayed_to_its_student(isolated_env: Path, isolated_url: str,
                                                             reference_zip: Path) -> None:
    prepare_database(isolated_url)
    with session_scope(isolated_url, write=True) as session:
        student, _ = new_user(session, "student")
        key: uuid.UUID = service.accept_submission(session, student, reference_zip, "r.zip").id
        session.execute(update(Submission).where(Submission.id == key).values(status="running"))
    requeue_delayed(key, RuntimeError("sandbox rootfs missing at /var/lib/x; build it with build_image.sh"))
    with session_scope(isolated_url) as session:
        row = session.get(Submission, key)
        assert row is not None and row.status == "queued" and row.delayed_reason == DELAYED_REASON
        report = submission_report(row, viewer="student")
        assert report["delayed"] is not None and report["delayed"].startswith("Grading is delayed")
        assert "/" not in report["delayed"] and "build" not in report["delayed"]
        assert report["error"] is None and report["score"] is None
        row.status = "graded"  # only a queued submission is "delayed"
        assert submission_report(row, viewer="student")["delayed"] is None
    clear_delay(key)  # grading starts again on a healthy sandbox
    with session_scope(isolated_url) as session:
        row = session.get(Submission, key)
        assert row is not None and row.delayed_reason is None
