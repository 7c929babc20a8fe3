"""BubblewrapSandbox: the same image filesystem as DockerSandbox, run with bubblewrap where Docker is not wanted.

Layers, outside in (each one's job):
  /bin/bash launcher (root) writes its own pid into the run's cgroups, so everything after it is limited/measured
  prlimit                  rlimits as a belt: no core dumps, fd count, file size, CPU seconds
  setpriv                  becomes uid/gid 65534 with no groups and no capabilities, so the sandbox is not host root
                           even if it escapes its namespaces (bwrap then uses an unprivileged user namespace)
  bwrap                    namespaces (user, pid, net, ipc, uts, cgroup), read-only root made of the rootfs exported
                           from the docker image, size-capped tmpfs /tmp and /dev/shm, /out = a host tmpfs
  /bin/sh prologue         start marker (see launch.py), then env strips bwrap's PWD, then the command
RunSpec.stdin (a live input stream) is the launcher's fd 0, inherited down to the command; none of the layers reads
it. bwrap also mounts the run's own POSIX message-queue filesystem at /dev/mqueue, as runc does in a container.
The cgroup (cgroups.py) carries memory (+swap), pids and CPU limits and measures CPU time, peak memory and OOM
kills; bubblewrap itself sets none (docs/sandbox.md). When the command exits, bwrap's pid 1 exits and the kernel
kills the whole pid namespace; at the wall limit the cgroup is frozen and killed. Either way the cgroup is emptied
and removed, and the run folder unmounted and deleted, before run() returns.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from . import active, launch, reap, seccomp
from .base import (
    OUT_DIR,
    SANDBOX_GID,
    SANDBOX_UID,
    SUB_DIR,
    TMP_DIR,
    Limits,
    RunResult,
    RunSpec,
    SandboxError,
    SandboxNotStarted,
)
from .capture import OutputPump
from .cgroups import CGROUP_ROOT, RunCgroup
from .hostfs import RunDir, new_run_id, read_out_files

DEFAULT_ROOTFS = Path("/var/lib/tinytorch-grader/rootfs")
# Provided by bwrap itself (or by us) instead of the rootfs's empty folders.
_RUNTIME_MOUNTS = {"proc", "dev", "tmp", "sub", "out"}
# bwrap now and then fails to set a sandbox up under load ("Can't read seccomp data", exit 3, before anything of
# the command ran): measured 1 start in ~11 under load, and the rerun was fine. Such a start is tried again after
# a short pause; only a failure that persists over every attempt is reported (as SandboxError, never as an exit
# status of the command's).
START_ATTEMPTS = 3
START_BACKOFF_S = (0.2, 0.6)


def rlimit_args(limits: Limits) -> list[str]:
    """prlimit options. No RLIMIT_AS (it would turn a large allocation into MemoryError here but an OOM kill under
    docker; the memory cgroup is the limit) and no RLIMIT_NPROC (counted per uid across all runs; pids.max is it)."""
    # twice the largest writable filesystem: never reached before ENOSPC there (EFBIG/SIGXFSZ would be confusing)
    fsize = 2 * max(limits.tmpfs_bytes, limits.out_bytes, limits.shm_bytes)
    cpu = math.ceil(limits.wall_seconds * max(limits.cpus, 1.0)) + 5  # never before the wall limit
    return ["--core=0", "--nofile=1024", f"--fsize={fsize}", f"--cpu={cpu}"]


class BubblewrapSandbox:
    name = "bwrap"

    def __init__(self, rootfs: Path | str | None = None, bwrap: str = "bwrap", workdir: Path | str | None = None,
                 cgroup_root: Path | str | None = None) -> None:
        """rootfs: the image's filesystem (default /var/lib/tinytorch-grader/rootfs); workdir: where run folders go
        (default $TMPDIR/tinytorch-sandbox); cgroup_root: where the cgroup v1 hierarchies are mounted."""
        self.rootfs = Path(rootfs or DEFAULT_ROOTFS)
        self.bwrap = bwrap
        self.workdir = Path(workdir) if workdir else None
        self.cgroup_root = Path(cgroup_root) if cgroup_root else CGROUP_ROOT

    # ---------------------------------------------------------------- describe
    def _resolved_rootfs(self) -> Path:
        """The versioned folder behind the rootfs symlink: one run uses one version even if it is swapped meanwhile."""
        return Path(os.path.realpath(self.rootfs))

    def describe(self) -> dict[str, Any]:
        for tool in (self.bwrap, "setpriv", "prlimit"):
            if shutil.which(tool) is None:
                raise SandboxError(f"{tool} not found: run sandbox/setup.sh (apt-get install -y bubblewrap util-linux)")
        root = self._resolved_rootfs()
        meta_path = Path(f"{root}.json")
        if not (root / "usr/bin/python3").exists() or not meta_path.exists():
            raise SandboxError(
                f"sandbox rootfs missing at {self.rootfs} (or its metadata {meta_path.name}); build it with "
                "`bash sandbox/build_image.sh` (needs docker), or pass its path as rootfs= (GRADER_SANDBOX_ROOTFS)"
            )
        meta = json.loads(meta_path.read_text())
        version = subprocess.run([self.bwrap, "--version"], capture_output=True, text=True).stdout.split()
        return {
            "kind": self.name,
            "image": meta.get("image"),
            "image_id": meta.get("image_id"),
            "rootfs": str(root),
            "python": meta.get("python"),
            "numpy": meta.get("numpy"),
            "pytest": meta.get("pytest"),
            "bwrap": version[-1] if version else None,
            "seccomp": "denylist" if seccomp.supported() else "none (not x86_64)",
        }

    # ---------------------------------------------------------------- command line
    def _bwrap_args(
        self, spec: RunSpec, rootfs: Path, run: RunDir, sub: Path, code: list[tuple[Path, str]], seccomp_fd: int | None
    ) -> list[str]:
        limits = spec.limits
        args = [
            self.bwrap,
            "--unshare-all", "--unshare-user", "--disable-userns",  # no network, no nested user namespaces
            "--die-with-parent",  # a dying worker takes its sandbox with it
            "--new-session",  # no TIOCSTI into a controlling terminal
            *([] if spec.init else ["--as-pid-1"]),  # argv is PID 1 (RunSpec.init)
            "--cap-drop", "ALL",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID), "--hostname", "sandbox",
        ]
        code_tops = {Path(target).parts[1] for _, target in code}
        for entry in sorted(os.scandir(rootfs), key=lambda e: e.name):
            if entry.name in _RUNTIME_MOUNTS or entry.name in code_tops:
                continue  # a code mount's top folder is created on bwrap's own root, which can hold mount points
            if entry.is_symlink():
                args += ["--symlink", os.readlink(entry.path), f"/{entry.name}"]
            else:
                args += ["--ro-bind", entry.path, f"/{entry.name}"]
        # /tmp and /dev/shm are host tmpfs like /out (not bwrap's own --tmpfs): noexec like docker's, and
        # unmounted by us, so nothing can outlive the run even if a process did.
        args += [
            "--proc", "/proc",
            "--dev", "/dev",
            "--bind", str(run.scratch("shm", limits.shm_bytes)), "/dev/shm",
            # the run's own POSIX message queues, as runc mounts them in a container (before /dev turns read-only:
            # bwrap creates the mount point in it)
            "--mqueue", "/dev/mqueue",
            "--remount-ro", "/dev",
            "--bind", str(run.scratch("tmp", limits.tmpfs_bytes)), TMP_DIR,
            "--ro-bind", str(sub), SUB_DIR,
            "--bind", str(run.out), OUT_DIR,
        ]
        if seccomp_fd is not None:
            args += ["--add-seccomp-fd", str(seccomp_fd)]
        for staged, target in code:
            args += ["--ro-bind", str(staged), target]
        args += ["--remount-ro", "/", "--chdir", SUB_DIR]
        return args

    # ---------------------------------------------------------------- run
    def run(self, spec: RunSpec) -> RunResult:
        """One run; a start that failed before the command ran is tried again (START_ATTEMPTS in all)."""
        for attempt in range(START_ATTEMPTS):
            try:
                return self._run_once(spec)
            except SandboxNotStarted as error:
                if attempt + 1 == START_ATTEMPTS:
                    raise SandboxNotStarted(f"{error} (the same in all {START_ATTEMPTS} attempts)") from None
                time.sleep(START_BACKOFF_S[attempt])
        raise AssertionError("unreachable")

    def _run_once(self, spec: RunSpec) -> RunResult:
        reap.ensure_reaped(None, self.workdir, self.cgroup_root)
        runtime = self.describe()
        limits = spec.limits
        run_id = new_run_id()
        run = RunDir(run_id, limits.out_bytes, limits.out_files, self.workdir)
        cgroup = RunCgroup(f"tinytorch-sbx-{run_id}", self.cgroup_root)
        runtime.update(run_id=run_id, cgroup=str(cgroup.dirs["memory"]))
        try:
            with active.tracked(run_id, cgroup.kill_all):  # abort_all() kills what runs in the cgroup
                return self._launch(spec, runtime, run, cgroup)
        except BaseException:
            if run.path.exists():  # tracked() refused to start: nothing was launched, only the folder is ours
                cgroup.remove()
                run.close()
            raise

    def _launch(self, spec: RunSpec, runtime: dict[str, Any], run: RunDir, cgroup: RunCgroup) -> RunResult:
        limits = spec.limits
        proc: subprocess.Popen[bytes] | None = None
        marker_r = -1
        try:
            cgroup.create(limits.memory_bytes, limits.pids, limits.cpus)
            # Staged through the run folder: bwrap runs as uid 65534 and could not open paths under e.g. /root.
            sub = run.bind_readonly(spec.submission, "sub")
            code = [(run.bind_readonly(host, f"code/{i}"), dst) for i, (host, dst) in enumerate(spec.code.items())]
            marker_r, marker_w = os.pipe()
            seccomp_fd = seccomp.memfd()
            passed = [marker_w] if seccomp_fd is None else [marker_w, seccomp_fd]
            inner = launch.env_command(spec.argv, spec.env, strip=set())
            launcher = [
                # bash, not dash: dash cannot redirect fds above 9, and the marker pipe can have any number here.
                # It becomes fd 3 for everything below (dash in the image then writes to >&3).
                "/bin/bash", "-c",
                " && ".join(f"echo $$ > {launch.quote_all([str(p)])}" for p in cgroup.procs_files())
                + f' && exec 3>&{marker_w} {marker_w}>&- && exec "$@"',
                "launcher",
                "prlimit", *rlimit_args(limits), "--",
                "setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_GID}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
                *self._bwrap_args(spec, Path(runtime["rootfs"]), run, sub, code, seccomp_fd),
                "--", "/bin/sh", "-c", launch.prologue("&3"), "prologue", *inner,
            ]
            started = time.monotonic()
            try:
                proc = subprocess.Popen(
                    # RunSpec.stdin is the launcher's fd 0 and so the command's (nothing in between reads it);
                    # Popen only dup2()s it in the child: the caller's fd stays open, and stays the caller's.
                    launcher, stdin=subprocess.DEVNULL if spec.stdin is None else spec.stdin,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    env=dict(spec.env), cwd=run.path, pass_fds=passed, start_new_session=True,
                )
            finally:
                for fd in passed:
                    os.close(fd)
            assert proc.stdout is not None and proc.stderr is not None
            if active.aborted():  # abort_all() ran while this one was starting: it found the cgroup still empty
                cgroup.kill_all()
            if spec.on_started is not None:
                spec.on_started({"memory_cgroup": str(cgroup.dirs["memory"]),
                                 "cpu_cgroup": str(cgroup.dirs["cpuacct"])})
            pidfd = os.pidfd_open(proc.pid)  # readable once bwrap exits: wakes the pump at once
            pump = OutputPump(
                {"stdout": proc.stdout.fileno(), "stderr": proc.stderr.fileno()}, limits.output_bytes, wake=pidfd,
                on_stdout=spec.on_stdout,
            )
            try:
                finished = pump.run_until(lambda: proc.poll() is not None, started + limits.wall_seconds)
                wall = time.monotonic() - started
                cgroup.kill_all()  # at the deadline, and also any leftover once bwrap is gone
                proc.wait()
                pump.drain(grace=2.0)
            finally:
                pump.close()
                os.close(pidfd)
            was_started = launch.read_marker(marker_r)
            stdout, stdout_total = pump.result("stdout")
            stderr, stderr_total = pump.result("stderr")
            if not was_started and finished:
                raise SandboxNotStarted(
                    f"bubblewrap failed to start the command (exit {proc.returncode}): "
                    f"{stderr[-2000:].decode(errors='replace').strip()}"
                )
            cpu, peak, oom_kills = cgroup.usage()
            files, skipped = read_out_files(run.out, limits.out_files, limits.out_bytes)
            exit_code: int | None = None
            if finished:
                rc = proc.returncode
                exit_code = 128 - rc if rc < 0 else rc  # bwrap killed by a signal: same convention as docker
            return RunResult(
                exit_code=exit_code,
                timed_out=not finished,
                oom_killed=oom_kills > 0,
                wall_seconds=wall,
                cpu_seconds=cpu,
                peak_memory_bytes=peak,
                stdout=stdout,
                stderr=stderr,
                stdout_total=stdout_total,
                stderr_total=stderr_total,
                files=files,
                files_skipped=skipped,
                runtime=runtime,
            )
        finally:
            if marker_r >= 0:
                os.close(marker_r)
            if proc is not None:
                for stream in (proc.stdout, proc.stderr):
                    if stream is not None:
                        stream.close()
            try:
                cgroup.remove()
            finally:
                run.close()
