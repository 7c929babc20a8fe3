"""The same hostile programs against both sandboxes: every test runs once under docker and once under bwrap."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from sandbox import DEFAULT_ENV, Limits, RunResult, RunSpec, Sandbox
from sandbox.cgroups import CGROUP_ROOT, CONTROLLERS, own_cgroup
from sandbox.hostfs import work_root

MiB = 1024 * 1024
FAST = Limits(wall_seconds=20)


def run_py(sandbox: Sandbox, submission: Path, program: str, limits: Limits = FAST, **kw: object) -> RunResult:
    result = sandbox.run(RunSpec(submission=submission, argv=["python3", "-c", textwrap.dedent(program)], limits=limits,
                                 **kw))  # type: ignore[arg-type]
    assert_nothing_left(result)
    return result


def assert_nothing_left(result: RunResult) -> None:
    """No container, cgroup, mount, run folder or sandbox process of this run survives run()."""
    run_id = result.runtime["run_id"]
    assert not (work_root() / f"run-{run_id}").exists()
    assert run_id not in Path("/proc/self/mountinfo").read_text()
    cgroups = [CGROUP_ROOT / c / own_cgroup(c).lstrip("/") / f"tinytorch-sbx-{run_id}" for c in CONTROLLERS]
    cgroups += list(CGROUP_ROOT.glob(f"*/tinytorch-sbx-{run_id}"))
    assert [p for p in cgroups if p.exists()] == []
    if result.runtime["kind"] == "docker":
        ps = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=tinytorch-sbx-{run_id}"],
                            capture_output=True, text=True, check=True)
        assert ps.stdout.strip() == ""


def sandbox_processes(marker: str) -> list[str]:
    """Host processes running as the sandbox uid whose command line carries `marker` (read from /proc: `ps`
    truncates command lines to 80 columns when it has no terminal)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            uid = (entry / "status").read_text().split("\nUid:")[1].split()[0]
        except (OSError, IndexError):
            continue  # exited meanwhile
        if uid == "65534" and marker in cmdline:
            found.append(f"{entry.name} {cmdline}")
    return found


def test_sandbox_processes_sees_a_marked_process() -> None:
    """Guard for the helper above: the "nothing left" checks below would pass vacuously if it saw nothing."""
    marker = f"probe-{uuid.uuid4().hex}"
    proc = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                             "sh", "-c", f"sleep 30; : {marker}"], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while not sandbox_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(sandbox_processes(marker)) == 1
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the shell and its sleep: killing only the shell leaks the sleep
        proc.wait()


def test_normal_program(sandbox: Sandbox, submission: Path) -> None:
    result = run_py(sandbox, submission, """
        import os, sys
        import tinytorch
        os.makedirs("/out/nested", exist_ok=True)
        open("/out/result.json", "w").write('{"value": %d}' % tinytorch.VALUE)
        open("/out/nested/data.bin", "wb").write(bytes(range(256)))
        print("cwd", os.getcwd(), "uid", os.getuid(), "gid", os.getgid())
        print(open("data.txt").read().strip())
        print([l for l in open("/proc/self/status") if l.startswith(("CapEff", "CapBnd", "NoNewPrivs", "Seccomp:"))])
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        print("keyctl", libc.syscall(250, 0, 0, 0, 0, 0), ctypes.get_errno())  # refused by seccomp in both
        print("to stderr", file=sys.stderr)
        sys.exit(7)
    """)
    assert result.exit_code == 7
    assert not result.timed_out and not result.oom_killed
    out = result.stdout.decode()
    assert "cwd /sub uid 65534 gid 65534" in out
    assert "submitted data" in out
    assert "CapEff:\\t0000000000000000" in out and "CapBnd:\\t0000000000000000" in out
    assert "NoNewPrivs:\\t1" in out and "Seccomp:\\t2" in out
    assert "keyctl -1 1\n" in out  # EPERM
    assert result.stderr == b"to stderr\n"
    assert result.files == {"result.json": b'{"value": 42}', "nested/data.bin": bytes(range(256))}
    assert 0 < result.wall_seconds < 15 and result.cpu_seconds > 0 and result.peak_memory_bytes > 0


def test_environment_is_exactly_the_spec(sandbox: Sandbox, submission: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"fake-secret-{uuid.uuid4()}"
    monkeypatch.setenv("GRADER_FAKE_SECRET", secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    env = {**DEFAULT_ENV, "RUN_TOKEN": "visible-on-purpose", "PWD": "/elsewhere", "LANG": "C"}
    result = run_py(sandbox, submission, """
        import glob, json, os
        seen = {}
        for path in ["/proc/self/environ", "/proc/1/environ", *glob.glob("/proc/[0-9]*/environ")]:
            try:
                seen[path] = open(path, "rb").read().decode(errors="replace")
            except OSError as exc:
                seen[path] = f"unreadable: {exc}"
        print(json.dumps(seen))
    """, env=env)
    assert result.exit_code == 0, result.stderr
    assert secret.encode() not in result.stdout
    seen = json.loads(result.stdout)
    own = dict(item.split("=", 1) for item in seen["/proc/self/environ"].split("\0") if item)
    assert own == env  # nothing added (no HOSTNAME, PWD, image ENV), nothing of the host
    assert secret not in json.dumps(seen)


@pytest.mark.parametrize("target", [("127.0.0.1", 6379), ("127.0.0.1", 5432), ("10.255.255.53", 53),
                                    ("151.101.0.223", 443)])
def test_no_network(sandbox: Sandbox, submission: Path, target: tuple[str, int]) -> None:
    host, port = target
    result = run_py(sandbox, submission, f"""
        import socket
        try:
            socket.create_connection(({host!r}, {port}), timeout=3).close()
            print("CONNECTED")
        except OSError as exc:
            print("refused", exc.errno)
        try:
            socket.getaddrinfo("pypi.org", 443)
            print("RESOLVED")
        except OSError as exc:
            print("no dns", exc.errno)
        print("interfaces", *sorted(name for _, name in socket.if_nameindex()))
    """)
    assert result.exit_code == 0, result.stderr
    assert b"CONNECTED" not in result.stdout and b"RESOLVED" not in result.stdout
    assert b"refused" in result.stdout and b"no dns" in result.stdout
    assert b"interfaces lo\n" in result.stdout  # loopback only, and it is the sandbox's own


def test_fork_loop_stops_at_the_pids_limit(sandbox: Sandbox, submission: Path) -> None:
    limits = Limits(wall_seconds=20, pids=64)
    result = run_py(sandbox, submission, """
        import os, signal, time
        children = []
        try:
            while True:
                pid = os.fork()
                if pid == 0:
                    time.sleep(1000)
                    os._exit(0)
                children.append(pid)
        except OSError as exc:
            print("fork failed after", len(children), exc.errno, flush=True)
        for pid in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    """, limits=limits)
    assert result.exit_code == 0, result.stderr
    words = result.stdout.split()
    assert words[4] == b"11"  # EAGAIN
    assert limits.pids - 8 < int(words[3]) < limits.pids  # init + python itself (+ bwrap) share pids.max


def test_shell_fork_bomb_is_contained(sandbox: Sandbox, submission: Path) -> None:
    marker = f"bomb-{uuid.uuid4().hex}"
    limits = Limits(wall_seconds=3, pids=64)
    started = time.monotonic()
    result = sandbox.run(RunSpec(submission=submission, limits=limits,
                                 argv=["/bin/sh", "-c", f"f(){{ f|f& }}; f; sleep 1000 # {marker}"]))
    took = time.monotonic() - started
    assert_nothing_left(result)
    # Either the wall limit ends it, or the bomb fills pids.max before the shell itself can fork `sleep` and
    # the shell gives up (seen on an idle machine: exit 2, "Cannot fork", 20 ms in). Contained either way.
    assert (result.timed_out and result.exit_code is None) or (
        result.exit_code not in (0, None) and b"fork" in result.stderr.lower()), result
    assert took < limits.wall_seconds + 20
    # (that pids.max is what stops it is shown by test_fork_loop_stops_at_the_pids_limit; on a loaded machine the
    # bomb may not have reached it within the wall limit, so stderr's "Cannot fork" is not asserted here)
    assert sandbox_processes(marker) == []
    # the host is unaffected: it can still fork, and the next run works normally
    assert subprocess.run(["true"]).returncode == 0
    assert run_py(sandbox, submission, "print('after')").stdout == b"after\n"


def test_memory_bomb_is_oom_killed(sandbox: Sandbox, submission: Path) -> None:
    limits = Limits(wall_seconds=30, memory_bytes=256 * MiB)
    result = run_py(sandbox, submission, """
        chunks = []
        for i in range(100):
            chunks.append(b"x" * (50 * 1024 * 1024))
            print(len(chunks) * 50, "MiB", flush=True)
    """, limits=limits)
    assert result.oom_killed
    assert result.exit_code == 137 and not result.timed_out
    assert int(result.stdout.split()[-2]) <= 256
    # the parent cgroup the peak is read from also carries a few pages charged during container setup
    assert result.peak_memory_bytes <= limits.memory_bytes + 4 * MiB


def test_oom_of_a_child_is_reported_even_when_the_parent_exits_0(sandbox: Sandbox, submission: Path) -> None:
    result = run_py(sandbox, submission, """
        import subprocess, sys
        child = subprocess.run([sys.executable, "-c", "b = [b'x' * (50 << 20) for _ in range(100)]"])
        print("child", child.returncode)
    """, limits=Limits(wall_seconds=30, memory_bytes=256 * MiB))
    assert result.exit_code == 0 and result.stdout == b"child -9\n"
    assert result.oom_killed


def test_infinite_loop_times_out(sandbox: Sandbox, submission: Path) -> None:
    limits = Limits(wall_seconds=2)
    started = time.monotonic()
    result = run_py(sandbox, submission, "while True: pass", limits=limits)
    assert result.timed_out and result.exit_code is None and not result.oom_killed
    # upper bounds leave room for a loaded machine (other jobs share the 2 cores); the kill itself is prompt
    assert 1.8 <= result.wall_seconds <= 8
    assert time.monotonic() - started < 20
    assert 0.05 < result.cpu_seconds <= result.wall_seconds * limits.cpus + 0.5


def test_sigterm_ignoring_sleeper_is_killed(sandbox: Sandbox, submission: Path) -> None:
    marker = f"sleeper-{uuid.uuid4().hex}"
    started = time.monotonic()
    result = run_py(sandbox, submission, f"""
        import signal, time
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(1000)  # {marker}
    """, limits=Limits(wall_seconds=2))
    assert result.timed_out and result.exit_code is None
    assert result.stdout == b"ready\n"
    assert time.monotonic() - started < 20
    assert sandbox_processes(marker) == []


def test_daemon_does_not_outlive_the_run(sandbox: Sandbox, submission: Path) -> None:
    marker = f"daemon-{uuid.uuid4().hex}"
    result = run_py(sandbox, submission, f"""
        import os, sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                for fd in range(3):
                    os.close(fd)
                os.execvp("python3", ["python3", "-c", "import time; time.sleep(1000)", {marker!r}])
            os._exit(0)
        os.wait()
        print("parent done")
    """)
    assert result.exit_code == 0 and not result.timed_out
    assert result.stdout == b"parent done\n"
    assert result.wall_seconds < 10
    assert sandbox_processes(marker) == []


def test_output_flood_keeps_only_the_tail(sandbox: Sandbox, submission: Path) -> None:
    limits = Limits(wall_seconds=90, output_bytes=64 * 1024)
    gib = 2
    started = time.monotonic()
    result = run_py(sandbox, submission, f"""
        import os, sys
        block = b"y" * (1024 * 1024)
        for _ in range({gib} * 1024):
            sys.stdout.buffer.write(block)
        for _ in range(64):
            sys.stderr.buffer.write(block)
        sys.stdout.buffer.write(b"END-OF-STDOUT")
        sys.stderr.buffer.write(b"END-OF-STDERR")
    """, limits=limits)
    took = time.monotonic() - started
    assert result.exit_code == 0 and not result.timed_out
    assert len(result.stdout) == limits.output_bytes and result.stdout.endswith(b"yEND-OF-STDOUT")
    assert len(result.stderr) == limits.output_bytes and result.stderr.endswith(b"yEND-OF-STDERR")
    assert result.stdout_total == gib * 1024 * MiB + len(b"END-OF-STDOUT")
    assert result.stderr_total == 64 * MiB + len(b"END-OF-STDERR")
    # ~3 s on an idle machine; through dockerd's log or attach path it would be 12-24 s
    assert took < 60, f"draining {gib} GiB took {took:.1f} s"


def test_filling_tmp_out_and_shm_hits_enospc(sandbox: Sandbox, submission: Path) -> None:
    limits = Limits(tmpfs_bytes=8 * MiB, out_bytes=4 * MiB, shm_bytes=2 * MiB, out_files=8)
    result = run_py(sandbox, submission, """
        import errno, json, os
        report = {}
        for name, folder in (("tmp", "/tmp"), ("out", "/out"), ("shm", "/dev/shm")):
            written = 0
            try:
                with open(os.path.join(folder, "fill"), "wb") as f:
                    while True:
                        f.write(b"z" * 65536)
                        f.flush()
                        written += 65536
            except OSError as exc:
                report[name] = [exc.errno, written]
        created = 0
        try:
            for i in range(100000):
                open(f"/out/many-{i}", "w").close()
                created += 1
        except OSError as exc:
            report["inodes"] = [exc.errno, created]
        print(json.dumps(report))
    """, limits=limits)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["tmp"][0] == 28 and report["tmp"][1] <= limits.tmpfs_bytes
    assert report["out"][0] == 28 and report["out"][1] <= limits.out_bytes
    assert report["shm"][0] == 28 and report["shm"][1] <= limits.shm_bytes
    assert report["inodes"][0] == 28  # the /out inode cap: reading it back stays cheap
    assert len(result.files) <= limits.out_files
    assert sum(map(len, result.files.values())) <= limits.out_bytes
    assert "fill" in result.files or result.files_skipped.get("fill") == "size cap"


def test_writes_outside_tmp_and_out_fail(sandbox: Sandbox, submission: Path, tmp_path: Path) -> None:
    grader = tmp_path / "grader-code"
    grader.mkdir()
    (grader / "probe.py").write_text("PROBE = 'ok'\n")
    grader.chmod(0o755)
    (grader / "probe.py").chmod(0o644)
    result = run_py(sandbox, submission, """
        import json, sys
        sys.path.insert(0, "/grader")
        import probe
        outcome = {"probe": probe.PROBE}
        for path in ["/x", "/etc/x", "/usr/x", "/usr/lib/python3/x", "/sub/x", "/sub/tinytorch/__init__.py",
                     "/home/x", "/var/tmp/x", "/root/x", "/grader/x", "/grader/probe.py", "/dev/x", "/proc/x"]:
            try:
                open(path, "a").close()
                outcome[path] = "WRITTEN"
            except OSError as exc:
                outcome[path] = exc.errno
        print(json.dumps(outcome))
    """, code={grader: "/grader"})
    assert result.exit_code == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome.pop("probe") == "ok"
    assert "WRITTEN" not in outcome.values(), outcome
    assert set(outcome.values()) <= {30, 13, 2}  # EROFS, EACCES, ENOENT (/proc)
    assert (submission / "tinytorch" / "__init__.py").read_text() == "VALUE = 42\n"
    assert sorted(p.name for p in grader.iterdir()) == ["probe.py"]


def test_symlinks_and_special_files_in_out_are_not_followed(sandbox: Sandbox, submission: Path) -> None:
    result = run_py(sandbox, submission, """
        import os
        os.symlink("/etc/passwd", "/out/passwd")
        os.symlink("/etc", "/out/etc")
        os.symlink("/proc/self/environ", "/out/environ")
        os.mkfifo("/out/fifo")
        open("/out/real.txt", "w").write("real")
    """)
    assert result.exit_code == 0, result.stderr
    assert result.files == {"real.txt": b"real"}
    assert result.files_skipped == {
        "passwd": "symlink (not followed)", "etc": "symlink (not followed)", "environ": "symlink (not followed)",
        "fifo": "not a regular file",
    }


def test_runtime_description(sandbox: Sandbox, submission: Path) -> None:
    description = sandbox.describe()
    result = run_py(sandbox, submission, """
        import platform, numpy, pytest
        print(platform.python_version(), numpy.__version__, pytest.__version__)
    """)
    assert description["kind"] == sandbox.name == result.runtime["kind"]
    assert description["image_id"].startswith("sha256:") and len(description["image_id"]) == 71
    assert result.runtime["image_id"] == description["image_id"]
    python, numpy, pytest_version = result.stdout.decode().split()
    assert (description["python"], description["numpy"], description["pytest"]) == (python, numpy, pytest_version)
    assert (numpy, pytest_version) == ("2.4.6", "9.0.3")


def test_both_sandboxes_run_the_same_image(sandbox_ready: None) -> None:
    from sandbox import get_sandbox

    assert get_sandbox("docker").describe()["image_id"] == get_sandbox("bwrap").describe()["image_id"]


def test_cpu_and_peak_memory_are_measured(sandbox: Sandbox, submission: Path) -> None:
    result = run_py(sandbox, submission, """
        import time
        block = b"m" * (200 * 1000 * 1000)
        end = time.process_time() + 1.0
        while time.process_time() < end:
            pass
    """, limits=Limits(wall_seconds=60))
    assert result.exit_code == 0, result.stderr
    assert result.peak_memory_bytes >= 200 * 1000 * 1000
    assert 0.9 <= result.cpu_seconds <= 2.0
    assert result.wall_seconds >= 0.9


def test_orphans_of_a_killed_worker_are_reaped(sandbox: Sandbox, submission: Path) -> None:
    """A worker SIGKILLed mid-run cannot clean up; reap_all() (run before each process's first run) does."""
    from sandbox.reap import reap_all

    marker = f"orphan-{uuid.uuid4().hex}"
    worker = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from pathlib import Path
        from sandbox import Limits, RunSpec, get_sandbox
        get_sandbox({sandbox.name!r}).run(RunSpec(submission=Path({str(submission)!r}), limits=Limits(wall_seconds=60),
            argv=["python3", "-c", "import time; time.sleep(1000)", {marker!r}]))
    """)])
    deadline = time.monotonic() + 20
    while not sandbox_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes(marker), "the sandboxed sleeper never started"
    worker.kill()
    worker.wait()
    reap_all()
    leftovers = [str(p) for p in work_root().glob(f"run-{worker.pid}-*")]
    leftovers += [str(p) for p in CGROUP_ROOT.glob(f"*/tinytorch-sbx-{worker.pid}-*")]
    leftovers += [str(p) for c in CONTROLLERS
                  for p in (CGROUP_ROOT / c / own_cgroup(c).lstrip("/")).glob(f"tinytorch-sbx-{worker.pid}-*")]
    leftovers += [m for m in Path("/proc/self/mountinfo").read_text().splitlines() if f"run-{worker.pid}-" in m]
    assert leftovers == []
    ps = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=tinytorch-sbx-{worker.pid}-"],
                        capture_output=True, text=True, check=True)
    assert ps.stdout.strip() == ""
    deadline = time.monotonic() + 5
    while sandbox_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes(marker) == []


def test_command_as_pid_1_cannot_be_killed_or_impersonated_from_inside(sandbox: Sandbox, submission: Path) -> None:
    """RunSpec(init=False): argv is PID 1, so its children can neither kill it nor write into its stdout."""
    program = textwrap.dedent("""
        import ctypes, os, signal, sys, time
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0, as sandbox/runner/supervisor.py does
        print("pid", os.getpid(), flush=True)
        child = os.fork()
        if child == 0:
            for target in (1, -1):
                try:
                    os.kill(target, signal.SIGKILL)
                except OSError:
                    pass
            for path in ["/proc/1/fd/1", "/run/sandbox-io/stdout"] + [
                    os.path.join("/run/sandbox-io", n) for n in (os.listdir("/run/sandbox-io")
                                                                if os.access("/run/sandbox-io", os.R_OK) else [])]:
                try:
                    with open(path, "w") as stream:
                        stream.write("FORGED\\n")
                except OSError:
                    pass
            os._exit(0)
        os.waitpid(child, 0)
        time.sleep(0.2)
        print("survived", flush=True)
    """)
    result = run_py(sandbox, submission, program, init=False)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.decode().split() == ["pid", "1", "survived"]
