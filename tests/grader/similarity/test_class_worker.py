"""A class of 30 through the real pieces: each grade is recorded with record_grade (the hook sends the comparison
after the commit), a real `grader worker` consumes `<queue>.similarity` from the embedded broker, and the route's
JSON ranks the 3 copies (the reference unchanged, renamed and reordered, stripped and re-spaced) first."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from running_server import grader_process

from grader.api.app import create_app
from grader.bootstrap import prepare_database
from grader.courses.roster import add_member
from grader.courses.service import get_course
from grader.db import migrate
from grader.db.session import dispose_engines, session_scope
from grader.settings import get_settings
from grader.users.service import create_user
from tests.fixtures.similarity import build
from tests.grader.similarity.helpers import graded, student

LIST = "/api/v1/instructor/courses/default/assignments/capstone/similarity"
COPIES = {"copy-plain": build.reference, "copy-renamed": build.renamed, "copy-stripped": build.stripped}
HONEST = 27


@pytest.fixture
def env(empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    migrate.upgrade(empty_database_url)
    values = {"GRADER_DATABASE_URL": empty_database_url, "GRADER_DATA_DIR": str(tmp_path / "data"),
              "GRADER_SANDBOX": "bwrap", "GRADER_TASK_QUEUE": f"sim-{os.getpid()}"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GRADER_BROKER_URL", raising=False)
    get_settings.cache_clear()
    prepare_database()
    env = {k: v for k, v in os.environ.items() if k != "GRADER_BROKER_URL"}
    yield env
    get_settings.cache_clear()
    dispose_engines()


def test_the_three_copies_of_a_class_of_30_are_ranked_first(env: dict[str, str], tmp_path: Path) -> None:
    with session_scope(write=True) as session:
        prof, token = create_user(session, "prof@uni.edu", "instructor")
        add_member(session, get_course(session, "default"), prof.email, role="instructor")
    # Each grade in its own transaction, as the worker commits them: the task is sent after each commit.
    for name, make in COPIES.items():
        with session_scope(write=True) as session:
            graded(session, student(session, name), make(tmp_path / name))
    for seed in range(HONEST):
        with session_scope(write=True) as session:
            graded(session, student(session, f"honest{seed}"), build.honest(tmp_path / f"h{seed}", 100 + seed))
    with grader_process(("worker",), env, tmp_path / "worker.log", ready=lambda w: "ready." in w.read_log(),
                        timeout=90), TestClient(create_app()) as client:
        deadline = time.monotonic() + 240
        while True:
            body = client.get(LIST, headers={"Authorization": f"Bearer {token}"},
                              params={"limit": 1000}).json()
            if body["compared"] == 30 and body["pending"] == 0:
                break
            assert time.monotonic() < deadline, f"compared {body['compared']} of 30"
            time.sleep(1)
    pairs = body["pairs"]
    copiers = {f"{name}@uni.edu" for name in COPIES}

    def people(pair: dict) -> set[str]:  # type: ignore[type-arg]
        sides = [pair["a"], pair["b"]] if pair["kind"] == "student" else [pair["a"]]
        return {side["student"]["email"] for side in sides}

    # Every pair of the copies comes first (each with the reference, and the three with each other), far above
    # anything an honest student is part of.
    copied = [p for p in pairs if people(p) <= copiers]
    assert len(copied) == 3 + 3 and pairs[:6] == copied
    assert set().union(*(people(p) for p in pairs[:3])) == copiers
    assert {next(iter(people(p))) for p in copied if p["kind"] == "known"} == copiers
    assert min(p["score"] for p in copied) >= 0.8
    assert max((p["score"] for p in pairs[6:]), default=0.0) < 0.2
