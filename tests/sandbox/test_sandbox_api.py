"""The sandbox API without running anything hostile: spec validation, infrastructure errors, output capping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox import DEFAULT_ENV, Limits, RunSpec, Sandbox, SandboxError, get_sandbox
from sandbox.bubblewrap import BubblewrapSandbox
from sandbox.capture import TailBuffer
from sandbox.docker import DockerSandbox


def test_get_sandbox_kinds() -> None:
    assert isinstance(get_sandbox("docker"), DockerSandbox)
    assert isinstance(get_sandbox("bwrap"), BubblewrapSandbox)
    assert isinstance(get_sandbox("docker"), Sandbox) and isinstance(get_sandbox("bwrap"), Sandbox)
    with pytest.raises(ValueError, match="unknown sandbox kind"):
        get_sandbox("chroot")  # type: ignore[arg-type]


def test_get_sandbox_auto_prefers_docker(sandbox_ready: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_sandbox().name == "docker"
    monkeypatch.setenv("TINYTORCH_SANDBOX", "bwrap")  # the library reads no environment: the caller chooses
    assert get_sandbox().name == "docker"
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # daemon unreachable: falls back
    assert get_sandbox().name == "bwrap"


def test_settings_reach_the_sandbox_as_arguments(tmp_path: Path) -> None:
    docker = get_sandbox("docker", image="some-image:1", rootfs=tmp_path, workdir=tmp_path / "runs",
                         cgroup_root=tmp_path / "cg")
    assert isinstance(docker, DockerSandbox)
    assert (docker.image, docker.workdir, docker.cgroup_root) == ("some-image:1", tmp_path / "runs", tmp_path / "cg")
    bwrap = get_sandbox("bwrap", image="some-image:1", rootfs=tmp_path / "root", workdir=tmp_path / "runs")
    assert isinstance(bwrap, BubblewrapSandbox)
    assert (bwrap.rootfs, bwrap.workdir) == (tmp_path / "root", tmp_path / "runs")


def test_default_spec_env_is_the_safe_default_not_the_host(tmp_path: Path) -> None:
    spec = RunSpec(submission=tmp_path, argv=["python3"])
    assert spec.env == DEFAULT_ENV and spec.env is not DEFAULT_ENV
    assert spec.limits == Limits()
    assert Limits().memory_bytes == 1 << 30 and Limits().pids == 128 and Limits().output_bytes == 1 << 20


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"argv": []}, "argv"),
        ({"argv": ["A=1", "python3"]}, "must not contain '='"),
        ({"argv": ["python3"], "env": {"BAD NAME": "x"}}, "invalid variable name"),
        ({"argv": ["python3"], "env": {"X": "two\nlines"}}, "single-line"),
        ({"argv": ["python3"], "code": {Path("/"): "/usr/lib/x"}}, "reserved"),
        ({"argv": ["python3"], "code": {Path("/"): "/tmp/x"}}, "reserved"),
        ({"argv": ["python3"], "code": {Path("/"): "grader"}}, "absolute"),
        ({"argv": ["python3"], "code": {Path("/"): "/grader/../etc"}}, "absolute"),
        ({"argv": ["python3"], "code": {Path("/nonexistent-path"): "/grader"}}, "does not exist"),
    ],
)
def test_runspec_rejects(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RunSpec(submission=tmp_path, **kwargs)


def test_runspec_stdin_must_be_an_open_readable_fd(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        spec = RunSpec(submission=tmp_path, argv=["python3"], stdin=read_end)
        assert spec.stdin == read_end and RunSpec(submission=tmp_path, argv=["python3"]).stdin is None
        for bad, message in ((write_end, "not readable"), ("0", "file descriptor"), (True, "file descriptor"),
                             (-1, "file descriptor")):
            with pytest.raises(ValueError, match=message):
                RunSpec(submission=tmp_path, argv=["python3"], stdin=bad)  # type: ignore[arg-type]
    finally:
        os.close(read_end)
        os.close(write_end)
    with pytest.raises(ValueError, match="not open"):
        RunSpec(submission=tmp_path, argv=["python3"], stdin=1_000_000)  # above any open fd (nofile limit)


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        Limits(pids=0)
    with pytest.raises(ValueError):
        Limits(wall_seconds=-1)


def test_missing_image_says_how_to_build_it(sandbox_ready: None) -> None:
    with pytest.raises(SandboxError, match=r"build_image\.sh"):
        DockerSandbox(image="tinytorch-sandbox-does-not-exist").describe()


def test_daemon_down_is_an_infrastructure_error(sandbox_ready: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(SandboxError, match="daemon not reachable"):
        DockerSandbox().describe()


def test_missing_docker_cli_and_rootfs(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="not found"):
        DockerSandbox(docker=str(tmp_path / "no-docker")).describe()
    with pytest.raises(SandboxError, match=r"build_image\.sh"):
        BubblewrapSandbox(rootfs=tmp_path / "no-rootfs").describe()


def test_tail_buffer_keeps_the_last_bytes() -> None:
    tail = TailBuffer(10)
    for i in range(1000):
        tail.write(str(i % 10).encode() * 7)
    assert tail.total == 7000
    assert tail.getvalue() == b"888" + b"9" * 7
    small = TailBuffer(10)
    small.write(b"abc")
    assert small.getvalue() == b"abc"
