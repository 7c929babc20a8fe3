"""The hourly limit holds when one student's uploads arrive at the same moment (SQLite and PostgreSQL), each in
its own connection and transaction, as they do from concurrent requests."""

from __future__ import annotations

import threading
from pathlib import Path

from submission_helpers import new_user

from grader.courses.service import create_assignment, create_course, enroll
from grader.db.models import Submission, User
from grader.db.session import session_scope
from grader.errors import TooManyRequests
from grader.submissions import service

LIMIT = 2
AT_ONCE = 8


def test_concurrent_uploads_cannot_overrun_the_hourly_limit(isolated_env: Path) -> None:
    with session_scope(write=True) as session:
        course = create_course(session, "race", "Race course")
        create_assignment(session, course, "lab", "Lab", max_submissions_per_hour=LIMIT)
        student, _ = new_user(session, "student")
        enroll(session, student, course)
        student_id = student.id

    start = threading.Barrier(AT_ONCE)
    outcomes: list[str] = []

    def upload() -> None:
        start.wait()
        try:
            with session_scope(write=True) as session:
                user = session.get(User, student_id)
                assert user is not None
                service.record_submission(session, user, "0" * 64, "race/lab")
            outcomes.append("accepted")
        except TooManyRequests:
            outcomes.append("limited")
        except Exception as error:  # any other failure must show in the assertion, not vanish with the thread
            outcomes.append(f"error: {error!r}")

    threads = [threading.Thread(target=upload) for _ in range(AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["accepted"] * LIMIT + ["limited"] * (AT_ONCE - LIMIT)
    with session_scope() as session:
        assert session.query(Submission).filter_by(user_id=student_id).count() == LIMIT
