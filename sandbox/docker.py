"""DockerSandbox: the production sandbox, one fresh container per run with every limit of docs/sandbox.md.

Why the docker CLI through subprocess and not the docker SDK: no extra dependency in the worker, the commands are
the ones measured in docs/sandbox.md and can be replayed by hand when something looks wrong, and the client's start-up
cost (~15-20 ms per call) is small next to the ~250 ms runc needs to start a container.

Flow of one run:
  1. run folder (hostfs.RunDir): /out as a size-capped host tmpfs, the submission and code bind-mounted read-only
     into it (so docker's mount sources are always our own plain paths), three FIFOs for stdout/stderr/marker,
     and a fourth as the command's stdin when RunSpec.stdin is set (fed by a StdinRelay thread; else /dev/null).
  2. `docker run -d` with all limits, --cgroup-parent a per-run cgroup (it outlives the container's own cgroup, so
     CPU time and peak memory can be read after exit), entrypoint /bin/sh running launch.prologue.
  3. stdout/stderr go to the host FIFOs, not through dockerd: the json-file log path managed ~90 MB/s and
     `docker start -a` ~170 MB/s, too slow to drain gigabytes of output promptly; a FIFO runs at pipe speed, and the
     tail is capped on the host side (capture.py), where the program cannot interfere.
  4. `docker wait` until exit or the wall limit, then `docker kill`; `docker inspect` for exit code and OOMKilled.
  5. read the cgroup, /out, then `docker rm -f`, unmount and delete the run folder, remove the cgroups.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from . import active, launch, reap
from .active import SandboxAborted
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
from .cgroups import CGROUP_ROOT, kill_tree, read_usage, remove_tree
from .hostfs import RunDir, new_run_id, read_out_files
from .stdin_relay import StdinRelay

DEFAULT_IMAGE = "tinytorch-sandbox"
LABEL = "org.tinytorch.sandbox"
IO_DIR = "/run/sandbox-io"  # where the FIFOs appear inside the container
# Variables docker/runc add on their own; stripped again unless the spec sets them (see launch.env_command).
_RUNTIME_ENV = {"HOSTNAME", "HOME", "PATH", "TERM", "container"}


def limit_args(limits: Limits) -> list[str]:
    """Every limit of docs/sandbox.md, plus the same rlimits the bubblewrap sandbox sets."""
    # twice the largest writable filesystem: never reached before ENOSPC there (EFBIG/SIGXFSZ would be confusing)
    fsize = 2 * max(limits.tmpfs_bytes, limits.out_bytes, limits.shm_bytes)
    cpu = math.ceil(limits.wall_seconds * max(limits.cpus, 1.0)) + 5
    return [
        "--network", "none",  # --bridge=none still allows --network host: always say none
        "--memory", str(limits.memory_bytes), "--memory-swap", str(limits.memory_bytes),  # equal: no swap
        "--pids-limit", str(limits.pids),
        "--cpus", f"{limits.cpus:g}",
        "--read-only",
        "--tmpfs", f"{TMP_DIR}:rw,nosuid,nodev,noexec,size={limits.tmpfs_bytes}",
        "--shm-size", str(limits.shm_bytes),  # --read-only leaves /dev/shm writable
        "--user", f"{SANDBOX_UID}:{SANDBOX_GID}",
        "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges",
        "--log-opt", "max-size=1m", "--log-opt", "max-file=1",  # only the prologue's own errors go there
        "--ulimit", "core=0", "--ulimit", "nofile=1024:1024", "--ulimit", f"fsize={fsize}", "--ulimit", f"cpu={cpu}",
        "--hostname", "sandbox",
    ]


def _parse_time(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


class DockerSandbox:
    name = "docker"

    def __init__(self, image: str | None = None, docker: str = "docker", workdir: Path | str | None = None,
                 cgroup_root: Path | str | None = None) -> None:
        """image: the sandbox image (default tinytorch-sandbox); workdir: where run folders go (default
        $TMPDIR/tinytorch-sandbox); cgroup_root: where the cgroup v1 hierarchies are mounted."""
        self.image = image or DEFAULT_IMAGE
        self.docker = docker
        self.workdir = Path(workdir) if workdir else None
        self.cgroup_root = Path(cgroup_root) if cgroup_root else CGROUP_ROOT
        self._server_version: str | None = None

    # ---------------------------------------------------------------- docker CLI
    def _cli(self, *args: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(
                [self.docker, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
        except FileNotFoundError as exc:
            raise SandboxError(f"docker CLI {self.docker!r} not found: run `bash sandbox/setup.sh`") from exc
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"`docker {args[0]}` did not answer within {timeout:.0f} s") from exc
        if check and proc.returncode != 0:
            raise SandboxError(f"`docker {' '.join(args[:2])}` failed: {proc.stderr.strip()[-2000:]}")
        return proc

    def _image_info(self) -> dict[str, Any]:
        proc = self._cli("image", "inspect", self.image, check=False)
        if proc.returncode != 0:
            if self._cli("version", "--format", "{{.Server.Version}}", check=False).returncode != 0:
                raise SandboxError(
                    "docker daemon not reachable; start it (`bash sandbox/setup.sh` starts "
                    "`dockerd --iptables=false --bridge=none`)"
                )
            raise SandboxError(
                f"docker image {self.image!r} not found; build it with `bash sandbox/build_image.sh` "
                "(no registry is reachable, so it cannot be pulled)"
            )
        return json.loads(proc.stdout)[0]

    def _describe(self, info: dict[str, Any]) -> dict[str, Any]:
        if self._server_version is None:
            self._server_version = self._cli("version", "--format", "{{.Server.Version}}").stdout.strip()
        labels = info.get("Config", {}).get("Labels") or {}
        return {
            "kind": self.name,
            "image": self.image,
            "image_id": info["Id"],  # content digest of the image config: what exactly ran
            "repo_digests": info.get("RepoDigests") or [],  # empty for a locally built image
            "python": labels.get(f"{LABEL}.python"),
            "numpy": labels.get(f"{LABEL}.numpy"),
            "pytest": labels.get(f"{LABEL}.pytest"),
            "docker": self._server_version,
        }

    def describe(self) -> dict[str, Any]:
        return self._describe(self._image_info())

    # ---------------------------------------------------------------- run
    def run(self, spec: RunSpec) -> RunResult:
        run_id = new_run_id()
        # abort_all() removes the container (killing it): `docker wait` then returns and the run cleans up.
        with active.tracked(run_id, lambda: self._cli("rm", "-f", f"tinytorch-sbx-{run_id}", check=False)):
            return self._run(spec, run_id)

    def _run(self, spec: RunSpec, run_id: str) -> RunResult:
        info = self._image_info()
        runtime: dict[str, Any] = {}
        image_env = {item.split("=", 1)[0] for item in info.get("Config", {}).get("Env") or []}
        limits = spec.limits
        name = f"tinytorch-sbx-{run_id}"
        cgroup_parent = f"/tinytorch-sbx-{run_id}"
        runtime.update(run_id=run_id, container=name)
        run = RunDir(run_id, limits.out_bytes, limits.out_files, self.workdir)
        fds: list[int] = []
        created = False
        waiter: subprocess.Popen[bytes] | None = None
        relay: StdinRelay | None = None
        try:
            sub = run.bind_readonly(spec.submission, "sub")
            code = [(run.bind_readonly(host, f"code/{i}"), dst) for i, (host, dst) in enumerate(spec.code.items())]
            io = run.mkdir("io")
            # Execute-only and unguessable names: a process inside can open a FIFO only if it knows the name,
            # and only the prologue (gone by the time untrusted code runs) is told them. Otherwise any process of
            # the run could write into the stream the trusted side reads as the command's own stdout.
            io.chmod(0o711)
            names = {s: f"{s}-{secrets.token_hex(16)}" for s in ("stdout", "stderr", "status", "stdin")}
            readers: dict[str, int] = {}
            keep_open: list[int] = []
            for stream in ("stdout", "stderr", "status"):
                fifo = io / names[stream]
                os.mkfifo(fifo, 0o600)
                os.chown(fifo, SANDBOX_UID, SANDBOX_GID)
                readers[stream] = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                # Our own idle writer: without it the reader would see EOF before the container has opened the FIFO.
                keep_open.append(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC))
            fds += [*readers.values(), *keep_open]
            redirects = f">{IO_DIR}/{names['stdout']} 2>{IO_DIR}/{names['stderr']}"
            if spec.stdin is not None:
                fifo = io / names["stdin"]
                # 0400: the command may open it to read, but nothing inside can open it to write (chmod on the
                # read-only mount fails), not even through /proc/self/fd/0: only the relay feeds it.
                os.mkfifo(fifo, 0o400)
                os.chown(fifo, SANDBOX_UID, SANDBOX_GID)
                # O_RDWR: neither our open nor the container's (for reading) waits for the other side.
                host_end = os.open(fifo, os.O_RDWR | os.O_CLOEXEC)
                try:
                    relay = StdinRelay(spec.stdin, host_end, opened=readers["status"])  # closes host_end from now
                except BaseException:
                    os.close(host_end)
                    raise
                redirects = f"<{IO_DIR}/{names['stdin']} {redirects}"
                relay.start()  # what the caller writes before the container is up waits in the FIFO
            env_file = run.path / "env"
            env_file.write_text("".join(f"{k}={v}\n" for k, v in spec.env.items()))
            env_file.chmod(0o600)

            mounts = [
                "--mount", f"type=bind,src={sub},dst={SUB_DIR},readonly",
                "--mount", f"type=bind,src={run.out},dst={OUT_DIR}",
                "--mount", f"type=bind,src={io},dst={IO_DIR},readonly",  # opening a FIFO to write works on ro mounts
            ]
            for staged, target in code:
                mounts += ["--mount", f"type=bind,src={staged},dst={target},readonly"]
            prologue = launch.prologue(f"{IO_DIR}/{names['status']}", redirects=redirects)
            deadline_label = int(time.time() + limits.wall_seconds + 120)
            created = True  # from here on, `docker rm -f` in finally (a failed run may still have created it)
            self._cli(
                "run", "-d", "--name", name,
                "--label", f"{LABEL}=1", "--label", f"{LABEL}.reap-after={deadline_label}",
                "--label", f"{LABEL}.owner={reap.owner_label()}",
                *limit_args(limits),
                *(["--init"] if spec.init else []),
                "--cgroup-parent", cgroup_parent,
                "--env-file", str(env_file),
                *mounts,
                "--workdir", SUB_DIR,
                "--entrypoint", "/bin/sh",
                info["Id"],
                "-c", prologue, "prologue",
                *launch.env_command(spec.argv, spec.env, strip=image_env | _RUNTIME_ENV),
            )
            if active.aborted():  # abort_all() ran while `docker run` was creating it: finally removes it
                raise SandboxAborted("the sandbox was stopped as it started: this process is stopping")
            started = time.monotonic()
            # Orphans of dead graders are reaped once the container is on its way, not before: a `docker ps` on
            # the way to the first start cost ~45 ms of every one-off grading (our container's owner is alive).
            reap.ensure_reaped(self.docker, self.workdir, self.cgroup_root)
            # Described once the container is on its way: the daemon's version (asked once per process) is then
            # fetched while the container starts, not before.
            runtime.update(self._describe(info))
            if spec.on_started is not None:  # --cgroup-parent: the container's cgroup sits below this one
                spec.on_started({hierarchy: str(self.cgroup_root / name / cgroup_parent.lstrip("/"))
                                 for hierarchy, name in (("memory_cgroup", "memory"), ("cpu_cgroup", "cpuacct"))})
            waiter = subprocess.Popen(
                [self.docker, "wait", name], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            assert waiter.stdout is not None
            pump = OutputPump(
                {"stdout": readers["stdout"], "stderr": readers["stderr"]}, limits.output_bytes,
                wake=waiter.stdout.fileno(),  # `docker wait` prints the exit code the moment the container stops
                on_stdout=spec.on_stdout,
            )
            try:
                finished = pump.run_until(lambda: waiter.poll() is not None, started + limits.wall_seconds)
                host_wall = time.monotonic() - started
                if not finished:
                    self._cli("kill", name, check=False)
                    waiter.wait(timeout=30)
                if relay is not None:  # nobody reads the FIFO any more; it must stop before the fds it polls close
                    relay.stop()
                    if relay.error is not None:
                        runtime["stdin_relay_error"] = str(relay.error)
                for fd in keep_open:  # all writers gone now: the remaining data ends in EOF
                    os.close(fd)
                    fds.remove(fd)
                pump.drain(grace=2.0)
            finally:
                pump.close()
            state = json.loads(self._cli("inspect", "--type", "container", name).stdout)[0]["State"]
            was_started = launch.read_marker(readers["status"])
            stdout, stdout_total = pump.result("stdout")
            stderr, stderr_total = pump.result("stderr")
            if not was_started and finished:
                logs = self._cli("logs", "--tail", "20", name, check=False)
                raise SandboxNotStarted(
                    f"the container did not start the command (exit {state.get('ExitCode')}, "
                    f"{state.get('Error') or 'no error'}): {(logs.stdout + logs.stderr).strip()[-2000:]}"
                )
            cpu, peak, oom_kills = read_usage(
                self.cgroup_root / "memory" / cgroup_parent.lstrip("/"),
                self.cgroup_root / "cpuacct" / cgroup_parent.lstrip("/"),
            )
            begin, end = _parse_time(state.get("StartedAt", "")), _parse_time(state.get("FinishedAt", ""))
            wall = end - begin if begin and end and end >= begin else host_wall
            files, skipped = read_out_files(run.out, limits.out_files, limits.out_bytes)
            return RunResult(
                exit_code=int(state["ExitCode"]) if finished else None,
                timed_out=not finished,
                # OOMKilled is also set when only a child was killed (docs/sandbox.md); oom_kills: the cgroup counts.
                oom_killed=bool(state.get("OOMKilled")) or oom_kills > 0,
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
            if relay is not None:
                relay.stop()
            self._cleanup(name if created else None, waiter, fds, run, cgroup_parent)

    def _cleanup(
        self, name: str | None, waiter: subprocess.Popen[bytes] | None, fds: list[int], run: RunDir, cgroup: str
    ) -> None:
        try:
            if name is not None:
                self._cli("rm", "-f", name, check=False)  # also removes its container cgroup
            if waiter is not None:
                if waiter.poll() is None:
                    waiter.kill()
                    waiter.wait()
                if waiter.stdout is not None:
                    waiter.stdout.close()
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        finally:
            try:
                kill_tree(self.cgroup_root / "pids" / cgroup.lstrip("/"))  # nothing of the container may outlive run()
                run.close()
            finally:
                # runc created the per-run parent in every hierarchy (systemd and unified ones too).
                for hierarchy in self.cgroup_root.iterdir():
                    remove_tree(hierarchy / cgroup.lstrip("/"))

