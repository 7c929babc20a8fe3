"""The grading machine's disk fills up under a grading (the worker's scratch folder on a full file system, a real
tmpfs): that is the grader's problem, never the student's, so the submission goes back to the queue marked
delayed with a message out for it, never `failed`, never scored. The task runs in this process, as a worker's
pool child runs it, on the embedded broker."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from outage_services import small_tmpfs
from sqlalchemy import select
from submission_helpers import new_user

from grader import sandbox_health
from grader.bootstrap import prepare_database
from grader.db.models import Submission
from grader.db.session import session_scope
from grader.settings import get_settings
from grader.submissions import service

MiB = 1024 * 1024


def test_a_full_scratch_disk_puts_the_submission_back_delayed(
        sandbox_ready: None, isolated_env: Path, isolated_url: str, tmp_path: Path, reference_zip: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.worker import grade_submission

    monkeypatch.setenv("GRADER_SANDBOX", "bwrap")
    runs = Path(tempfile.mkdtemp(prefix="grader-test-runs-"))  # the sandbox's own folders have room (and its
    runs.chmod(0o755)                                             # uid reaches them, unlike pytest's tmp_path)
    monkeypatch.setenv("GRADER_SANDBOX_WORKDIR", str(runs))
    get_settings.cache_clear()
    prepare_database(isolated_url)
    with session_scope(isolated_url, write=True) as session:
        student, _ = new_user(session, "student")
        key: uuid.UUID = service.accept_submission(session, student, reference_zip, "r.zip").id
    assert sandbox_health.check_now() is None  # the sandbox is well: only the disk is at fault
    with small_tmpfs(tmp_path / "scratch", "1m") as scratch:
        (scratch / "filler").write_bytes(b"\0" * MiB)  # every block taken
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))
        try:
            assert grade_submission(str(key)) == "delayed"
        finally:
            monkeypatch.setattr(tempfile, "tempdir", None)
            assert sandbox_health.check_now() is None  # this process's sandbox state back: later tests may grade
            shutil.rmtree(runs, ignore_errors=True)
    with session_scope(isolated_url) as session:
        row = session.scalars(select(Submission).where(Submission.id == key)).one()
        assert (row.status, row.score, row.error, row.claimed_by) == ("queued", None, None, None)
        assert row.delayed_reason and "/" not in row.delayed_reason
        report = service.get_report(session, student, key)
    assert report["delayed"] and "not yours" in report["delayed"] and report["tests"] == []
