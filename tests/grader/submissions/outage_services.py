"""Services a fault test may break, started by the test itself (never the machine's shared ones), and the
clients that talk to a real `grader serve` during the fault. A uniquely named module, like submission_helpers.

- `postgres_cluster(folder)`: initdb into a folder of the postgres user's (its log ends up in `folder`), a
  postmaster on 127.0.0.1:<free port> run as the postgres user; `.url` is its database `grader`; `.stop()`
  (fast shutdown) and `.start()` again on the same data.
- `small_tmpfs(path, size)`: a tmpfs of `size` mounted at `path` (we run as root), unmounted on exit.
- `lowered_open_files(n)`: the soft RLIMIT_NOFILE of this process lowered to n while the block runs, so that a
  server started inside it inherits the limit.
- `upload(url, token, path)`: one multipart POST of `path`, as (status, headers, parsed JSON or text); `get(url,
  token, path)` the same for a GET.
- `serve_api(env, log)`: `grader serve --grading-workers 0` (the API alone) once its /healthz answers.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from running_server import GraderProcess, answers, free_port, grader_process

PG_BIN = Path("/usr/lib/postgresql/15/bin")
CLIENT_TIMEOUT_S = 60


def _as_postgres(*argv: str) -> list[str]:
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]


class PostgresCluster:
    def __init__(self, folder: Path) -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.fail(f"PostgreSQL 15 is needed ({PG_BIN}/initdb missing): apt-get install postgresql-15",
                        pytrace=False)
        # Not under pytest's tmp_path: its folders are root's alone (0700), and the server runs as postgres.
        self.folder = Path(tempfile.mkdtemp(prefix="grader-test-pg-"))
        shutil.chown(self.folder, "postgres", "postgres")
        self.data = self.folder / "pgdata"
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql+psycopg://grader@127.0.0.1:{self.port}/grader"
        subprocess.run(_as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "grader", "--auth=trust",
                                    "-E", "UTF8"), check=True, capture_output=True, cwd="/")
        self.start()
        subprocess.run([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "grader", "grader"],
                       check=True, capture_output=True)

    def _ctl(self, *args: str) -> None:
        done = subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
                                           str(self.folder / "postgres.log"), *args),
                              capture_output=True, text=True, timeout=120, cwd="/")
        if done.returncode != 0:
            pytest.fail(f"pg_ctl {' '.join(args)} failed: {done.stderr}\n{self.read_log()}", pytrace=False)

    def read_log(self) -> str:
        path = self.folder / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.data}"
        self._ctl("-w", "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        self._ctl("-w", "-t", "60", "-m", "fast", "stop")

    def close(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._ctl("-w", "-t", "60", "-m", "immediate", "stop")
        finally:
            self.log.write_text(self.read_log())  # kept with the test's files
            shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def postgres_cluster(folder: Path) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster(folder)
    try:
        yield cluster
    finally:
        cluster.close()


@contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=True)


@contextmanager
def lowered_open_files(limit: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def multipart(path: Path, boundary: str) -> bytes:
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            "Content-Type: application/zip\r\n\r\n").encode()
    return head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()


def upload(url: str, token: str, path: Path) -> tuple[int, dict[str, str], Any]:
    """POST path to /api/v1/submissions: (status, headers with lower-case names, body as JSON, or as text when
    it is not JSON)."""
    boundary = uuid.uuid4().hex
    request = urllib.request.Request(f"{url}/api/v1/submissions", data=multipart(path, boundary), method="POST",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": f"multipart/form-data; boundary={boundary}"})
    return _answer(request)


def get(url: str, token: str, path: str) -> tuple[int, dict[str, str], Any]:
    return _answer(urllib.request.Request(f"{url}{path}", headers={"Authorization": f"Bearer {token}"}))


def _answer(request: urllib.request.Request) -> tuple[int, dict[str, str], Any]:
    try:
        with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT_S) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    headers = {name.lower(): value for name, value in headers.items()}
    try:
        return status, headers, json.loads(raw)
    except ValueError:
        return status, headers, raw.decode(errors="replace")


@contextmanager
def serve_api(env: dict[str, str], log: Path) -> Iterator[GraderProcess]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with grader_process(("serve", "--port", str(port), "--grading-workers", "0"), env, log, url=url,
                        ready=lambda s: answers(f"{url}/healthz"), timeout=90) as server:
        yield server

