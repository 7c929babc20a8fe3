"""What does the service cost? Upload acceptance latency and end-to-end throughput of `grader serve`.

1. Acceptance: 50 concurrent clients POST the reference archive (200 uploads in all) to a running
   `grader serve`; p50/p99 of the time to the `202`. Target: p99 under 100 ms.
2. Throughput: N submissions uploaded at once and graded by the embedded worker (one worker, one grading at a
   time), submissions graded per minute, against `grader grade` of the same archive run N times in a loop in
   the same run; the ratio. Target: at least 0.9x.

Each part runs its own `grader serve` on a free port with a temporary GRADER_DATA_DIR (SQLite + the embedded
broker), so the 200 uploads of part 1 are not graded in part 2's time. Both servers are stopped at the end.
Run: `python benchmarks/bench_service.py` (needs httpx and the sandbox: `bash sandbox/setup.sh`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tinytorch_reference"
CLIENTS = 50
UPLOADS = 200
GRADED = 6
GRADE_TIMEOUT_S = 600.0
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def reference_zip(folder: Path) -> Path:
    archive = folder / "reference.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((REFERENCE / "tinytorch").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(REFERENCE).as_posix())
    return archive


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(data_dir: Path):
    """A `grader serve` on a free port with its own data dir; yields (base_url, student_token)."""
    env = {**ENV, "GRADER_DATA_DIR": str(data_dir)}
    for key in ("GRADER_DATABASE_URL", "GRADER_BROKER_URL", "GRADER_ARCHIVE_DIR"):
        env.pop(key, None)
    port = free_port()
    log = open(data_dir.parent / f"serve-{port}.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([sys.executable, "-m", "grader", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"grader serve exited ({proc.returncode}); see {log.name}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"grader serve not healthy within 60 s; see {log.name}")
            time.sleep(0.3)
        added = subprocess.run([sys.executable, "-m", "grader", "users", "add", f"bench-{port}@localhost",
                                "--role", "student"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        yield url, added.stdout.strip().splitlines()[-1]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # serve and the worker it started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


async def upload_latencies(url: str, token: str, archive: bytes) -> list[float]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(UPLOADS):
        queue.put_nowait(i)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60,
                                 limits=limits) as client:

        async def one_client() -> None:
            while not queue.empty():
                queue.get_nowait()
                start = time.perf_counter()
                response = await client.post("/api/v1/submissions", files={"file": ("ref.zip", archive)})
                latencies.append(time.perf_counter() - start)
                if response.status_code != 202:
                    raise SystemExit(f"upload answered {response.status_code}: {response.text[:500]}")

        await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def service_per_minute(url: str, token: str, archive: bytes) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        start = time.perf_counter()
        ids = []
        for _ in range(GRADED):
            response = client.post("/api/v1/submissions", files={"file": ("ref.zip", archive)})
            response.raise_for_status()
            ids.append(response.json()["id"])
        pending = set(ids)
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
        return GRADED / (time.perf_counter() - start) * 60


def loop_per_minute(archive: Path) -> float:
    start = time.perf_counter()
    for _ in range(GRADED):
        result = subprocess.run([sys.executable, "-m", "grader", "grade", str(archive), "--json"], cwd=ROOT,
                                env=ENV, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"grader grade failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return GRADED / (time.perf_counter() - start) * 60


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        folder = Path(tmp)
        archive_path = reference_zip(folder)
        archive = archive_path.read_bytes()
        print(f"bench_service: reference archive {len(archive) / 1024:.0f} KiB", flush=True)

        with server(folder / "accept") as (url, token):
            asyncio.run(_warm(url, token, archive))
            latencies = asyncio.run(upload_latencies(url, token, archive))
        p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
        print(f"  upload acceptance, {CLIENTS} clients, {UPLOADS} uploads: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
              f"(target p99 < 100 ms)", flush=True)

        with server(folder / "throughput") as (url, token):
            service = service_per_minute(url, token, archive)
        print(f"  service, 1 embedded worker, {GRADED} submissions: {service:.1f} graded/min", flush=True)
        bare = loop_per_minute(archive_path)
        print(f"  `grader grade` loop, {GRADED} runs:            {bare:.1f} graded/min", flush=True)
        print(f"  ratio service/loop: {service / bare:.2f}x (target >= 0.9x)", flush=True)


async def _warm(url: str, token: str, archive: bytes) -> None:
    """One upload before measuring (imports, first database writes)."""
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        (await c.post("/api/v1/submissions", files={"file": ("ref.zip", archive)})).raise_for_status()


if __name__ == "__main__":
    main()
