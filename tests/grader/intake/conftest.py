"""Run intake the way the service does (archive in one folder, destination in another) and check that a
refusal leaves nothing behind beside the destination.

Every upload also goes through `check_submission` (the API's check, which writes nothing): it must accept
exactly what `unpack_submission` accepts, with the same listing, and refuse the rest with the same error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import pytest

from grader.intake import IntakeError, IntakeLimits, Listing, Submission, check_submission, unpack_submission

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
        listing = check_submission(source, limits)
        assert list(outbox.iterdir()) == [], "the check wrote something"
        submission = unpack_submission(source, outbox / "submission", limits)
        assert sorted(p.name for p in outbox.iterdir()) == ["submission"], "something was left beside dest"
        assert listing == Listing(**{f.name: getattr(submission, f.name) for f in fields(Listing)})
        return submission

    return run


@pytest.fixture
def refuse(outbox: Path) -> Refuse:
    def run(source: Path, limits: IntakeLimits | None = None) -> IntakeError:
        with pytest.raises(IntakeError) as checked:
            check_submission(source, limits)
        with pytest.raises(IntakeError) as caught:
            unpack_submission(source, outbox / "submission", limits)
        assert list(outbox.iterdir()) == [], "a refused upload left files behind"
        error = caught.value
        assert (type(checked.value), str(checked.value)) == (type(error), str(error)), "check and unpack disagree"
        assert error.code == type(error).code
        return error

    return run
