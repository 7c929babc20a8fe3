"""Several "hosts" on this one machine, for tests/deploy/test_workers_in_namespaces.py.

- `private_network(n)`: a bridge in the root namespace holding 10.231.X.1/24 (X picked unused), and n network
  namespaces, each joined to the bridge by a veth pair with 10.231.X.(11+i)/24; yields `Network(server_ip,
  namespaces)`. The namespaces, the veths and the bridge are deleted afterwards, whatever happened.
- `cgroup_view(folder)`: the host's cgroup v1 tree bind-mounted (recursively) at `folder`. `ip netns exec` mounts a
  fresh sysfs on /sys, hiding /sys/fs/cgroup from the process it starts; the bubblewrap sandbox reads its cgroups
  through TINYTORCH_SANDBOX_CGROUP_ROOT pointed here instead.
- `host_process(namespace, hostname, argv, env, log)`: `argv` inside `namespace` (`ip netns exec`) with a UTS
  namespace of its own named `hostname`, as on a machine of its own; stopped (SIGTERM, then SIGKILL) afterwards.
- `own_postgres(ip)` / `own_redis(folder, ip)`: a PostgreSQL (initdb into a temporary folder, trust from the /24) and a
  redis-server (append-only) of the test's own, listening on `ip` only; yield their URLs, stopped afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.grader.running_server import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def sh(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(argv)}` failed: {done.stderr.strip()}", pytrace=False)
    return done.stdout


@dataclass(frozen=True)
class Network:
    server_ip: str
    namespaces: list[str]


def _free_subnet() -> str:
    used = sh("ip", "-4", "-o", "addr", "show")
    for _ in range(50):
        candidate = f"10.231.{secrets.randbelow(200) + 20}"
        if f" {candidate}." not in used:
            return candidate
    pytest.fail("no free 10.231.X.0/24 subnet for the test network", pytrace=False)


@contextmanager
def private_network(hosts: int) -> Iterator[Network]:
    tag = f"gd{secrets.token_hex(3)}"  # interface names: at most 15 characters
    subnet, bridge = _free_subnet(), f"{tag}br"
    namespaces: list[str] = []
    try:
        sh("ip", "link", "add", bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{subnet}.1/24", "dev", bridge)
        sh("ip", "link", "set", bridge, "up")
        for i in range(hosts):
            namespace, outside, inside = f"{tag}-h{i}", f"{tag}v{i}", f"{tag}p{i}"
            sh("ip", "netns", "add", namespace)
            namespaces.append(namespace)
            sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            sh("ip", "link", "set", inside, "netns", namespace)
            sh("ip", "link", "set", outside, "master", bridge)
            sh("ip", "link", "set", outside, "up")
            sh("ip", "-n", namespace, "addr", "add", f"{subnet}.{11 + i}/24", "dev", inside)
            sh("ip", "-n", namespace, "link", "set", inside, "up")
            sh("ip", "-n", namespace, "link", "set", "lo", "up")
        yield Network(f"{subnet}.1", namespaces)
    finally:
        # Deleting a namespace deletes the veth end inside it, and so the pair.
        for namespace in namespaces:
            subprocess.run(["ip", "netns", "delete", namespace], capture_output=True)
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True)


@contextmanager
def cgroup_view(folder: Path) -> Iterator[Path]:
    folder.mkdir(parents=True)
    sh("mount", "--rbind", "/sys/fs/cgroup", str(folder))
    sh("mount", "--make-rprivate", str(folder))  # nothing mounted or unmounted here reaches the host's tree
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--recursive", "--lazy", str(folder)], capture_output=True)


@dataclass
class HostProcess:
    hostname: str
    process: subprocess.Popen[bytes]
    log: Path

    def read_log(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.read_log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                state = f"exited ({self.process.returncode})" if self.process.poll() is not None else "timed out"
                pytest.fail(f"{self.hostname}: {state} before {text!r}; its log:\n{self.read_log()[-6000:]}",
                            pytrace=False)
            time.sleep(0.3)

    def stop(self) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@contextmanager
def host_process(namespace: str, hostname: str, argv: list[str], env: dict[str, str], log: Path,
                 cwd: Path) -> Iterator[HostProcess]:
    # ip netns exec, unshare and sh each exec the next, so the pid is the worker's own (and its group's).
    script = f'hostname {hostname} && exec "$@"'
    command = ["ip", "netns", "exec", namespace, "unshare", "--uts", "--", "sh", "-c", script, "sh", *argv]
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    running = HostProcess(hostname, process, log)
    try:
        yield running
    finally:
        running.stop()


def _as_postgres(*argv: str) -> list[str]:
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]


@contextmanager
def own_postgres(ip: str) -> Iterator[str]:
    """A PostgreSQL cluster of the test's own on ip:<free port>; yields the URL of its database `grader`."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL 15 not installed ({PG_BIN}/initdb missing): apt-get install postgresql-15",
                    pytrace=False)
    # Its own temporary folder: pytest's are private to root, and initdb refuses to run as root.
    top = Path(tempfile.mkdtemp(prefix="grader-deploy-pg-"))
    shutil.chown(top, "postgres", "postgres")
    folder = top / "data"
    sh(*_as_postgres("mkdir", "-m", "700", str(folder)))
    port = free_port()
    subnet = ip.rsplit(".", 1)[0] + ".0/24"
    sh(*_as_postgres(str(PG_BIN / "initdb"), "-D", str(folder), "-U", "grader", "--auth=trust", "-E", "UTF8"))
    with (folder / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {subnet} trust\n")
    log = (top / "postgres.log").open("w")
    server = subprocess.Popen(
        _as_postgres(str(PG_BIN / "postgres"), "-D", str(folder), "-c", f"listen_addresses={ip}", "-c",
                     f"port={port}", "-c", f"unix_socket_directories={folder}", "-c", "max_connections=200"),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", ip, "-p", str(port)]).returncode != 0:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the test's PostgreSQL did not start:\n{(top / 'postgres.log').read_text()}",
                            pytrace=False)
            time.sleep(0.3)
        sh(str(PG_BIN / "createdb"), "-h", ip, "-p", str(port), "-U", "grader", "grader")
        yield f"postgresql://grader@{ip}:{port}/grader"
    finally:
        server.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(top, ignore_errors=True)


@contextmanager
def own_redis(folder: Path, ip: str) -> Iterator[str]:
    """A redis-server of the test's own on ip:<free port>, append-only as production runs it; yields its URL."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server not installed: apt-get install redis-server", pytrace=False)
    folder.mkdir(parents=True)
    port = free_port()
    log = (folder / "redis.log").open("w")
    server = subprocess.Popen(["redis-server", "--bind", ip, "--port", str(port), "--dir", str(folder),
                               "--appendonly", "yes", "--save", "", "--protected-mode", "no"],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["redis-cli", "-h", ip, "-p", str(port), "ping"], capture_output=True,
                             text=True).stdout.strip() != "PONG":
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the test's redis-server did not start:\n{(folder / 'redis.log').read_text()}",
                            pytrace=False)
            time.sleep(0.2)
        yield f"redis://{ip}:{port}/0"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
