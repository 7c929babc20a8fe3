"""How fast does a grade reach the LMS? Time from a grade's commit to its delivery, for the signed webhook and for
the LTI AGS score, over N gradings (500) with one `grader worker` process; and deliveries per second.

Every part is real: a PostgreSQL database of the benchmark's own (on the machine's server), a redis-server of
its own on a free port, one `grader worker` process (concurrency 1: it consumes the `<queue>.lms` queue), a
webhook receiver on loopback that verifies each request with the stock `standardwebhooks` library, and the
lti1p3platform LMS of the tests (tests/grader/lms/lti_platform.py) whose token endpoint checks the tool's client
assertion and whose AGS scores endpoint takes the score.

The gradings go through the grade-recording path, not the sandbox: each is a submission of its own student
(who has launched from the LMS: a `sub` and the capstone's line item) whose GradeReport is written by
`grader.submissions.service.record_grade`, the function the worker calls when a grading ends (it calls
grader.lms.events.record_event, which writes the webhook delivery and the AGS outbox row in the grade's
transaction; their tasks go to Redis on its commit). The clock starts just before that commit (so it includes
the commit and the two broker sends) and stops when the receiver (the platform) has read the request.

Two loads, each N gradings:
  paced   one grading every 1/RATE s (RATE = 5/s: 10 deliveries/s offered, under the worker's capacity): the
          latency a grade sees.
  burst   all N committed back to back: the backlog drains at the worker's rate (deliveries per second).

Run: `python benchmarks/bench_lms.py [--gradings 500 --rate 5]` (PostgreSQL on 127.0.0.1 as in
BENCH_POSTGRES_URL, redis-server on the PATH). About four minutes at the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "grader"))  # running_server, for lms_worker
sys.path.insert(0, str(ROOT / "tests" / "grader" / "lms"))  # the tests' LMS (lti_platform) and grade report
POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
QUEUE = "bench-lms"
SETTLE_TIMEOUT_S = 600.0


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def own_database() -> Iterator[str]:
    name = f"bench_lms_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        from grader.db.session import dispose_engines

        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def own_redis(folder: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is required (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                "no", "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 20
        while True:
            try:
                if redis.Redis.from_url(url).ping():
                    break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.kill()
        process.wait()


@contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "grader", "worker"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "ready." not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the worker did not start; its log:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class TimedReceiver:
    """A webhook receiver on loopback: verifies each request (standardwebhooks) and notes when each submission's
    event first arrived (time.time(), when the body is read)."""

    def __init__(self, secret: str) -> None:
        from standardwebhooks.webhooks import Webhook

        self.arrived: dict[str, float] = {}
        self.requests = 0
        self.unverified = 0
        receiver, hook, lock = self, Webhook(secret), threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                now = time.time()
                try:
                    payload = hook.verify(body, {k.lower(): v for k, v in self.headers.items()})
                except Exception:
                    payload = None
                with lock:
                    receiver.requests += 1
                    if payload is None:
                        receiver.unverified += 1
                    else:
                        receiver.arrived.setdefault(payload["data"]["submission"]["id"], now)
                self.send_response(200 if payload is not None else 400)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def students(count: int, platform: Any, secret: str, receiver_url: str) -> list[tuple[int, str]]:
    """`count` students who launched from the LMS (a sub each, the capstone's line item) and the course's webhook
    endpoint: [(user id, sub)]."""
    from lms_worker import launched_student

    from grader.courses.service import get_course
    from grader.db.models import LtiIdentity
    from grader.db.session import session_scope
    from grader.lms.webhooks.endpoints import add_endpoint
    from grader.users.service import create_user

    with session_scope(write=True) as session:
        course = get_course(session, "default")
        endpoint = add_endpoint(session, course, receiver_url, "submission.graded")
        endpoint.secret = secret
        capstone = next(a for a in course.assignments if a.slug == "capstone")
        people = [create_user(session, f"bench-{n}-{secrets.token_hex(3)}@uni.edu", "student")[0]
                  for n in range(count)]
        registration = launched_student(session, platform, capstone.id, people[0], "sub-0")
        for n, person in enumerate(people[1:], start=1):
            session.add(LtiIdentity(platform_id=registration.id, sub=f"sub-{n}", user_id=person.id))
        return [(person.id, f"sub-{n}") for n, person in enumerate(people)]


def grade(user_id: int) -> tuple[str, float]:
    """One grading's end, as the worker records it: (submission id, time just before the grade's commit)."""
    from webhook_receiver import capstone, grade_report

    from grader.db.models import Submission
    from grader.db.session import session_scope
    from grader.submissions.service import record_grade

    with session_scope(write=True) as session:
        row = Submission(id=uuid.uuid4(), assignment_id=capstone(session).id, user_id=user_id,
                         archive_sha256="0" * 64, status="running")
        session.add(row)
        session.flush()
        submission_id = str(row.id)
        record_grade(session, row.id, grade_report(80.0, 100.0))
        session.flush()
        started = time.time()  # session_scope commits on leaving: the tasks go to Redis on that commit
    return submission_id, started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def run(load: str, people: list[tuple[int, str]], rate: float, receiver: TimedReceiver, platform: Any
        ) -> dict[str, Any]:
    committed: dict[str, float] = {}  # submission id -> commit
    by_sub: dict[str, float] = {}  # sub -> commit
    first = time.time()
    for n, (user_id, sub) in enumerate(people):
        if load == "paced":
            time.sleep(max(0.0, first + n / rate - time.time()))
        submission_id, started = grade(user_id)
        committed[submission_id] = started
        by_sub[sub] = started
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while (sum(1 for s in committed if s in receiver.arrived) < len(committed)
           or sum(1 for s in platform.scores if s["userId"] in by_sub) < len(by_sub)):
        if time.monotonic() > deadline:
            sys.exit(f"{load}: not every delivery arrived within {SETTLE_TIMEOUT_S:g} s")
        time.sleep(0.05)
    hooks = [(receiver.arrived[s] - t) * 1000 for s, t in committed.items()]
    arrivals = {score["userId"]: at for score, at in zip(platform.scores, platform.score_times, strict=True)}
    scores = [(arrivals[sub] - t) * 1000 for sub, t in by_sub.items()]
    times = [receiver.arrived[s] for s in committed] + [arrivals[sub] for sub in by_sub]
    return {"load": load, "gradings": len(people), "webhook": hooks, "ags": scores,
            "commits_s": max(committed.values()) - first, "drain_s": max(times) - min(times),
            "deliveries": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gradings", type=int, default=500)
    parser.add_argument("--rate", type=float, default=5.0, help="gradings per second in the paced load")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-lms-") as scratch:
        folder = Path(os.environ.get("BENCH_LMS_DIR") or scratch)  # BENCH_LMS_DIR: keep the worker log
        with own_database() as database_url, own_redis(folder) as broker_url:
            env = {**{k: v for k, v in os.environ.items() if not k.startswith("GRADER_")},
                   "GRADER_DATABASE_URL": database_url, "GRADER_BROKER_URL": broker_url,
                   "GRADER_DATA_DIR": str(folder / "data"), "GRADER_TASK_QUEUE": QUEUE, "GRADER_SANDBOX": "bwrap"}
            os.environ.update({k: v for k, v in env.items() if k.startswith("GRADER_")})
            from lti_platform import LtiPlatformServer

            from grader.bootstrap import prepare_database
            from grader.db import migrate
            from grader.lms.webhooks.endpoints import new_secret

            migrate.upgrade(database_url)
            prepare_database()
            secret = new_secret()
            receiver = TimedReceiver(secret)
            platform = LtiPlatformServer(tool_base="http://127.0.0.1:9").start()
            try:
                everyone = students(2 * args.gradings, platform, secret, receiver.url)
                with worker(env, folder / "worker.log"):
                    results = [run("paced", everyone[:args.gradings], args.rate, receiver, platform),
                               run("burst", everyone[args.gradings:], args.rate, receiver, platform)]
                assert receiver.unverified == 0, "a webhook failed its signature check"
                retried = receiver.requests - 2 * args.gradings
            finally:
                receiver.close()
                platform.stop()
    print(f"bench_lms: {args.gradings} gradings per load, one `grader worker` (concurrency 1), "
          f"{os.cpu_count()} cores, {host.processor() or host.machine()}, Python {host.python_version()}")
    print(f"paced load: {args.rate:g} gradings/s; webhook requests beyond one per grading: {retried}; "
          f"AGS tokens fetched: {platform.token_requests}")
    print("deliveries/s: both channels' deliveries over the time from the first arrival to the last; "
          "gradings/s: as committed")
    print(f"{'load':<6} {'channel':<8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'deliveries/s':>13} "
          f"{'gradings/s':>11}")
    for result in results:
        per_s = result["deliveries"] / result["drain_s"]
        graded_s = result["gradings"] / max(result["commits_s"], 1e-9)
        for channel in ("webhook", "ags"):
            values = result[channel]
            print(f"{result['load']:<6} {channel:<8} {statistics.median(values):8.1f} "
                  f"{percentile(values, 0.99):8.1f} {max(values):8.1f} {per_s:13.1f} {graded_s:11.1f}")
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items()} for r in results]))


if __name__ == "__main__":
    main()
