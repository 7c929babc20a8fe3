"""What does the service cost? Upload acceptance latency and end-to-end grading throughput.

1. Acceptance (time from sending an upload to its `202`), 50 concurrent clients, 200 uploads, each upload a
   different archive (the reference plus a note of its own), so every one is checked, stored and fsynced.
   Two deployments, each a real `grader serve` subprocess:
     embedded    the README's first command: SQLite, the SQLAlchemy broker, a grading worker alongside (it
                 grades the uploads as they arrive, on the same 2 cores);
     production  PostgreSQL + Redis, the API process alone (`--grading-workers 0`; workers live elsewhere).
   Two loads for each:
     paced       each client uploads, then thinks 0-4 s (2 s on average): about 25 uploads/s offered, ten
                 times a 300-student course's deadline rush. The target (p99 < 100 ms) is read here.
     saturated   each client uploads again the moment it is answered (a closed loop). This measures capacity:
                 by Little's law latency is then clients / uploads-per-second, whatever the code does.
2. Throughput, production deployment (PostgreSQL + Redis + `grader worker`), the reference graded N times:
   one worker (concurrency 1) against `grader grade` run N times in a loop, and two worker processes against
   two such loops side by side, in the same run; the ratios. Target: at least 0.9x.

Run: `python benchmarks/bench_service.py` (needs the sandbox: `bash sandbox/setup.sh`; PostgreSQL and Redis on
127.0.0.1, as on the development machines). Every server and database it makes is removed at the end.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tinytorch_reference"
CLIENTS = 50
UPLOADS = 200
THINK_S = (0.0, 4.0)
GRADED = 6
GRADE_TIMEOUT_S = 900.0
POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def reference_files() -> list[tuple[str, bytes]]:
    return [(path.relative_to(REFERENCE).as_posix(), path.read_bytes())
            for path in sorted((REFERENCE / "tinytorch").rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts]


def archive(files: list[tuple[str, bytes]], note: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            zf.writestr(name, data)
        zf.writestr("NOTE.txt", note)  # beside the package: ignored by intake, but it makes every upload unique
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"bench_service_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def production(folder: Path) -> Iterator[dict[str, str]]:
    """GRADER_* for PostgreSQL (a database of its own) and Redis (a queue of its own)."""
    with postgres_database() as url:
        yield {"GRADER_DATA_DIR": str(folder), "GRADER_DATABASE_URL": url, "GRADER_BROKER_URL": REDIS,
               "GRADER_TASK_QUEUE": f"bench-{secrets.token_hex(4)}"}


def embedded(folder: Path) -> dict[str, str]:
    return {"GRADER_DATA_DIR": str(folder)}


@contextmanager
def process(args: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "grader", *args], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # the process and whatever it started (serve's worker)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextmanager
def server(settings: dict[str, str], grading_workers: int) -> Iterator[tuple[str, str]]:
    """A `grader serve` on a free port; yields (base_url, a student's token)."""
    env = {**{k: v for k, v in ENV.items() if not k.startswith("GRADER_")}, **settings}
    port = free_port()
    log = Path(settings["GRADER_DATA_DIR"]).parent / f"serve-{port}.log"
    Path(settings["GRADER_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    args = ["serve", "--port", str(port), "--grading-workers", str(grading_workers)]
    with process(args, env, log) as proc:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"grader serve exited ({proc.returncode}); see {log}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"grader serve not healthy within 90 s; see {log}")
            time.sleep(0.3)
        added = subprocess.run([sys.executable, "-m", "grader", "users", "add", f"bench-{port}@localhost",
                                "--role", "student"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        yield url, added.stdout.strip().splitlines()[-1]


async def upload_latencies(url: str, token: str, uploads: list[bytes], think: tuple[float, float] | None) -> \
        tuple[list[float], float]:
    """Latencies of every upload and the wall time, CLIENTS clients sharing the uploads."""
    queue = list(reversed(uploads))
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120,
                                 limits=limits) as client:

        async def one_client() -> None:
            if think:  # paced clients do not all start in the same instant
                await asyncio.sleep(rng.uniform(*think))
            while queue:
                body = queue.pop()
                start = time.perf_counter()
                response = await client.post("/api/v1/submissions", files={"file": ("upload.zip", body)})
                latencies.append(time.perf_counter() - start)
                if response.status_code != 202:
                    raise SystemExit(f"upload answered {response.status_code}: {response.text[:500]}")
                if think:
                    await asyncio.sleep(rng.uniform(*think))

        start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
    return latencies, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def acceptance(name: str, settings: dict[str, str], grading_workers: int, files: list[tuple[str, bytes]]) -> None:
    with server(settings, grading_workers) as (url, token):
        for load, think in (("paced", THINK_S), ("saturated", None)):
            uploads = [archive(files, f"{name} {load} {i}") for i in range(UPLOADS + CLIENTS)]
            # Warm, as a server that has been up a while is: one upload per client at once opens the
            # connection pool and the thread pool's threads, and runs every import.
            asyncio.run(upload_latencies(url, token, uploads[:CLIENTS], None))
            latencies, wall = asyncio.run(upload_latencies(url, token, uploads[CLIENTS:], think))
            p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
            print(f"  {name:<10} {load:<9}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  "
                  f"{len(latencies) / wall:6.1f} uploads/s", flush=True)


def graded_per_minute(url: str, token: str, uploads: list[bytes]) -> float:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        start = time.perf_counter()
        pending = set()
        for body in uploads:
            response = client.post("/api/v1/submissions", files={"file": ("upload.zip", body)})
            response.raise_for_status()
            pending.add(response.json()["id"])
        while pending:
            if time.perf_counter() - start > GRADE_TIMEOUT_S:
                raise SystemExit(f"{len(pending)} submissions not graded within {GRADE_TIMEOUT_S} s")
            for sid in list(pending):
                body = client.get(f"/api/v1/submissions/{sid}").json()
                if body["status"] == "failed":
                    raise SystemExit(f"submission {sid} failed: {body}")
                if body["status"] == "graded":
                    pending.discard(sid)
            time.sleep(0.2)
        return len(uploads) / (time.perf_counter() - start) * 60


def service_throughput(folder: Path, workers: int, files: list[tuple[str, bytes]]) -> float:
    """Production layout: the API alone plus `workers` separate `grader worker` processes."""
    with production(folder / "data") as settings, server(settings, 0) as (url, token):
        env = {**{k: v for k, v in ENV.items() if not k.startswith("GRADER_")}, **settings}
        with _workers(env, workers, folder):
            uploads = [archive(files, f"throughput {workers} {i}") for i in range(GRADED)]
            return graded_per_minute(url, token, uploads)


@contextmanager
def _workers(env: dict[str, str], count: int, folder: Path) -> Iterator[None]:
    if count == 0:
        yield
        return
    with process(["worker", "--concurrency", "1"], env, folder / f"worker-{count}.log"), \
            _workers(env, count - 1, folder):
        yield


def loop_per_minute(path: Path, loops: int) -> float:
    """`grader grade` of the archive GRADED times, in `loops` loops side by side; gradings per minute in all."""

    def one_loop(_: int) -> None:
        for _ in range(GRADED // loops):
            result = subprocess.run([sys.executable, "-m", "grader", "grade", str(path), "--json"], cwd=ROOT,
                                    env=ENV, capture_output=True, text=True)
            if result.returncode not in (0, 1):  # 1: graded below full marks
                raise SystemExit(f"grader grade failed ({result.returncode}):\n{result.stderr[-3000:]}")

    start = time.perf_counter()
    with ThreadPoolExecutor(loops) as pool:
        list(pool.map(one_loop, range(loops)))
    return GRADED / (time.perf_counter() - start) * 60


def main() -> None:
    files = reference_files()
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        folder = Path(tmp)
        print(f"bench_service: reference archive {len(archive(files, '')) / 1024:.0f} KiB, {CLIENTS} clients, "
              f"{UPLOADS} uploads per load", flush=True)
        acceptance("embedded", embedded(folder / "embedded" / "data"), 1, files)
        with production(folder / "production" / "data") as settings:
            acceptance("production", settings, 0, files)

        single = folder / "reference.zip"
        single.write_bytes(archive(files, "loop"))
        print(f"throughput, {GRADED} gradings of the reference (PostgreSQL + Redis, `grader worker` processes):",
              flush=True)
        for workers in (1, 2):
            run = folder / f"throughput-{workers}"
            run.mkdir()
            service = service_throughput(run, workers, files)
            bare = loop_per_minute(single, workers)
            print(f"  {workers} worker(s): service {service:5.1f}/min, `grader grade` x{workers} loop(s) "
                  f"{bare:5.1f}/min, ratio {service / bare:.2f}x (target >= 0.9x)", flush=True)


if __name__ == "__main__":
    main()
