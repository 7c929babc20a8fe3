"""Clean up after runs whose owner died mid-run (worker SIGKILLed, machine OOM, ...).

run() always cleans up after itself, but a `finally` does not run when the worker process is killed outright.
Then a container may keep running until it is removed, and run folders (with their tmpfs mounts) and cgroups stay.
Every such thing carries the owner's pid in its name (hostfs.new_run_id): if that pid is gone, it is an orphan.
Containers carry an owner label (pid namespace + pid: a pid means nothing in another namespace, e.g. a worker in
a container sharing the host's dockerd) and a reap-after label (start + wall limit + 2 min) as a last resort.
Called once per process at its first run (ensure_reaped; the docker sandbox calls it once its container is on
its way); from a shell: `python -m sandbox.reap`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from .cgroups import CGROUP_ROOT, own_cgroup, remove_tree
from .hostfs import umount, work_root

_NAME = re.compile(r"(?:run|tinytorch-sbx)-(\d+)-[0-9a-f]+\Z")
_done: set[tuple[bool, str, str]] = set()
_lock = threading.Lock()


def owner_label() -> str:
    """'<pid namespace inode>:<pid>' of this process, for the container's owner label."""
    return f"{os.stat('/proc/self/ns/pid').st_ino}:{os.getpid()}"


def _pid_dead(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _owner_dead(name: str) -> bool:
    match = _NAME.search(name)
    return bool(match) and _pid_dead(int(match.group(1)))


def reap_containers(docker: str = "docker") -> list[str]:
    try:
        listing = subprocess.run(
            [docker, "ps", "-a", "--filter", "label=org.tinytorch.sandbox=1", "--format",
             '{{.Names}} {{.Label "org.tinytorch.sandbox.reap-after"}} {{.Label "org.tinytorch.sandbox.owner"}}'],
            capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    namespace = owner_label().split(":")[0]
    orphans = []
    for line in listing.stdout.splitlines():
        name, reap_after, owner = [*line.split(), "", ""][:3]
        expired = reap_after.isdigit() and int(reap_after) < time.time()
        owner_ns, _, owner_pid = owner.partition(":")
        if expired or (owner_ns == namespace and owner_pid.isdigit() and _pid_dead(int(owner_pid))):
            orphans.append(name)
    if orphans:
        subprocess.run([docker, "rm", "-f", *orphans], capture_output=True, timeout=60)
    return orphans


def reap_run_dirs(workdir: Path | None = None) -> list[Path]:
    root = work_root(workdir)
    if not root.is_dir():
        return []
    orphans = [path for path in root.iterdir() if path.name.startswith("run-") and _owner_dead(path.name)]
    if not orphans:
        return []
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for path in orphans:
        for mount in sorted((m for m in mounts if m == str(path) or m.startswith(f"{path}/")), reverse=True):
            umount(Path(mount))
        shutil.rmtree(path, ignore_errors=True)
    return orphans


def reap_cgroups(cgroup_root: Path = CGROUP_ROOT) -> list[Path]:
    """bwrap's per-run cgroups under our own cgroup (processes left in them are killed), and docker's per-run
    --cgroup-parent at each hierarchy's root (only removed once empty: a live container there is docker's)."""
    if not cgroup_root.is_dir():
        return []
    reaped = []
    own = {cgroup_root / c / own_cgroup(c).lstrip("/") for c in ("memory", "pids", "cpu", "cpuacct", "freezer")}
    tops = {hierarchy for hierarchy in cgroup_root.iterdir() if hierarchy.is_dir()}
    for parent in own | tops:
        with contextlib.suppress(OSError):
            for path in parent.iterdir():
                if not (path.is_dir() and path.name.startswith("tinytorch-sbx-") and _owner_dead(path.name)):
                    continue
                if parent in own and parent not in tops:
                    for procs in path.rglob("cgroup.procs"):
                        for pid in procs.read_text().split():
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(int(pid), signal.SIGKILL)
                with contextlib.suppress(Exception):
                    remove_tree(path, timeout=1.0)
                    reaped.append(path)
    return reaped


def reap_all(docker: str | None = "docker", workdir: Path | None = None,
             cgroup_root: Path = CGROUP_ROOT) -> dict[str, list[str]]:
    """Containers first (removing one frees its cgroups and mounts), then folders and cgroups."""
    containers = reap_containers(docker) if docker else []
    return {
        "containers": containers,
        "run_dirs": [str(p) for p in reap_run_dirs(workdir)],
        "cgroups": [str(p) for p in reap_cgroups(cgroup_root)],
    }


def ensure_reaped(docker: str | None = None, workdir: Path | None = None, cgroup_root: Path = CGROUP_ROOT) -> None:
    """reap_all() once per process, kind (with or without docker) and places; a no-op afterwards."""
    key = (docker is not None, str(workdir), str(cgroup_root))
    with _lock:
        if key not in _done:
            _done.add(key)
            reap_all(docker, workdir, cgroup_root)


if __name__ == "__main__":
    print(reap_all())
