"""A test's own Redis and PostgreSQL servers, on free ports, for tests that stop or kill them (the machine's shared
ones are never touched). Imported as `own_services`, like running_server.

    with own_redis(tmp_path) as redis_server:     # .url, .kill() (SIGKILL, nothing persisted), .start()
    with own_postgres() as pg:                    # .url (database "grader"), .stop(), .start()

Both fail the test loudly when their binaries are missing: a fault test that cannot run is a failure, not a skip.
PostgreSQL refuses to run as root, so as root the cluster is made and run by the `postgres` account.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from running_server import free_port


class OwnRedis:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.binary = shutil.which("redis-server")
        assert self.binary, "redis-server is required by the fault tests"

    def start(self) -> None:
        # No persistence at all: a restart after kill() comes back empty, as a production Redis without
        # appendonly would.
        self.process = subprocess.Popen([self.binary or "redis-server", "--port", str(self.port), "--bind",
                                         "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                if redis.Redis.from_url(self.url).ping():
                    return
            except redis.RedisError:
                pass
            assert time.monotonic() < deadline, "own redis-server did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@contextmanager
def own_redis(folder: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(folder)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    assert found[-1], f"PostgreSQL's {name} is required by the fault tests"
    return found[-1]


class OwnPostgres:
    def __init__(self, folder: Path) -> None:
        self.data = folder / "pgdata"
        self.socket_dir = folder / "pgsock"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/grader"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def init(self) -> None:
        for path in (self.data, self.socket_dir):
            path.mkdir(parents=True)
            if self._as:
                shutil.chown(path, "postgres", "postgres")
        if self._as:
            shutil.chown(self.data.parent, "postgres", "postgres")
        self._run(_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        self._run(_postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "grader")

    def start(self) -> None:
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.data.parent / "pg.log"),
                  "-o", f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-w", "-m", "immediate", "stop")

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(args)} failed: {done.stdout}{done.stderr}"


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    # A folder of its own under /tmp: pytest's tmp_path sits in a root-only folder the postgres account
    # cannot enter.
    folder = Path(tempfile.mkdtemp(prefix="grader-test-pg-"))
    folder.chmod(0o755)
    server = OwnPostgres(folder)
    try:
        server.init()
        yield server
    finally:
        subprocess.run([*server._as, _postgres_bin("pg_ctl"), "-D", str(server.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
