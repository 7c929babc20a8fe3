"""The one Settings of the service: every knob, read from `GRADER_*` environment variables (and nowhere else).

Nothing else in `grader` reads the environment. Defaults are the embedded ones (`grader serve` on a fresh
machine): SQLite and a SQLAlchemy-backed broker under `data_dir`, so no server is needed. Production sets
`GRADER_DATABASE_URL=postgresql+psycopg://...` and `GRADER_BROKER_URL=redis://...`.

    settings = get_settings()
    settings.database_url          # sqlite:////abs/grader-data/grader.db unless GRADER_DATABASE_URL is set
"""

from __future__ import annotations

import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SandboxKind = Literal["docker", "bwrap", "auto"]

MiB = 1024 * 1024
SECRET_KEY_FILE = "secret_key"


class Settings(BaseSettings):
    # populate_by_name: Settings(sandbox_image=...) works as well as the environment names below.
    model_config = SettingsConfigDict(env_prefix="GRADER_", extra="ignore", validate_default=True,
                                      populate_by_name=True)

    # Where the embedded defaults keep their state; made absolute at load time so that URLs derived from it
    # do not change meaning when a process changes its working directory.
    data_dir: Path = Path("./grader-data")

    # Empty means "derive from data_dir" (filled in by _derive_defaults below).
    database_url: str = ""
    # kombu's SQLAlchemy transport needs no server; production uses redis://.
    broker_url: str = ""
    # Grades live in the database, so Celery needs no result backend; set one only to inspect tasks.
    result_backend: str | None = None

    # Signs sessions and webhooks. Unset: a random key kept in <data_dir>/secret_key (see secret_key_value).
    secret_key: SecretStr | None = None

    # Database connections each process keeps open (PostgreSQL: times the number of API and worker processes
    # must stay under the server's max_connections).
    db_pool_size: int = Field(default=20, ge=1)
    # How long opening a database connection may take (PostgreSQL): a server that hangs instead of refusing (a
    # stopped process, a dropped network path) then fails a request with a 503 in seconds instead of holding it.
    db_connect_timeout_s: int = Field(default=10, ge=1)

    # The sandbox (docs/sandbox.md). Each knob also answers to its older TINYTORCH_SANDBOX_* name, which the
    # setup scripts, CI and older deployments set; GRADER_* wins when both are set. They reach the sandbox library
    # as arguments (grader.sandboxes.make_sandbox): sandbox/ reads no environment of its own.
    sandbox: SandboxKind = Field(default="auto", validation_alias=AliasChoices("GRADER_SANDBOX", "TINYTORCH_SANDBOX"))
    sandbox_image: str = Field(default="tinytorch-sandbox", min_length=1, validation_alias=AliasChoices(
        "GRADER_SANDBOX_IMAGE", "TINYTORCH_SANDBOX_IMAGE"))
    sandbox_rootfs: Path = Field(default=Path("/var/lib/tinytorch-grader/rootfs"), validation_alias=AliasChoices(
        "GRADER_SANDBOX_ROOTFS", "TINYTORCH_SANDBOX_ROOTFS"))
    # Run folders (each with its /out tmpfs); None: $TMPDIR/tinytorch-sandbox.
    sandbox_workdir: Path | None = Field(default=None, validation_alias=AliasChoices(
        "GRADER_SANDBOX_WORKDIR", "TINYTORCH_SANDBOX_WORKDIR"))
    sandbox_cgroup_root: Path = Field(default=Path("/sys/fs/cgroup"), validation_alias=AliasChoices(
        "GRADER_SANDBOX_CGROUP_ROOT", "TINYTORCH_SANDBOX_CGROUP_ROOT"))
    # A worker runs its sandbox's canary (python3 -c "import numpy" in the sandbox) at start, then this often while
    # it is healthy; while it is not, it takes no work and re-checks with back-off up to sandbox_recheck_max_s.
    sandbox_check_interval_s: float = Field(default=30.0, gt=0)
    sandbox_recheck_max_s: float = Field(default=30.0, gt=0)
    test_timeout_s: float = Field(default=60.0, gt=0)
    # The upload as sent, before decompression; matches IntakeLimits.max_archive_bytes by default.
    max_upload_bytes: int = Field(default=20 * MiB, gt=0)
    archive_dir: Path | None = None
    # Hard limit on one grading task (the soft limit is a little below it); a submission left 'running' this
    # long by a crashed worker may be claimed again.
    grading_time_limit_s: float = Field(default=1800.0, gt=60)
    # How often each API process looks for submissions that never reached the broker or were abandoned by a
    # dead worker (grader.submissions.sweeper); 0 turns that off, e.g. when `grader sweep` runs from cron.
    sweep_interval_s: float = Field(default=30.0, ge=0)
    # The instructor's dashboard counts a submission queued longer than this as stuck (grader.dashboard.status):
    # longer than a busy deadline's queue should ever make anyone wait.
    stuck_queued_s: float = Field(default=600.0, gt=0)
    # Leases on running gradings (grader.submissions.lease): the grading process renews its lease every
    # lease_heartbeat_s; a running grading whose lease is older than lease_timeout_s lost its holder (a killed
    # worker) and is taken over, by a redelivery of its message or by the sweeper. The worker's row in the
    # workers table is refreshed on the same beat and counts as alive for lease_timeout_s (/healthz).
    lease_heartbeat_s: float = Field(default=10.0, gt=0)
    lease_timeout_s: float = Field(default=45.0, gt=0)
    # A queued submission whose message went out this long ago and is still not taken may have lost its message
    # (a broker restarted without persistence): the sweeper sends it again (a duplicate is harmless).
    resend_queued_after_s: float = Field(default=120.0, gt=0)
    # Per-student fairness: a student's gradings started this recently count against them when a worker picks
    # the next queued submission, so one student's 20 resubmissions do not delay another student's first.
    fairness_window_s: float = Field(default=600.0, ge=0)
    # The broker queue the API sends gradings to and workers consume; separate queues let several services
    # (or test runs) share one Redis.
    task_queue: str = "grader"
    # The student's sandboxes one grading runs at once, at most: the extra ones only while the machine has cores
    # to spare (grader/grading/lanes.py), so a lone grading is faster and a busy worker is not oversubscribed.
    grading_lanes: int = Field(default=2, ge=1, le=8)
    # Tests only: every grading uses this challenge seed, so a served grade can be compared with `grader grade`.
    fixed_seed: int | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    # --- Overload and outages (docs/operations.md): what the API refuses with 503/408 instead of failing ---
    # An upload is refused (503) unless the archive store, the data dir, and the SQLite database and broker files
    # (when used) each keep this much free space after it: SQLite and the broker need room to commit.
    min_free_bytes: int = Field(default=200 * MiB, ge=0)
    # Retry-After on every 503 the API sends for an outage (database, disk, file descriptors, too many connections).
    unavailable_retry_after_s: int = Field(default=60, ge=1)
    # Open connections the HTTP server keeps at once; more are answered 503 at once and closed. None: half the
    # process's open-file limit, so the other half stays for the database pool, uploads' files and the store.
    http_max_connections: int | None = Field(default=None, ge=1)
    # Idle seconds a kept-alive connection is held between requests.
    http_keep_alive_s: int = Field(default=5, ge=1)
    # The request line and headers must all arrive within this many seconds of the connection (or of the
    # previous response), else 408 and the connection is closed: a client trickling headers holds no descriptor.
    http_head_timeout_s: float = Field(default=15.0, gt=0)
    # A request body gets this many seconds, plus one second per http_body_min_bytes_per_s bytes received so far;
    # a body slower than that on average is cut off with 408 (an honest 20 MB upload at 4 KiB/s gets 85 minutes).
    http_body_timeout_s: float = Field(default=30.0, gt=0)
    http_body_min_bytes_per_s: int = Field(default=4096, ge=1)

    # --- Sign-in (docs/sign-in.md) ---
    # The address people reach the service at (https://grader.example.edu): the base of emailed sign-in links, and
    # an https one makes the session cookie Secure. None: the link's base is the request's own URL.
    public_url: str | None = None
    # A signed-in browser's session lasts this long after its last request (sliding), then it must sign in again.
    session_days: float = Field(default=14.0, gt=0)
    # Secure session cookies even on plain-http requests (the service behind a TLS proxy that does not say so).
    session_cookie_secure: bool = False
    # Sign-in links are emailed only when smtp_host is set; otherwise people ask course staff for a link.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # STARTTLS before authenticating (port 587); off for a local relay on port 25 that offers no TLS.
    smtp_starttls: bool = True
    smtp_from: str = "TinyTorch grader <grader@localhost>"
    # A slow mail server holds one background sender this long at most, never the request that asked.
    smtp_timeout_s: float = Field(default=10.0, gt=0)

    # --- Webhooks to the LMS (docs/lms.md) ---
    # The waits between a delivery's tries (8 tries over about 24 h by default); tests shrink them.
    webhook_retry_s: list[float] = Field(default=[30.0, 120.0, 600.0, 1800.0, 7200.0, 21600.0, 54000.0])
    # One try's whole HTTP request (connect, send, answer) at most this long: a hung receiver costs one try.
    webhook_timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'grader.db'}"
        for plain in ("postgresql://", "postgres://"):
            # A bare PostgreSQL URL would make SQLAlchemy look for psycopg2; the driver we ship is psycopg 3.
            if self.database_url.startswith(plain):
                self.database_url = "postgresql+psycopg://" + self.database_url.removeprefix(plain)
        if not self.broker_url:
            self.broker_url = f"sqla+sqlite:///{self.data_dir / 'broker.sqlite'}"
        if self.lease_timeout_s < 2 * self.lease_heartbeat_s:
            # One late beat (a busy machine, a slow database) must not cost a live grading its lease.
            raise ValueError(f"GRADER_LEASE_TIMEOUT_S ({self.lease_timeout_s:g}) must be at least twice "
                             f"GRADER_LEASE_HEARTBEAT_S ({self.lease_heartbeat_s:g})")
        self.archive_dir = (self.archive_dir or self.data_dir / "archives").expanduser().resolve()
        return self

    @property
    def archives(self) -> Path:
        """The archive store's root (never None after validation; this property keeps callers' types simple)."""
        assert self.archive_dir is not None
        return self.archive_dir

    @property
    def sandbox_choice(self) -> Literal["docker", "bwrap"] | None:
        """The argument for `sandbox.get_sandbox`: None lets it pick docker when usable, else bwrap."""
        return None if self.sandbox == "auto" else self.sandbox

    def secret_key_value(self) -> str:
        """The configured key, else one generated once and kept under data_dir, so restarts keep sessions valid."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / SECRET_KEY_FILE
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # Written whole under a temporary name, then hard-linked into place: link() fails if the name
            # exists, so when two processes start together one key wins and nobody reads a half-written file.
            fd, temp = tempfile.mkstemp(prefix=".secret-", dir=self.data_dir)
            try:
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_urlsafe(48))
                os.link(temp, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(temp)
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once. Tests that change the environment call get_settings.cache_clear()."""
    return Settings()
