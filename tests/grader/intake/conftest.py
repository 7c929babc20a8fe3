"""Run intake the way the service does (archive in one folder, destination in another) and check that a
refusal leaves nothing behind beside the destination."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from grader.intake import IntakeError, IntakeLimits, Submission, unpack_submission

Unpack = Callable[..., Submission]
Refuse = Callable[..., IntakeError]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    path = tmp_path / "in"
    path.mkdir()
    return path


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    """The parent of every destination: the scratch folder is made here, so it must end up empty on refusal."""
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture
def unpack(outbox: Path) -> Unpack:
    def run(source: Path, limits: IntakeLimits | None = None) -> Submission:
        submission = unpack_submission(source, outbox / "submission", limits)
        assert sorted(p.name for p in outbox.iterdir()) == ["submission"], "something was left beside dest"
        return submission

    return run


@pytest.fixture
def refuse(outbox: Path) -> Refuse:
    def run(source: Path, limits: IntakeLimits | None = None) -> IntakeError:
        with pytest.raises(IntakeError) as caught:
            unpack_submission(source, outbox / "submission", limits)
        assert list(outbox.iterdir()) == [], "a refused upload left files behind"
        error = caught.value
        assert error.code == type(error).code
        return error

    return run
