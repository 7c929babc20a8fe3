"""For the LMS tests that run a real `grader worker` (Celery on Redis): the worker's environment and process, the
LTI rows a launch would have left (a registration, the student's `sub`, the capstone's line item), and waiting.

    with lms_worker(env, tmp_path / "worker.log") as running:   # ready once Celery says "ready."
    kill_hard(running)                                          # SIGKILL to the worker's whole process group
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from lti_platform import LtiPlatformServer
from running_server import GraderProcess, grader_env, grader_process
from sqlalchemy.orm import Session

from grader.db.models import LtiIdentity, LtiLineItem, LtiPlatform, User
from grader.lms.lti.ags import SCORE_SCOPE
from grader.lms.lti.keys import public_jwks
from grader.lms.lti.platforms import add_platform

T = TypeVar("T")


def worker_env(database_url: str, broker_url: str, data_dir: Path, queue: str, **more: str) -> dict[str, str]:
    return grader_env(GRADER_DATABASE_URL=database_url, GRADER_BROKER_URL=broker_url, GRADER_DATA_DIR=str(data_dir),
                      GRADER_TASK_QUEUE=queue, GRADER_SANDBOX="bwrap", **more)


@contextmanager
def lms_worker(env: dict[str, str], log: Path) -> Iterator[GraderProcess]:
    with grader_process(("worker",), env, log, ready=lambda w: "ready." in w.read_log(), timeout=90) as running:
        yield running


def kill_hard(running: GraderProcess) -> None:
    """kill -9 the worker and its pool children at once, as a machine's crash would."""
    os.killpg(running.process.pid, signal.SIGKILL)
    running.process.wait()


def launched_student(session: Session, platform: LtiPlatformServer, assignment_id: int, student: User,
                     sub: str) -> LtiPlatform:
    """What a launch with the AGS claim leaves behind: the registration, the student's `sub` on it and the
    assignment's line item (the launch itself is test_lti_end_to_end's); the platform trusts the tool's keys."""
    registration = add_platform(session, **platform.registration_fields())
    session.add(LtiIdentity(platform_id=registration.id, sub=sub, user_id=student.id))
    session.add(LtiLineItem(platform_id=registration.id, assignment_id=assignment_id,
                            lineitem_url=platform.lineitem_url(), scopes=[SCORE_SCOPE]))
    session.flush()
    platform.trust_tool_keys(public_jwks(session))
    return registration


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.2,
               between: Callable[[], object] | None = None) -> T:
    """check()'s first truthy value; `between` runs after each miss (a sweep, say). Fails naming `what`."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(interval)
        if between is not None:
            between()
    return found
