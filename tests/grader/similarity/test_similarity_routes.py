"""The similarity routes through the real app (grader.api.app.create_app) on a database of the test's own: staff
read the list and a pair's side-by-side view and review it; instructors register known solutions and starter
code; a student gets 403, another course's staff 404, an archive intake refuses 400 with the reason."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from grader.api.app import create_app
from grader.bootstrap import prepare_database
from grader.courses.roster import add_member
from grader.courses.service import create_course, get_course
from grader.db import migrate
from grader.db.session import dispose_engines, session_scope
from grader.settings import get_settings
from grader.similarity.comparison import compare_counting
from grader.users.service import create_user
from tests.fixtures.similarity import build
from tests.grader.similarity.helpers import graded, student, zip_package

LIST = "/api/v1/instructor/courses/default/assignments/capstone/similarity"
KNOWN = "/api/v1/instructor/courses/default/similarity/known"


@dataclass
class World:
    client: TestClient
    prof: dict[str, str]
    ta: dict[str, str]
    ada: dict[str, str]
    stranger: dict[str, str]
    copy_id: str


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    migrate.upgrade(empty_database_url)
    monkeypatch.setenv("GRADER_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GRADER_BROKER_URL", raising=False)
    get_settings.cache_clear()
    prepare_database()
    with session_scope(write=True) as session:
        course = get_course(session, "default")
        prof, prof_token = create_user(session, "prof@uni.edu", "instructor")
        add_member(session, course, prof.email, role="instructor")
        _, ta_token = create_user(session, "ta@uni.edu", "student")
        add_member(session, course, "ta@uni.edu", role="ta")
        ada = student(session, "ada")
        ada_token = create_user(session, "ada2@uni.edu", "student")[1]
        other = create_course(session, "ml101", "Other course")
        stranger, stranger_token = create_user(session, "stranger@uni.edu", "instructor")
        add_member(session, other, stranger.email, role="instructor")
        copy_id = str(graded(session, ada, build.renamed(tmp_path / "copy")).id)
    compare_counting(uuid.UUID(copy_id))
    with TestClient(create_app()) as client:
        yield World(client, _h(prof_token), _h(ta_token), _h(ada_token), _h(stranger_token), copy_id)
    get_settings.cache_clear()
    dispose_engines()


def test_staff_read_the_list_and_the_side_by_side_view_and_review(world: World) -> None:
    body = world.client.get(LIST, headers=world.ta).json()
    assert body["course"] == "default" and body["engine"].startswith("copydetect")
    pair = body["pairs"][0]
    assert pair["kind"] == "known" and pair["a"]["submission_id"] == world.copy_id and pair["score"] >= 0.8
    detail = world.client.get(f"{LIST}/{pair['id']}", headers=world.prof).json()
    assert detail["sides"]["a"] and detail["sides"]["b"] and detail["fragments"]
    frag = detail["fragments"][0]
    a_text = next(s["text"] for s in detail["sides"]["a"] if s["path"] == frag["a_path"])
    assert 1 <= frag["a_start"] <= frag["a_end"] <= len(a_text.splitlines())
    reviewed = world.client.put(f"{LIST}/{pair['id']}/review", headers=world.ta,
                                json={"status": "flagged", "note": "same as the reference"}).json()
    assert reviewed["status"] == "flagged" and reviewed["reviewed_by"] == "ta@uni.edu"
    assert world.client.get(LIST, params={"status": "cleared"}, headers=world.prof).json()["pairs"] == []
    bad = world.client.put(f"{LIST}/{pair['id']}/review", headers=world.prof, json={"status": "guilty"})
    assert bad.status_code == 400 and "status must be one of" in bad.json()["detail"]
    long = world.client.put(f"{LIST}/{pair['id']}/review", headers=world.prof, json={"status": "cleared",
                                                                                     "note": "x" * 2001})
    assert long.status_code == 400
    cleared = world.client.put(f"{LIST}/{pair['id']}/review", headers=world.prof,
                               json={"status": "cleared", "note": "   "}).json()
    assert cleared["status"] == "cleared" and cleared["note"] is None  # an empty note clears it
    assert world.client.get(f"{LIST}/999999", headers=world.prof).status_code == 404


def test_who_may_ask(world: World) -> None:
    assert world.client.get(LIST).status_code == 401
    assert world.client.get(LIST, headers=world.ada).status_code == 403
    assert world.client.get(LIST, headers=world.stranger).status_code == 404
    pair_id = world.client.get(LIST, headers=world.prof).json()["pairs"][0]["id"]
    assert world.client.get(f"{LIST}/{pair_id}", headers=world.ada).status_code == 403
    assert world.client.get(f"{LIST}/{pair_id}", headers=world.stranger).status_code == 404
    assert world.client.get(KNOWN, headers=world.ada).status_code == 403
    other = "/api/v1/instructor/courses/ml101/assignments/capstone/similarity"
    assert world.client.get(other, headers=world.prof).status_code == 404


def test_instructors_register_known_solutions_and_a_refused_archive_is_400(world: World, tmp_path: Path) -> None:
    upload = zip_package(build.stripped(tmp_path / "sol"), tmp_path / "sol.zip")
    with upload.open("rb") as handle:
        made = world.client.post(KNOWN, headers=world.prof, files={"file": ("sol.zip", handle)},
                                 data={"label": "official 2025"})
    assert made.status_code == 201 and made.json()["label"] == "official 2025" and made.json()["files"] > 10
    listed = world.client.get(KNOWN, headers=world.ta).json()
    assert [row["label"] for row in listed] == ["tinytorch_reference", "official 2025"] and listed[0]["built_in"]
    with upload.open("rb") as handle:
        assert world.client.post(KNOWN, headers=world.ta, files={"file": ("s.zip", handle)}).status_code == 403
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../../etc/evil.py", "x = 1\n")
    refused = world.client.post(KNOWN, headers=world.prof, files={"file": ("evil.zip", evil.getvalue())})
    assert refused.status_code == 400 and "refused" in refused.json()["detail"]
    gone = world.client.delete(f"{KNOWN}/{made.json()['id']}", headers=world.prof)
    assert gone.status_code == 204
    assert world.client.delete(f"{KNOWN}/{listed[0]['id']}", headers=world.prof).status_code == 404  # built in


def test_an_upload_past_the_archive_cap_is_413_before_it_fills_the_disk(world: World) -> None:
    from grader.intake import IntakeLimits

    big = b"\0" * (IntakeLimits().max_archive_bytes + 1)
    refused = world.client.post(KNOWN, headers=world.prof, files={"file": ("big.zip", big)})
    assert refused.status_code == 413 and "MiB" in refused.json()["detail"]
