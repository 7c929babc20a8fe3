"""Settings: embedded defaults derived from the data folder, GRADER_* overrides, and the error classes'
HTTP shape (what the API's one handler will send)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.errors import BadUpload, Conflict, GraderError, NotFound, TooManyRequests, Unauthorized
from grader.settings import Settings, get_settings


def test_defaults_live_under_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("GRADER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    data = (tmp_path / "grader-data").resolve()
    assert settings.data_dir == data
    assert settings.database_url == f"sqlite:///{data / 'grader.db'}"
    assert settings.broker_url == f"sqla+sqlite:///{data / 'broker.sqlite'}"
    assert settings.archives == data / "archives"
    assert settings.sandbox == "auto" and settings.sandbox_choice is None
    assert settings.result_backend is None


def test_environment_overrides_with_the_grader_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRADER_DATABASE_URL", "postgresql://grader@db:5432/grader")
    monkeypatch.setenv("GRADER_BROKER_URL", "redis://redis:6379/0")
    monkeypatch.setenv("GRADER_SANDBOX", "docker")
    monkeypatch.setenv("GRADER_PORT", "9000")
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert get_settings() is settings  # read once per process
        assert settings.data_dir == tmp_path.resolve()
        # A bare postgresql:// URL gets the psycopg 3 driver we ship.
        assert settings.database_url == "postgresql+psycopg://grader@db:5432/grader"
        assert settings.broker_url == "redis://redis:6379/0"
        assert settings.sandbox_choice == "docker"
        assert settings.port == 9000
    finally:
        get_settings.cache_clear()


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_SANDBOX", "chroot")
    with pytest.raises(ValueError, match="GRADER_SANDBOX"):
        Settings()


def test_a_lease_shorter_than_two_heartbeats_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # One late renewal would cost a live grading its lease.
    monkeypatch.setenv("GRADER_LEASE_HEARTBEAT_S", "10")
    monkeypatch.setenv("GRADER_LEASE_TIMEOUT_S", "15")
    with pytest.raises(ValueError, match=r"LEASE_TIMEOUT_S \(15\) must be at least twice GRADER_LEASE_HEARTBEAT"):
        Settings()
    monkeypatch.setenv("GRADER_LEASE_TIMEOUT_S", "20")
    assert Settings().lease_timeout_s == 20


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    key = settings.secret_key_value()
    assert len(key) >= 48
    assert Settings(data_dir=tmp_path).secret_key_value() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert Settings(data_dir=tmp_path, secret_key="given").secret_key_value() == "given"


def test_errors_carry_status_detail_and_headers() -> None:
    assert NotFound().status_code == 404 and NotFound().detail == "not found"
    assert Conflict("taken").detail == "taken" and str(Conflict("taken")) == "taken"
    assert Unauthorized().headers == {"WWW-Authenticate": "Bearer"}
    limited = TooManyRequests("slow down", retry_after=0.2)
    assert limited.status_code == 429 and limited.headers == {"Retry-After": "1"}
    assert TooManyRequests(retry_after=59.01).headers == {"Retry-After": "60"}
    assert BadUpload("too big", status_code=413).status_code == 413
    assert BadUpload().status_code == 400
    assert all(issubclass(cls, GraderError) for cls in (NotFound, Conflict, Unauthorized, TooManyRequests, BadUpload))


def test_sandbox_knobs_answer_to_both_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # The old TINYTORCH_SANDBOX_* names (setup scripts, CI, older deployments) still work; GRADER_* wins.
    for name in ("IMAGE", "ROOTFS", "WORKDIR", "CGROUP_ROOT"):
        monkeypatch.delenv(f"GRADER_SANDBOX_{name}", raising=False)
    monkeypatch.delenv("GRADER_SANDBOX", raising=False)
    monkeypatch.setenv("TINYTORCH_SANDBOX", "bwrap")
    monkeypatch.setenv("TINYTORCH_SANDBOX_IMAGE", "old:1")
    monkeypatch.setenv("TINYTORCH_SANDBOX_ROOTFS", "/srv/old-rootfs")
    monkeypatch.setenv("TINYTORCH_SANDBOX_WORKDIR", "/srv/runs")
    settings = Settings()
    assert (settings.sandbox, settings.sandbox_image) == ("bwrap", "old:1")
    assert (settings.sandbox_rootfs, settings.sandbox_workdir) == (Path("/srv/old-rootfs"), Path("/srv/runs"))
    assert settings.sandbox_cgroup_root == Path("/sys/fs/cgroup")
    monkeypatch.setenv("GRADER_SANDBOX_IMAGE", "new:2")
    monkeypatch.setenv("GRADER_SANDBOX", "docker")
    assert (Settings().sandbox, Settings().sandbox_image) == ("docker", "new:2")
    assert Settings(sandbox_image="given:3").sandbox_image == "given:3"
