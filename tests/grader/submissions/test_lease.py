"""Leases and fair claiming (grader.submissions.tasks.claim, .lease, .fairness) on real databases (SQLite and
PostgreSQL): a claim names its holder, a live lease keeps others out, an expired one (or one held by a process
gone from this host) is taken over once, and the taken-over holder's result does not count. A message is a token
for the fairest queued submission: one student's 20 resubmissions do not delay another student's first."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from submission_helpers import new_user

from grader.bootstrap import prepare_database
from grader.db.models import Submission, SubmissionStatus, Worker
from grader.db.session import session_scope
from grader.settings import get_settings
from grader.submissions import service
from grader.submissions.lease import renew, still_held
from grader.submissions.tasks import claim
from grader.workers import beat, current_worker_id, forget_dead_on_this_host, hostname, live_workers


def submissions_of(url: str, upload: Path, count: int) -> list[uuid.UUID]:
    """`count` queued submissions of one new student, oldest first."""
    with session_scope(url, write=True) as session:
        student, _ = new_user(session, "student")
        return [service.accept_submission(session, student, upload, "r.zip").id for _ in range(count)]


def row(url: str, submission_id: uuid.UUID) -> Submission:
    with session_scope(url) as session:
        found = session.get(Submission, submission_id)
        assert found is not None
        return found


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_claim_is_a_lease_that_only_an_expired_holder_loses(isolated_env: Path, isolated_url: str,
                                                               reference_zip: Path) -> None:
    prepare_database(isolated_url)
    (submission_id,) = submissions_of(isolated_url, reference_zip, 1)
    now = datetime.now(UTC)
    first = claim(submission_id, now).lease
    assert first is not None and first.submission_id == submission_id and first.attempt == 1
    held = row(isolated_url, submission_id)
    assert (held.status, held.claimed_by) == ("running", current_worker_id())

    timeout = get_settings().lease_timeout_s
    assert renew(first, now + timedelta(seconds=10))
    # A redelivery while the lease is fresh: nothing to take, and it is told when the lease would expire.
    busy = claim(submission_id, now + timedelta(seconds=20))
    assert busy.lease is None and timeout - 10 < busy.busy_for_s <= timeout - 10 + 1

    # The holder stopped renewing: past the lease, a redelivery takes the grading over, exactly once.
    later = now + timedelta(seconds=10 + timeout + 1)
    second = claim(submission_id, later).lease
    assert second is not None and second.attempt == 2
    assert not claim(submission_id, later)
    # The first holder finds its lease gone: no renewal, and its result would not be recorded.
    assert not renew(first)
    with session_scope(isolated_url, write=True) as session:
        assert not still_held(session, first)
        assert still_held(session, second)


def test_a_holder_whose_process_is_gone_from_this_host_is_taken_over_at_once(
        isolated_env: Path, isolated_url: str, reference_zip: Path) -> None:
    prepare_database(isolated_url)
    gone, alive = submissions_of(isolated_url, reference_zip, 2)
    now = datetime.now(UTC)
    with session_scope(isolated_url, write=True) as session:
        for submission_id, holder in ((gone, f"{hostname()}:{dead_pid()}:dead"),
                                      (alive, f"{hostname()}:1:alive")):  # pid 1 always exists
            session.execute(update(Submission).where(Submission.id == submission_id)
                            .values(status="running", claimed_by=holder, heartbeat_at=now, started_at=now,
                                    attempt=1))
    taken = claim(gone, now).lease
    assert taken is not None and taken.submission_id == gone and taken.attempt == 2
    assert claim(alive, now).busy_for_s > 0  # a live holder keeps its lease


def test_one_students_resubmissions_do_not_delay_anothers_first(isolated_env: Path, isolated_url: str,
                                                                reference_zip: Path) -> None:
    prepare_database(isolated_url)
    eager = submissions_of(isolated_url, reference_zip, 20)
    (first_timer,) = submissions_of(isolated_url, reference_zip, 1)
    tokens = [*eager, first_timer]  # the messages, in upload order
    graded: list[uuid.UUID] = []
    now = datetime.now(UTC)
    for step, token in enumerate(tokens):  # one worker, one grading at a time
        lease = claim(token, now + timedelta(seconds=step)).lease
        assert lease is not None, f"message {step} found nothing to grade"
        _finish(lease.submission_id)
        graded.append(lease.submission_id)
    assert graded[0] == eager[0] and graded[1] == first_timer  # not 21st
    assert sorted(graded) == sorted(tokens)  # every submission graded exactly once
    assert graded[2:] == eager[1:]  # the rest in upload order
    assert not claim(first_timer)  # a duplicate message finds nothing left


def test_two_workers_take_different_students_first(isolated_env: Path, isolated_url: str,
                                                   reference_zip: Path) -> None:
    prepare_database(isolated_url)
    eager = submissions_of(isolated_url, reference_zip, 5)
    (other,) = submissions_of(isolated_url, reference_zip, 1)
    one, two = claim(eager[0]).lease, claim(eager[1]).lease
    assert one is not None and two is not None
    # The second message is eager[1]'s, but its student has a grading running and another student waits.
    assert (one.submission_id, two.submission_id) == (eager[0], other)
    assert row(isolated_url, eager[1]).status == "queued"


def test_the_worker_registry_counts_live_workers(isolated_env: Path, isolated_url: str) -> None:
    prepare_database(isolated_url)
    assert live_workers() == {}
    beat("elsewhere:42:abcd")
    gone = f"{hostname()}:{dead_pid()}:gone"
    beat(gone, datetime.now(UTC) - timedelta(hours=1))
    assert live_workers() == {"ready": 1}  # the one an hour old is dead
    assert forget_dead_on_this_host() == 1
    with session_scope(isolated_url) as session:
        assert session.get(Worker, gone) is None and session.get(Worker, "elsewhere:42:abcd") is not None



def _finish(submission_id: uuid.UUID) -> None:
    """The grading ends (what record_grade's status change does, without a report to record)."""
    with session_scope(write=True) as session:
        session.execute(update(Submission).where(Submission.id == submission_id)
                        .values(status=SubmissionStatus.graded.value))
