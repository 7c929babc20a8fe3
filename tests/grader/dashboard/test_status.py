"""The operational view: stuck gradings of the user's courses, the oldest wait, and whether grading runs, in
the operator's words (the workers table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.orm import Session

from grader.dashboard.status import grading_status
from grader.db.models import Submission, Worker
from grader.errors import Forbidden
from grader.settings import Settings, get_settings
from grader.users.service import create_user

STUCK_QUEUED_S = Settings().stuck_queued_s

if TYPE_CHECKING:
    from conftest import Campus

# Far from the wall clock: rows other tests left in the shared database are long dead at this moment.
NOW = datetime(2031, 1, 1, 9, 0, tzinfo=UTC)


def worker(session: Session, name: str, state: str = "ready", detail: str | None = None,
           age_s: float = 1.0) -> None:
    session.add(Worker(id=f"{name}:1:abcd", hostname=name, pid=1, state=state, detail=detail,
                       started_at=NOW - timedelta(hours=1), heartbeat_at=NOW - timedelta(seconds=age_s)))
    session.flush()


def waiting(campus: Campus, user_key: str, seconds: float, *, status: str = "queued", **fields: object) -> Submission:
    user = getattr(campus, user_key)
    submission = campus.submit(user, campus.hw1 if user_key != "carl" else campus.other_hw, None, status=status)
    submission.created_at = NOW - timedelta(seconds=seconds)
    for key, value in fields.items():
        setattr(submission, key, value)
    campus.session.flush()
    return submission


def test_all_well(campus: Campus) -> None:
    worker(campus.session, "gpu1")
    waiting(campus, "ada", 30)
    assert grading_status(campus.session, campus.teacher, NOW) == {
        "stuck_gradings": 0, "oldest_queued_s": pytest.approx(30.0), "grading": "ok", "detail": None}
    campus.session.query(Submission).delete()
    assert grading_status(campus.session, campus.teacher, NOW)["oldest_queued_s"] is None


def test_stuck_gradings_of_my_courses_are_counted(campus: Campus) -> None:
    worker(campus.session, "gpu1")
    admin, _ = create_user(campus.session, "root@example.edu", "admin")
    # Admins see every course's, including any another test module left committed in the shared database.
    before = grading_status(campus.session, admin, NOW)["stuck_gradings"]
    lease = get_settings().lease_timeout_s
    waiting(campus, "ada", STUCK_QUEUED_S + 60)  # queued too long
    waiting(campus, "bob", 5, delayed_reason="the grading machine's sandbox is not working right now")
    waiting(campus, "ada", 400, status="running", started_at=NOW - timedelta(seconds=400),
            heartbeat_at=NOW - timedelta(seconds=lease + 5))  # its worker died
    waiting(campus, "bob", 400, status="running", started_at=NOW - timedelta(seconds=400),
            heartbeat_at=NOW - timedelta(seconds=2))  # alive: not stuck
    waiting(campus, "carl", STUCK_QUEUED_S * 10)  # cs2's: not cs1 staff's business
    mine = grading_status(campus.session, campus.ta, NOW)
    assert mine["stuck_gradings"] == 3
    assert mine["oldest_queued_s"] == pytest.approx(STUCK_QUEUED_S + 60)
    assert mine["grading"] == "delayed" and "3 grading(s) stuck" in mine["detail"]
    assert grading_status(campus.session, campus.other_ta, NOW)["stuck_gradings"] == 1
    everything = grading_status(campus.session, admin, NOW)
    assert everything["stuck_gradings"] == before + 4 and everything["oldest_queued_s"] >= STUCK_QUEUED_S * 10


def test_a_sick_sandbox_is_named_in_the_operators_words(campus: Campus) -> None:
    worker(campus.session, "gpu1")
    worker(campus.session, "gpu2", "sandbox_unhealthy", "rootfs /srv/rootfs: numpy is missing")
    shown = grading_status(campus.session, campus.teacher, NOW)
    assert shown["grading"] == "delayed"
    assert "1 of 2" in shown["detail"] and "gpu2: rootfs /srv/rootfs: numpy is missing" in shown["detail"]


def test_grading_is_paused_when_no_worker_takes_work(campus: Campus) -> None:
    shown = grading_status(campus.session, campus.teacher, NOW)
    assert shown["grading"] == "paused" and "no grading worker has reported" in shown["detail"]
    worker(campus.session, "gpu1", age_s=get_settings().lease_timeout_s + 1)  # dead: does not count
    assert grading_status(campus.session, campus.teacher, NOW)["grading"] == "paused"
    worker(campus.session, "gpu2", "sandbox_unhealthy", "bwrap: setting up uid map: Permission denied")
    shown = grading_status(campus.session, campus.teacher, NOW)
    assert shown["grading"] == "paused" and "bwrap: setting up uid map" in shown["detail"]


def test_a_huge_detail_is_cut(campus: Campus) -> None:
    worker(campus.session, "gpu1", "sandbox_unhealthy", "x" * 100_000)
    assert len(grading_status(campus.session, campus.teacher, NOW)["detail"]) <= 2000


def test_students_are_refused(campus: Campus) -> None:
    with pytest.raises(Forbidden):
        grading_status(campus.session, campus.ada, NOW)
