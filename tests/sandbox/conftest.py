"""Fixtures for the sandbox tests: a ready machine (never skipped), each sandbox kind, a submission folder.

If docker, bubblewrap, the image or the rootfs are missing, `bash sandbox/setup.sh` runs once per session; when it
fails, every sandbox test errors with its output. Skipping would let CI go green without ever testing isolation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import Sandbox, SandboxError, get_sandbox

REPO = Path(__file__).resolve().parents[2]
KINDS = ["docker", "bwrap"]


def _missing() -> list[str]:
    missing = [tool for tool in ("docker", "dockerd", "bwrap", "setpriv", "prlimit") if shutil.which(tool) is None]
    if missing:
        return missing
    for kind in KINDS:
        try:
            get_sandbox(kind).describe()
        except SandboxError as exc:
            missing.append(f"{kind}: {exc}")
    return missing


@pytest.fixture(scope="session")
def sandbox_ready() -> None:
    if os.geteuid() != 0:
        pytest.fail("the sandbox tests must run as root (tmpfs mounts, cgroups, dockerd)", pytrace=False)
    missing = _missing()
    if not missing:
        return
    proc = subprocess.run(["bash", str(REPO / "sandbox" / "setup.sh")], capture_output=True, text=True, cwd=REPO)
    still = _missing() if proc.returncode == 0 else missing
    if proc.returncode != 0 or still:
        pytest.fail(
            f"sandbox/setup.sh could not prepare this machine (missing: {still}); exit {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}",
            pytrace=False,
        )


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
