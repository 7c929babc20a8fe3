"""The comparison on a real database (SQLite and PostgreSQL): a copy is matched to the reference; students are
compared incrementally and a shared module is named; the pairs follow the student's counting submission; a
failed grading is not compared; a duplicate message does nothing; starter code registered as boilerplate stops
honest students looking alike; hostile packages are compared without breaking anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.courses.service import get_course
from grader.db.models import SimilarityDocument, SimilarityPair, Submission
from grader.db.session import session_scope
from grader.errors import BadUpload
from grader.similarity import library
from grader.similarity.comparison import compare_counting
from grader.similarity.service import report
from tests.fixtures.similarity import build
from tests.grader.similarity.helpers import capstone, graded, student


@pytest.fixture
def env(service_database: str) -> str:
    return service_database


def hand_in(name: str, package: Path, score: float = 50.0) -> str:
    """`package` graded for student `name` (made on first use), committed; the submission's id."""
    from grader.db.models import User

    with session_scope(write=True) as session:
        user = session.scalar(select(User).where(User.email == f"{name}@uni.edu")) or student(session, name)
        return str(graded(session, user, package, score).id)


def listing() -> dict:  # type: ignore[type-arg]
    with session_scope() as session:
        course = get_course(session, "default")
        return report(session, course, capstone(session))


def test_a_copy_is_matched_to_the_reference_once(env: str, tmp_path: Path) -> None:
    import uuid

    key = hand_in("copier", build.stripped(tmp_path / "copy"))
    assert compare_counting(uuid.UUID(key)) == "compared"
    assert compare_counting(uuid.UUID(key)) == "nothing to do"  # a duplicate message
    body = listing()
    top = body["pairs"][0]
    assert top["kind"] == "known" and top["b"]["known"]["label"] == "tinytorch_reference"
    assert top["a"]["student"]["email"] == "copier@uni.edu" and top["score"] >= 0.8
    assert body["compared"] == 1 and body["pending"] == 0
    assert top["files"] and top["shared_lines"] > 1000


def test_students_are_compared_incrementally_and_the_shared_module_is_named(env: str, tmp_path: Path) -> None:
    import uuid

    keys = [hand_in("h1", build.honest(tmp_path / "h1", 1)), hand_in("s1", build.shared_module(tmp_path / "s1", 2)),
            hand_in("s2", build.shared_module(tmp_path / "s2", 3))]
    assert listing()["pending"] == 3
    for key in keys:
        compare_counting(uuid.UUID(key))
    body = listing()
    students = [p for p in body["pairs"] if p["kind"] == "student"]
    assert len(students) == 1  # the honest one resembles nobody
    pair = students[0]
    assert {pair["a"]["student"]["email"], pair["b"]["student"]["email"]} == {"s1@uni.edu", "s2@uni.edu"}
    assert pair["files"][0]["a_path"] == "tinytorch/" + build.SHARED_MODULE
    # the reference holds the shared module too: both students also match it, only on that module
    known = [p for p in body["pairs"] if p["kind"] == "known"]
    assert {p["a"]["student"]["email"] for p in known} == {"s1@uni.edu", "s2@uni.edu"}


def test_pairs_follow_the_counting_submission_and_a_failed_grading_is_not_compared(env: str, tmp_path: Path) -> None:
    import uuid

    first = hand_in("ada", build.reference(tmp_path / "copy"), score=50.0)
    compare_counting(uuid.UUID(first))
    assert listing()["pairs"][0]["a"]["submission_id"] == first
    better = hand_in("ada", build.honest(tmp_path / "own", 5), score=90.0)  # best policy: this counts now
    assert compare_counting(uuid.UUID(first)) == "compared"  # a late message for the old one compares the new one
    assert listing()["pairs"] == []
    with session_scope() as session:
        assert session.get(SimilarityDocument, uuid.UUID(first)).counting is False  # type: ignore[union-attr]
        assert session.get(SimilarityDocument, uuid.UUID(better)).counting is True  # type: ignore[union-attr]
    with session_scope(write=True) as session:
        failed = session.get(Submission, uuid.UUID(better))
        assert failed is not None
        other = student(session, "bob")
        row = Submission(assignment_id=failed.assignment_id, user_id=other.id, archive_sha256=failed.archive_sha256,
                         status="failed", error="boom")
        session.add(row)
        session.flush()
        failed_id = row.id
    assert compare_counting(failed_id) == "not graded"


def test_starter_code_registered_as_boilerplate_is_ignored(env: str, tmp_path: Path) -> None:
    import uuid

    keys = [hand_in(name, build.with_starter(build.honest(tmp_path / name, seed)))
            for name, seed in (("a", 31), ("b", 32))]
    for key in keys:
        compare_counting(uuid.UUID(key))
    alike = [p for p in listing()["pairs"] if p["kind"] == "student"]
    assert alike and alike[0]["score"] > 0.3  # the scaffolding alone
    with session_scope(write=True) as session:
        library.add_source(session, get_course(session, "default"), build.starter(tmp_path / "starter"),
                           "starter", library.BOILERPLATE)
        from grader.similarity.service import rescan

        ids = rescan(session, capstone(session))
    for key in ids:
        compare_counting(key)
    assert [p for p in listing()["pairs"] if p["kind"] == "student"] == []


def test_hostile_packages_are_compared_without_harm(env: str, tmp_path: Path) -> None:
    import uuid

    package = build.honest(tmp_path / "odd", 41)
    core = package / "tinytorch" / "core"
    (core / "latin1.py").write_bytes(b"# caf\xe9\nx = '\xff\xfe'\n" * 50)
    (core / "huge.py").write_text("value = value + 1\n" * 40_000)  # ~700 KB: cut at the engine's cap
    (core / "notes.txt").write_text("not python")
    for i in range(1500):
        (core / f"tiny_{i}.py").write_text("a = 1\n")
    key = hand_in("odd", package)
    assert compare_counting(uuid.UUID(key)) == "compared"
    with session_scope() as session:
        document = session.get(SimilarityDocument, uuid.UUID(key))
        assert document is not None and 0 < document.files < 100
        assert session.scalars(select(SimilarityPair)).all() == []


def test_a_known_solution_intake_refuses_is_a_bad_upload_naming_why(env: str, tmp_path: Path) -> None:
    folder = build.honest(tmp_path / "linked", 51)
    os.symlink("/etc/passwd", folder / "tinytorch" / "core" / "passwd.py")
    (tmp_path / "garbage.zip").write_bytes(b"PK\x03\x04 not really a zip")
    for path in (folder, tmp_path / "garbage.zip"):
        with session_scope(write=True) as session, pytest.raises(BadUpload) as refused:
            library.add_source(session, get_course(session, "default"), path, "x", library.KNOWN)
        assert "refused" in refused.value.detail
