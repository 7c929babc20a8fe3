"""Shared by the similarity tests: a database of the test's own (SQLite and PostgreSQL), packages as stored
archives, and graded submissions written through the real record_grade (so the real hook runs)."""

from __future__ import annotations

import uuid
import zipfile
from pathlib import Path

from sqlalchemy.orm import Session

from grader.courses.service import ensure_default_course
from grader.db.models import Assignment, Submission, User
from grader.grading.grade import GradeReport
from grader.intake import ArchiveStore
from grader.scoring import Group, ScoredTest, ScoreSheet
from grader.settings import get_settings
from grader.submissions.service import record_grade
from grader.users.service import create_user


def zip_package(root: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w") as archive:
        for path in sorted((root / "tinytorch").rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    return dest


def capstone(session: Session) -> Assignment:
    course = ensure_default_course(session)
    assert course is not None
    return next(a for a in course.assignments if a.slug == "capstone")


def student(session: Session, name: str) -> User:
    return create_user(session, f"{name}@uni.edu", "student")[0]


def report(score: float) -> GradeReport:
    from datetime import UTC, datetime

    tests = (ScoredTest("capstone", "t1", 1, "passed", score, 100.0, True, "visible"),)
    sheet = ScoreSheet(score, 100.0, (Group("capstone:P1", 1, "P1", score, 100.0),), tests)
    now = datetime.now(UTC)
    return GradeReport(seed=1, suites=["capstone"], sheet=sheet, results={}, runtime={}, suite_version="v",
                       started_at=now, finished_at=now)


def graded(session: Session, user: User, package: Path, score: float = 50.0) -> Submission:
    """`package` (a folder holding tinytorch/) handed in by `user` to the default capstone and graded; flushed."""
    archive = zip_package(package, package.parent / f"{package.name}-{uuid.uuid4().hex[:6]}.zip")
    sha = ArchiveStore(get_settings().archives).put(archive)
    row = Submission(id=uuid.uuid4(), assignment_id=capstone(session).id, user_id=user.id, archive_sha256=sha,
                     status="running")
    session.add(row)
    session.flush()
    return record_grade(session, row.id, report(score))
