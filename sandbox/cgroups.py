"""cgroup v1 plumbing: limits and measurements for a run, and killing everything in it.

Bubblewrap sets no resource limits (docs/sandbox.md), so BubblewrapSandbox makes one cgroup per run in the memory,
pids, cpu, cpuacct and freezer hierarchies, nested under the caller's own cgroup in each (an operator's limit on
the worker then also bounds its sandboxes, and the accounting stays with the worker). DockerSandbox uses the same
reader on the per-run parent cgroup it hands to docker (--cgroup-parent), which outlives the container's own
cgroup, so usage can still be read after the container has exited.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from pathlib import Path

from .base import SandboxError

# The default; the caller passes another (the service: GRADER_SANDBOX_CGROUP_ROOT through its Settings).
CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpu", "cpuacct", "freezer")
CFS_PERIOD_US = 100_000


def own_cgroup(controller: str) -> str:
    """This process's cgroup path in a v1 hierarchy, e.g. '/process_api/abc' for memory."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path
    return "/"


def check_v1(root: Path = CGROUP_ROOT) -> None:
    missing = [c for c in CONTROLLERS if not (root / c / "cgroup.procs").exists()]
    if missing:
        raise SandboxError(
            f"cgroup v1 hierarchies missing under {root}: {', '.join(missing)}; BubblewrapSandbox needs "
            "cgroup v1 with separate memory, pids, cpu, cpuacct and freezer mounts (cgroup v2 is not supported)"
        )


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise SandboxError(f"cannot write {value!r} to {path}: {exc.strerror}") from exc


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def read_usage(memory_dir: Path, cpuacct_dir: Path) -> tuple[float, int, int]:
    """(cpu seconds, peak memory bytes, OOM kills) of a cgroup and everything below it."""
    cpu = _read_int(cpuacct_dir / "cpuacct.usage") / 1e9
    peak = _read_int(memory_dir / "memory.max_usage_in_bytes")
    oom_kills = 0
    with contextlib.suppress(OSError):
        for line in (memory_dir / "memory.oom_control").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                oom_kills = int(value)
    return cpu, peak, oom_kills


def kill_tree(path: Path, timeout: float = 5.0) -> None:
    """SIGKILL every process in a cgroup and below, until none is left. For docker's per-run parent: once the
    container's init is dead its other processes are already being killed, but `docker rm` may return first."""
    deadline = time.monotonic() + timeout
    while True:
        pids = []
        with contextlib.suppress(OSError):
            for procs in path.rglob("cgroup.procs"):
                with contextlib.suppress(OSError):
                    pids += [int(p) for p in procs.read_text().split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise SandboxError(f"processes survive SIGKILL in {path}: {pids}")
        time.sleep(0.005)


def remove_tree(path: Path, timeout: float = 5.0) -> None:
    """rmdir a cgroup (children first); retries while the kernel finishes tearing down dying tasks."""
    if not path.exists():
        return
    for child in sorted((p for p in path.iterdir() if p.is_dir()), reverse=True):
        remove_tree(child, timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise SandboxError(f"cannot remove cgroup {path}: {exc.strerror}") from exc
            time.sleep(0.01)


class RunCgroup:
    """One run's cgroup in each v1 controller: create with limits, measure, kill all, remove."""

    def __init__(self, name: str, root: Path = CGROUP_ROOT) -> None:
        check_v1(root)
        self.dirs = {c: root / c / own_cgroup(c).lstrip("/") / name for c in CONTROLLERS}
        self._created: list[Path] = []

    def create(self, memory_bytes: int, pids: int, cpus: float) -> None:
        try:
            for path in self.dirs.values():
                path.mkdir()
                self._created.append(path)
            mem = self.dirs["memory"]
            # limit first: memsw.limit may never be below limit. Equal values = no swap at all.
            _write(mem / "memory.limit_in_bytes", str(memory_bytes))
            if (mem / "memory.memsw.limit_in_bytes").exists():
                _write(mem / "memory.memsw.limit_in_bytes", str(memory_bytes))
            _write(mem / "memory.swappiness", "0")
            _write(self.dirs["pids"] / "pids.max", str(pids))
            _write(self.dirs["cpu"] / "cpu.cfs_period_us", str(CFS_PERIOD_US))
            _write(self.dirs["cpu"] / "cpu.cfs_quota_us", str(max(1000, int(cpus * CFS_PERIOD_US))))
        except BaseException:
            self.remove()
            raise

    def procs_files(self) -> list[Path]:
        """The cgroup.procs files a launcher writes its own pid into before exec'ing the sandbox."""
        return [path / "cgroup.procs" for path in self.dirs.values()]

    def pids(self) -> list[int]:
        try:
            text = (self.dirs["pids"] / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def usage(self) -> tuple[float, int, int]:
        return read_usage(self.dirs["memory"], self.dirs["cpuacct"])

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL every process in the cgroup. Frozen first, so nothing can fork or exit (pid reuse) meanwhile."""
        freezer = self.dirs["freezer"] / "freezer.state"
        deadline = time.monotonic() + timeout
        while self.pids():
            with contextlib.suppress(OSError):
                freezer.write_text("FROZEN")
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                freezer.write_text("THAWED")  # SIGKILL is only acted upon once the task runs again
            if time.monotonic() > deadline:
                raise SandboxError(f"processes survive SIGKILL in {self.dirs['pids']}: {self.pids()}")
            time.sleep(0.005)

    def remove(self) -> None:
        self.kill_all()
        for path in reversed(self._created):
            remove_tree(path)
        self._created.clear()
