"""The night before a deadline: a surge of uploads, a worker killed and Redis restarted while they are graded.

Production layout, every part a real process: `grader serve --grading-workers 0` on a PostgreSQL database of its
own, a redis-server of the benchmark's own (no persistence, so a restart loses every message in it), and WORKERS
`grader worker` processes. UPLOADS uploads from CLIENTS concurrent clients, each client a student of its own:
70% the reference (each a different archive), 20% the broken fixtures (tests/fixtures/students), 5% hostile
packages (tests/fixtures/hostile_packages, the ones that finish within their limits), 5% bad archives (which
must be refused with a 4xx and words). While they are graded, one worker is `kill -9`ed (and a new one started,
as an operator's supervisor would) and Redis is killed and restarted empty.

Printed: upload p50/p99; every upload answered (none a 5xx); time until the last is graded against the ideal
(the sum of the gradings' own durations / WORKERS); graded per minute against WORKERS `grader grade` loops of the
reference side by side; lost (accepted, never graded), graded twice (a trigger counts every move to `graded`),
scores that differ from the offline grade of the same package with the same seed. Then the fairness figure: one
student sends 20 uploads at once, another student one; how many of the 20 start before the other's one (first in,
first out would be all 20).

Run: `python benchmarks/bench_deadline.py [--uploads 500 --clients 100]` (needs the sandbox: `bash
sandbox/setup.sh`; PostgreSQL on 127.0.0.1; redis-server on the PATH). Takes about 20 minutes at the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.bench_service import (
    ENV,
    ROOT,
    free_port,
    loop_per_minute,
    percentile,
    postgres_database,
    server,
)

SEED = 20261206
WORKERS = 2
HOSTILE = ("stack_walker", "import_grader", "decoder_values", "kill_keeper", "monkeypatch", "exit_early",
           "fork_bomb", "memory_bomb")
GRADED_TIMEOUT_S = 1800.0  # after the last upload: what is not graded by then counts as lost (--timeout)
FAIR_BURST = 20


@dataclass
class Upload:
    key: str  # which package (the offline grade's key), or "bad:<why>"
    body: bytes
    student: int


@dataclass
class Answer:
    upload: Upload
    status: int
    seconds: float
    body: dict  # type: ignore[type-arg]


# ------------------------------------------------------------------------------------------------ packages
def zipped(folder: Path, note: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((folder / "tinytorch").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.writestr(path.relative_to(folder).as_posix(), path.read_bytes())
        archive.writestr("NOTE.txt", note)  # every upload a different archive
    return out.getvalue()


def bad_archives() -> dict[str, bytes]:
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("README.txt", "no package here")
    escape = io.BytesIO()
    with zipfile.ZipFile(escape, "w") as archive:
        archive.writestr("../../etc/cron.d/x", "* * * * * root true")
    return {"bad:not-an-archive": b"this is not an archive\n" * 40, "bad:no-package": empty.getvalue(),
            "bad:path-escape": escape.getvalue(), "bad:truncated": zipped(ROOT / "tinytorch_reference", "t")[:5000]}


def build_packages(folder: Path) -> dict[str, Path]:
    from tests.fixtures.hostile_packages import build as hostile
    from tests.fixtures.students import build as students

    packages = {"reference": ROOT / "tinytorch_reference"}
    packages.update({f"fixture:{name}": path for name, path in students.build_all(folder / "students").items()})
    for name in HOSTILE:
        packages[f"hostile:{name}"] = hostile.build_case(hostile.CASES_BY_NAME[name], folder / "hostile",
                                                         hostile.default_params())
    for path in folder.rglob("*"):
        path.chmod(path.stat().st_mode | 0o755 if path.is_dir() else path.stat().st_mode | 0o644)
    return packages


def offline_scores(packages: dict[str, Path]) -> dict[str, float]:
    """`grader grade --json` of each package once, at the service's seed: the score every upload of it must get."""

    def one(item: tuple[str, Path]) -> tuple[str, float]:
        key, path = item
        result = subprocess.run([sys.executable, "-m", "grader", "grade", str(path), "--seed", str(SEED), "--json"],
                                cwd=ROOT, env=ENV, capture_output=True, text=True)
        if result.returncode not in (0, 1):
            raise SystemExit(f"offline grade of {key} exited {result.returncode}:\n{result.stderr[-2000:]}")
        return key, float(json.loads(result.stdout)["score"])

    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(pool.map(one, packages.items()))


def upload_mix(packages: dict[str, Path], count: int, clients: int) -> list[Upload]:
    rng = random.Random(SEED)
    fixtures = sorted(k for k in packages if k.startswith("fixture:"))
    hostile = sorted(k for k in packages if k.startswith("hostile:"))
    bad = bad_archives()
    uploads = []
    for i in range(count):
        share = i % 20  # 14 reference, 4 fixtures, 1 hostile, 1 bad in every 20
        student = i % clients
        if share < 14:
            uploads.append(Upload("reference", zipped(packages["reference"], f"upload {i}"), student))
        elif share < 18:
            key = fixtures[(i // 20 * 4 + share - 14) % len(fixtures)]
            uploads.append(Upload(key, zipped(packages[key], f"upload {i}"), student))
        elif share < 19:
            key = hostile[(i // 20) % len(hostile)]
            uploads.append(Upload(key, zipped(packages[key], f"upload {i}"), student))
        else:
            key = sorted(bad)[(i // 20) % len(bad)]
            uploads.append(Upload(key, bad[key], student))
    rng.shuffle(uploads)
    return uploads


# --------------------------------------------------------------------------------------------- the service
@contextmanager
def redis_server(port: int) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """A redis-server that keeps nothing on disk; the dict's "proc" is replaced by restart_redis()."""
    state = {"proc": _start_redis(port)}
    try:
        yield state
    finally:
        state["proc"].kill()
        state["proc"].wait()


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() != b"PONG":
        if time.monotonic() > deadline:
            raise SystemExit("redis-server did not start")
        time.sleep(0.1)
    return proc


def count_graded_moves(url: str) -> None:
    """Every move of a submission to `graded` is recorded: a submission graded twice shows up twice."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE bench_graded (submission_id uuid, at timestamptz DEFAULT now())"))
        connection.execute(text(
            "CREATE FUNCTION bench_note_graded() RETURNS trigger AS $$ BEGIN "
            "INSERT INTO bench_graded (submission_id) VALUES (NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql"))
        connection.execute(text(
            "CREATE TRIGGER bench_graded AFTER UPDATE OF status ON submissions FOR EACH ROW "
            "WHEN (NEW.status = 'graded' AND OLD.status IS DISTINCT FROM 'graded') "
            "EXECUTE FUNCTION bench_note_graded()"))
    engine.dispose()


def student_tokens(url: str, count: int, tag: str) -> list[str]:
    from grader.db.models import Role
    from grader.db.session import session_scope
    from grader.settings import get_settings
    from grader.users.service import create_user

    os.environ["GRADER_DATABASE_URL"] = url
    get_settings.cache_clear()
    tokens = []
    with session_scope(write=True) as session:
        for i in range(count):
            tokens.append(create_user(session, f"{tag}-{i}@bench.localhost", Role.student)[1])
    return tokens


class Workers:
    """WORKERS `grader worker` processes, each in a process group of its own so that one can be killed whole."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env, self.folder = env, folder
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def start(self) -> None:
        self.started += 1
        log = open(self.folder / f"worker-{self.started}.log", "w")  # noqa: SIM115 (kept open for the process)
        self.procs.append(subprocess.Popen([sys.executable, "-m", "grader", "worker", "--concurrency", "1"],
                                           cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True))

    def kill_one(self) -> None:
        victim = self.procs.pop(0)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()

    def stop(self) -> None:
        for proc in self.procs:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


# ------------------------------------------------------------------------------------------------ the run
async def send_all(url: str, tokens: list[str], uploads: list[Upload], clients: int) -> list[Answer]:
    queue = list(reversed(uploads))
    answers: list[Answer] = []
    # A connection per upload, as `curl -F` and a browser's form post after a pause make: no kept-alive
    # connection the server may be closing just as a request goes out on it.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:

        async def one_client(student: int) -> None:
            mine = [u for u in queue if u.student == student]
            for upload in mine:
                start = time.perf_counter()
                try:
                    response = await client.post("/api/v1/submissions",
                                                 files={"file": ("upload.zip", upload.body)},
                                                 headers={"Authorization": f"Bearer {tokens[student]}"})
                except httpx.TransportError as error:  # no answer at all: counted, never hidden
                    answers.append(Answer(upload, 0, time.perf_counter() - start, {"error": repr(error)}))
                    continue
                try:
                    body = response.json()
                except ValueError:
                    body = {"text": response.text[:300]}
                answers.append(Answer(upload, response.status_code, time.perf_counter() - start, body))

        await asyncio.gather(*(one_client(s) for s in range(clients)))
    return answers


def states(url: str) -> dict[str, dict]:  # type: ignore[type-arg]
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT id, status, score, started_at, graded_at, created_at, attempt FROM submissions")).all()
        moves = Counter(str(r[0]) for r in connection.execute(text("SELECT submission_id FROM bench_graded")))
    engine.dispose()
    return {str(r[0]): {"status": r[1], "score": r[2], "started_at": r[3], "graded_at": r[4], "created_at": r[5],
                        "attempt": r[6], "moves": moves.get(str(r[0]), 0)} for r in rows}


def wait_graded(url: str, ids: set[str], on_progress,  # type: ignore[no-untyped-def]
                timeout_s: float = GRADED_TIMEOUT_S) -> dict[str, dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    while True:
        now = states(url)
        done = {i for i in ids if now.get(i, {}).get("status") in ("graded", "failed")}
        on_progress(len(done))
        if done == ids or time.monotonic() > deadline:
            return now
        time.sleep(2)


def surge(folder: Path, packages: dict[str, Path], offline: dict[str, float], count: int, clients: int) -> None:
    redis_port = free_port()
    with postgres_database() as db_url, redis_server(redis_port) as redis:
        settings = {"GRADER_DATA_DIR": str(folder / "data"), "GRADER_DATABASE_URL": db_url,
                    "GRADER_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0", "GRADER_FIXED_SEED": str(SEED),
                    "GRADER_SWEEP_INTERVAL_S": "5"}
        with server(settings, 0) as (url, _):
            count_graded_moves(db_url)
            tokens = student_tokens(db_url, clients + 2, "surge")
            env = {**{k: v for k, v in ENV.items() if not k.startswith("GRADER_")}, **settings}
            workers = Workers(env, folder)
            for _ in range(WORKERS):
                workers.start()
            try:
                uploads = upload_mix(packages, count, clients)
                started = time.monotonic()
                answers = asyncio.run(send_all(url, tokens, uploads, clients))
                accepted = {a.body["id"]: a.upload.key for a in answers if a.status == 202}
                print(f"  uploads: {len(answers)} answered in {time.monotonic() - started:.1f} s, "
                      f"p50 {percentile([a.seconds for a in answers], 50) * 1000:.0f} ms, "
                      f"p99 {percentile([a.seconds for a in answers], 99) * 1000:.0f} ms; "
                      f"{len(accepted)} accepted, codes {dict(Counter(a.status for a in answers))}", flush=True)
                _check_refusals(answers)
                faults = {"worker": False, "redis": False}

                def on_progress(done: int) -> None:
                    if not faults["worker"] and done >= len(accepted) * 0.2:
                        faults["worker"] = True
                        workers.kill_one()
                        workers.start()
                        print(f"  fault: a worker kill -9ed at {done} graded, a new one started", flush=True)
                    if not faults["redis"] and done >= len(accepted) * 0.4:
                        faults["redis"] = True
                        redis["proc"].kill()
                        redis["proc"].wait()
                        time.sleep(5)
                        redis["proc"] = _start_redis(redis_port)
                        print(f"  fault: Redis killed at {done} graded, restarted empty 5 s later", flush=True)

                final = wait_graded(db_url, set(accepted), on_progress)
                wall = time.monotonic() - started
            finally:
                workers.stop()
    _report_surge(final, accepted, offline, wall)


def _check_refusals(answers: list[Answer]) -> None:
    for answer in answers:
        bad = answer.upload.key.startswith("bad:")
        if bad and not (400 <= answer.status < 500 and answer.body.get("detail")):
            print(f"  REFUSAL WITHOUT WORDS: {answer.upload.key} -> {answer.status} {answer.body}", flush=True)
        if not bad and answer.status != 202:
            print(f"  GOOD UPLOAD NOT ACCEPTED: {answer.upload.key} -> {answer.status or 'no answer'} "
                  f"{answer.body}", flush=True)


def _report_surge(final: dict[str, dict], accepted: dict[str, str], offline: dict[str, float],  # type: ignore[type-arg]
                  wall: float) -> None:
    rows = [final.get(i, {}) for i in accepted]
    graded = [r for r in rows if r.get("status") == "graded"]
    lost = [i for i in accepted if final.get(i, {}).get("status") not in ("graded", "failed")]
    failed = [i for i in accepted if final.get(i, {}).get("status") == "failed"]
    twice = [i for i in accepted if final.get(i, {}).get("moves", 0) > 1]
    wrong = [(accepted[i], final[i]["score"], offline[accepted[i]]) for i in accepted
             if final.get(i, {}).get("status") == "graded" and abs(final[i]["score"] - offline[accepted[i]]) > 1e-6]
    busy = sum((r["graded_at"] - r["started_at"]).total_seconds() for r in graded if r["started_at"])
    ideal = busy / WORKERS
    print(f"  graded {len(graded)}, failed {len(failed)}, lost {len(lost)}, graded twice {len(twice)}, "
          f"scores unlike offline {len(wrong)}", flush=True)
    for item in wrong[:10]:
        print(f"    {item[0]}: {item[1]} served, {item[2]} offline", flush=True)
    print(f"  last graded {wall:.0f} s after the first upload; ideal {ideal:.0f} s (sum of gradings / {WORKERS}); "
          f"ratio {wall / max(ideal, 1e-9):.2f}x; {len(graded) / wall * 60:.1f} graded/min", flush=True)


def fairness(folder: Path, packages: dict[str, Path]) -> None:
    """One student's FAIR_BURST resubmissions, then another student's first: how many of the burst start first."""
    redis_port = free_port()
    with postgres_database() as db_url, redis_server(redis_port):
        settings = {"GRADER_DATA_DIR": str(folder / "fair-data"), "GRADER_DATABASE_URL": db_url,
                    "GRADER_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0", "GRADER_FIXED_SEED": str(SEED)}
        with server(settings, 0) as (url, _):
            count_graded_moves(db_url)
            eager, patient = student_tokens(db_url, 2, "fair")
            env = {**{k: v for k, v in ENV.items() if not k.startswith("GRADER_")}, **settings}
            workers = Workers(env, folder)
            try:
                with httpx.Client(base_url=url, timeout=60) as client:
                    burst = [client.post("/api/v1/submissions",
                                         files={"file": ("u.zip", zipped(packages["reference"], f"burst {i}"))},
                                         headers={"Authorization": f"Bearer {eager}"}).json()["id"]
                             for i in range(FAIR_BURST)]
                    other = client.post("/api/v1/submissions", files={"file": ("u.zip", zipped(
                        packages["reference"], "other"))}, headers={"Authorization": f"Bearer {patient}"}).json()["id"]
                for _ in range(WORKERS):
                    workers.start()
                final = wait_graded(db_url, {*burst, other}, lambda done: None)
            finally:
                workers.stop()
    mine = final[other]["started_at"]
    before = sum(1 for i in burst if final[i]["started_at"] and final[i]["started_at"] < mine)
    waited = (final[other]["graded_at"] - final[other]["created_at"]).total_seconds()
    print(f"  fairness: {before} of {FAIR_BURST} burst uploads started before another student's first "
          f"(first in, first out: {FAIR_BURST}); it waited {waited:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=500)
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-deadline-"))
    folder.chmod(0o755)
    try:
        packages = build_packages(folder / "packages")
        print(f"bench_deadline: {args.uploads} uploads, {args.clients} clients, {WORKERS} workers, "
              f"{len(packages)} distinct packages", flush=True)
        offline = offline_scores(packages)
        print(f"  offline grades: {len(offline)} packages", flush=True)
        surge(folder, packages, offline, args.uploads, args.clients)
        fairness(folder, packages)
        single = folder / "reference.zip"
        single.write_bytes(zipped(packages["reference"], "loop"))
        bare = loop_per_minute(single, WORKERS)
        print(f"  `grader grade` x{WORKERS} loops of the reference: {bare:.1f}/min", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
