"""Fixtures for the sandbox tests: each sandbox kind (on a machine made ready by tests/conftest.py's
`sandbox_ready`, never skipped) and a submission folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import Sandbox, get_sandbox

REPO = Path(__file__).resolve().parents[2]
KINDS = ["docker", "bwrap"]


@pytest.fixture(params=KINDS)
def sandbox(request: pytest.FixtureRequest, sandbox_ready: None) -> Sandbox:
    return get_sandbox(request.param)


@pytest.fixture
def submission(tmp_path: Path) -> Iterator[Path]:
    """A small submission folder. tmp_path's parents are 0700 (root only): the sandboxes must cope with that."""
    sub = tmp_path / "submission"
    (sub / "tinytorch").mkdir(parents=True)
    (sub / "tinytorch" / "__init__.py").write_text("VALUE = 42\n")
    (sub / "data.txt").write_text("submitted data\n")
    for path in [sub, *sub.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield sub
