"""The service's sandbox from the one Settings, and its canary: `python3 -c "import numpy"` inside a real sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.sandboxes import canary, make_sandbox
from grader.settings import Settings


@pytest.mark.parametrize("kind", ["docker", "bwrap"])
def test_the_canary_passes_on_a_working_sandbox(sandbox_ready: None, kind: str) -> None:
    assert canary(make_sandbox(Settings(), kind)) is None  # type: ignore[arg-type]


def test_the_canary_names_a_missing_image_or_rootfs(sandbox_ready: None, tmp_path: Path) -> None:
    docker = make_sandbox(Settings(sandbox_image="tinytorch-sandbox:no-such-tag"), "docker")
    assert "no-such-tag" in (canary(docker) or "")
    bwrap = make_sandbox(Settings(sandbox_rootfs=tmp_path / "missing"), "bwrap")
    assert "rootfs missing" in (canary(bwrap) or "")


def test_the_canary_fails_where_numpy_is_missing(rootfs_without_numpy: Path, image_without_numpy: str) -> None:
    for sandbox in (make_sandbox(Settings(sandbox_rootfs=rootfs_without_numpy), "bwrap"),
                    make_sandbox(Settings(sandbox_image=image_without_numpy), "docker")):
        problem = canary(sandbox)
        assert problem is not None and "No module named 'numpy'" in problem, (sandbox.name, problem)


def test_settings_choose_the_sandbox_and_its_places(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRADER_SANDBOX", "bwrap")
    monkeypatch.setenv("GRADER_SANDBOX_ROOTFS", str(tmp_path / "root"))
    monkeypatch.setenv("GRADER_SANDBOX_WORKDIR", str(tmp_path / "runs"))
    monkeypatch.setenv("GRADER_SANDBOX_CGROUP_ROOT", str(tmp_path / "cg"))
    sandbox = make_sandbox(Settings())
    assert sandbox.name == "bwrap"
    assert (sandbox.rootfs, sandbox.workdir, sandbox.cgroup_root) == (  # type: ignore[attr-defined]
        tmp_path / "root", tmp_path / "runs", tmp_path / "cg")
