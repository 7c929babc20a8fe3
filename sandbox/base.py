"""What every sandbox takes and returns: limits, one run's spec, its raw result, the Sandbox protocol.

A sandbox runs one command against one untrusted package and reports facts measured from outside (exit status,
time, memory, captured output, files written to /out). It never decides whether anything passed: the trusted
side does that (see docs/architecture.md, "The trust boundary").
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, runtime_checkable

MiB = 1024 * 1024
GiB = 1024 * MiB

# Where things appear inside every sandbox (both kinds use the same layout, so probes need not care).
SUB_DIR = "/sub"  # the submission, read-only; also the working directory
OUT_DIR = "/out"  # the only place results can be written to and read back from
TMP_DIR = "/tmp"  # scratch, size-capped, gone after the run
SANDBOX_UID = 65534  # nobody:nogroup in the image; never a uid that owns anything on the host
SANDBOX_GID = 65534

# The environment a run gets unless the caller says otherwise. Mirrors the ENV of sandbox/Dockerfile (plus PATH), so
# a run sees the same variables under either sandbox. Nothing of the caller's own environment is ever added.
DEFAULT_ENV: dict[str, str] = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLCONFIGDIR": "/tmp",
}

# Extra read-only mounts may not land on or under these: they are the image's own system folders or the sandbox's
# runtime mounts. Keeping one rule for both sandboxes keeps them interchangeable (bubblewrap can only create mount
# points on its own empty root, not inside the read-only system folders).
RESERVED_TOP_DIRS = frozenset(
    {"bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "media", "mnt", "opt", "proc", "root",
     "run", "sbin", "srv", "sys", "tmp", "usr", "var", "sub", "out"}
)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class SandboxError(RuntimeError):
    """The sandbox itself could not run (daemon down, image missing, no cgroups, ...); not the student's fault.

    Raised instead of returning a RunResult, so infrastructure trouble can never be scored as a failing submission.
    """


class SandboxNotStarted(SandboxError):
    """The sandbox failed before the command ran (no start marker): bwrap's or the container's own set-up failed.

    Never the command's doing, whatever exit status the runtime reported (bwrap exits 3 on a set-up failure, which
    a command may exit with too; only the start marker tells them apart, see launch.py).
    """


@dataclass(frozen=True)
class Limits:
    """Hard limits for one run. Defaults follow docs/sandbox.md (measured on this host)."""

    memory_bytes: int = 1 * GiB  # RAM, and RAM+swap is set to the same value: no swap
    pids: int = 128  # processes + threads, the sandbox's init included
    cpus: float = 1.0  # CFS quota in CPUs
    wall_seconds: float = 120.0  # then everything is killed and timed_out is set
    tmpfs_bytes: int = 64 * MiB  # /tmp
    shm_bytes: int = 16 * MiB  # /dev/shm (docker --read-only still leaves it writable)
    output_bytes: int = 1 * MiB  # tail kept of stdout, and separately of stderr
    out_bytes: int = 16 * MiB  # size of the /out filesystem, and the most read back from it
    out_files: int = 256  # most regular files read back from /out

    def __post_init__(self) -> None:
        for name in ("memory_bytes", "pids", "tmpfs_bytes", "shm_bytes", "output_bytes", "out_bytes", "out_files"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")
        if not (self.cpus > 0 and self.wall_seconds > 0):
            raise ValueError("Limits.cpus and Limits.wall_seconds must be positive")
        if self.memory_bytes < 16 * MiB:
            raise ValueError("Limits.memory_bytes below 16 MiB cannot start python")


@dataclass(frozen=True)
class RunSpec:
    """One command against one submission.

    submission: host folder, mounted read-only at /sub (must be readable by uid 65534).
    code: extra read-only mounts, host path -> absolute path inside (e.g. the probes at /grader).
    argv: the command; argv[0] is looked up on PATH inside the sandbox.
    env: the complete environment of the process. Nothing else is added, the host's environment never.
    """

    submission: Path
    argv: list[str]
    code: dict[Path, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ENV))
    limits: Limits = field(default_factory=Limits)
    # True: a minimal init is PID 1 and reaps zombies (docker --init, bwrap's own reaper). False: argv itself is
    # PID 1, for a command that reaps its own children and must not be killable from inside (the kernel delivers
    # no signal from inside a PID namespace to its init unless init handles it).
    init: bool = True
    # Called in the thread running run() (never another) with each chunk of stdout as it arrives, e.g. for live
    # progress or the answers to what is written to `stdin`. What it sees is raw and untrusted; the result's stdout
    # is what counts.
    on_stdout: Callable[[bytes], None] | None = field(default=None, compare=False)
    # A live input stream for the command: a readable fd, typically the read end of an os.pipe() the caller made.
    # The command's stdin delivers exactly the bytes written to the other end, as they are written, and EOF once
    # every write end is closed. None: stdin is /dev/null. The CALLER owns the fd: run() never closes it, reads it
    # only while the run lasts (nothing else may read it meanwhile; keep it blocking), and leaves it open when it
    # returns. Bytes the command has not read when the run ends are never delivered. A writer blocked on a full
    # pipe (a command that does not read) is released when the caller closes this read end after run() returned:
    # its write then fails with EPIPE (BrokenPipeError), under either sandbox. See README.md, "Live stdin".
    stdin: int | None = field(default=None, compare=False)
    # Called once (in the thread running run()) when the command has been launched, with what a caller may watch
    # while it runs: {"memory_cgroup", "cpu_cgroup": the run's cgroup v1 memory and cpuacct folders, whose counters
    # cover every process of the run}. A caller that measures phases of a long run (one test of many) reads there.
    on_started: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.stdin is not None:
            if not isinstance(self.stdin, int) or isinstance(self.stdin, bool) or self.stdin < 0:
                raise ValueError(f"RunSpec.stdin must be a file descriptor (int) or None, got {self.stdin!r}")
            try:
                mode = fcntl.fcntl(self.stdin, fcntl.F_GETFL) & os.O_ACCMODE
            except OSError as exc:
                raise ValueError(f"RunSpec.stdin: fd {self.stdin} is not open") from exc
            if mode not in (os.O_RDONLY, os.O_RDWR):
                raise ValueError(f"RunSpec.stdin: fd {self.stdin} is not readable")
        if not self.argv or not all(isinstance(a, str) and "\0" not in a for a in self.argv):
            raise ValueError("RunSpec.argv must be a non-empty list of strings without NUL")
        # argv[0] goes through `env -u ... -- argv`: a '=' would make env read it as an assignment.
        if "=" in self.argv[0]:
            raise ValueError("RunSpec.argv[0] must not contain '='")
        for name, value in self.env.items():
            if not _ENV_NAME.match(name):
                raise ValueError(f"RunSpec.env: invalid variable name {name!r}")
            # docker --env-file is line based, so values are single-line on both sandboxes.
            if not isinstance(value, str) or "\0" in value or "\n" in value or "\r" in value:
                raise ValueError(f"RunSpec.env[{name!r}] must be a single-line string")
        targets = set()
        for host, target in self.code.items():
            pure = PurePosixPath(target)
            if not pure.is_absolute() or ".." in pure.parts or len(pure.parts) < 2:
                raise ValueError(f"RunSpec.code: target {target!r} must be an absolute path below /")
            if pure.parts[1] in RESERVED_TOP_DIRS:
                raise ValueError(f"RunSpec.code: target {target!r} is inside reserved /{pure.parts[1]}")
            if not Path(host).exists():
                raise ValueError(f"RunSpec.code: {host} does not exist")
            targets.add(str(pure))
        if len(targets) != len(self.code):
            raise ValueError("RunSpec.code: two mounts share a target")
        if not Path(self.submission).is_dir():
            raise ValueError(f"RunSpec.submission: {self.submission} is not a directory")


@dataclass
class RunResult:
    """Raw facts about one run, all measured from outside the sandbox.

    exit_code: the command's exit status (128+N when killed by signal N, e.g. 137 for the OOM killer), or None when
    the sandbox killed it at the wall limit (timed_out). oom_killed: the memory cgroup killed a process of the run
    (possibly a child, so exit_code can be 0). peak_memory_bytes: the cgroup's peak charge (RSS + page cache + tmpfs).
    stdout/stderr: the last Limits.output_bytes of each; *_total: how many bytes were written in all.
    files: regular files under /out (relative posix path -> content); symlinks, devices, fifos and whatever is beyond
    the caps are not read, and listed in files_skipped with the reason.
    """

    exit_code: int | None
    timed_out: bool
    oom_killed: bool
    wall_seconds: float
    cpu_seconds: float
    peak_memory_bytes: int
    stdout: bytes
    stderr: bytes
    stdout_total: int = 0
    stderr_total: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    files_skipped: dict[str, str] = field(default_factory=dict)
    runtime: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Sandbox(Protocol):
    """Runs one RunSpec under hard limits. Implementations: DockerSandbox, BubblewrapSandbox."""

    name: str

    def run(self, spec: RunSpec) -> RunResult:
        """Run to completion or to the wall limit; leave nothing behind. Raises SandboxError on infra failure."""
        ...

    def describe(self) -> dict[str, Any]:
        """kind, image id/digest, python/numpy/pytest versions of the runtime. Raises SandboxError if unusable."""
        ...
