"""Helpers for the submission tests (a uniquely named module: `conftest` is ambiguous on sys.path)."""

from __future__ import annotations

import os
import secrets
import zipfile
from pathlib import Path

from sqlalchemy.orm import Session

from grader.courses.service import enroll
from grader.db.models import Assignment, User
from grader.users.service import create_user

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO / "tinytorch_reference"
# The bubblewrap rootfs sandbox/setup.sh installed: tests point a symlink of their own at it, or away from it.
REAL_ROOTFS = Path("/var/lib/tinytorch-grader/rootfs").resolve()


def point_symlink(link: Path, target: Path) -> None:
    """Swap the symlink atomically, as an operator's `ln -sfn` of a rebuilt rootfs would."""
    temp = link.with_name(f".{link.name}.new")
    temp.unlink(missing_ok=True)
    temp.symlink_to(target)
    os.replace(temp, link)


def zip_package(folder: Path, dest: Path) -> Path:
    """dest, a zip of folder/tinytorch (as a student would upload it)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((folder / "tinytorch").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return dest


def new_user(session: Session, role: str) -> tuple[User, str]:
    return create_user(session, f"{role}-{secrets.token_hex(4)}@example.org", role)


def instructor_of(session: Session, assignment: Assignment) -> tuple[User, str]:
    user, token = new_user(session, "instructor")
    enroll(session, user, assignment.course)
    return user, token


def wait_until(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):  # type: ignore[no-untyped-def]
    """predicate()'s first truthy value, polling; AssertionError naming `what` after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
