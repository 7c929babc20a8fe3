"""Scale-out on the existing engines: `grader worker`s on two "hosts" (network namespaces joined by veth pairs to a
bridge on a private /24, each worker with a hostname of its own), one PostgreSQL and one Redis of the test's own on
the bridge's address, the API (`grader serve --grading-workers 0`) in the root namespace. Uploads through the API
are graded by the workers of both hosts, each exactly once, 100/100 (the reference). Which worker took which
submission comes from the lease each grade keeps (submissions.claimed_by names the worker's host): a grading
message is a token for the fairest queued submission, so the message a worker was busy with does not say which."""

from __future__ import annotations

import json
import secrets
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from netns_hosts import HostProcess, Network, cgroup_view, host_process, own_postgres, own_redis, private_network
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from grader.db.models import Submission
from tests.grader.running_server import GraderProcess, answers, free_port, grader_env, grader_process
from tests.grader.submissions.submission_helpers import REPO, wait_until, zip_package

HOSTS = 2
UPLOADS = 4
QUEUE = "grader"


@dataclass
class Cluster:
    api: GraderProcess
    workers: list[HostProcess]
    broker_url: str
    database_url: str


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("hosts")
    # The archive store is the one folder every machine must share (an NFS mount in production): the API stores
    # uploads there and the worker that takes a grading reads the archive from it.
    archives = root / "shared-archives"
    with (private_network(HOSTS) as network, own_postgres(network.server_ip) as database_url,
          own_redis(root / "redis", network.server_ip) as broker_url, cgroup_view(root / "cgroup") as cgroups):
        common = {"GRADER_DATABASE_URL": database_url, "GRADER_BROKER_URL": broker_url,
                  "GRADER_ARCHIVE_DIR": str(archives), "GRADER_SECRET_KEY": secrets.token_urlsafe(32)}
        port = free_port()
        api_env = grader_env(**common, GRADER_DATA_DIR=str(root / "api-data"))
        with (grader_process(("serve", "--port", str(port), "--grading-workers", "0"), api_env, root / "api.log",
                             url=f"http://127.0.0.1:{port}", ready=lambda s: answers(f"{s.url}/healthz"),
                             timeout=120) as api,
              _workers(network, common, cgroups, root) as workers):
            yield Cluster(api, workers, broker_url, database_url)


@contextmanager
def _workers(network: Network, common: dict[str, str], cgroups: Path, root: Path) -> Iterator[list[HostProcess]]:
    """One `grader worker` per namespace, each with a data folder of its own (its local disk) and the bwrap
    sandbox; yielded once all of them said "ready."."""
    with ExitStack() as stack:
        workers = []
        for i, namespace in enumerate(network.namespaces):
            env = grader_env(**common, GRADER_DATA_DIR=str(root / f"host{i}-data"), GRADER_SANDBOX="bwrap",
                             GRADER_GRADING_LANES="1", TINYTORCH_SANDBOX_CGROUP_ROOT=str(cgroups))
            workers.append(stack.enter_context(host_process(
                namespace, f"grader-host{i}", [sys.executable, "-m", "grader", "worker"], env,
                root / f"worker-host{i}.log", cwd=REPO)))
        for worker in workers:
            worker.wait_for("ready.", timeout=90)
        yield workers


@pytest.fixture
def both_hosts_listening(cluster: Cluster) -> None:
    # Both workers answer: two hosts, by their own names, consume from the one Redis.
    replies = Celery("deploy-test-inspect", broker=cluster.broker_url).control.ping(timeout=5)
    assert sorted(name for reply in replies for name in reply) == [f"celery@grader-host{i}" for i in range(HOSTS)]


def holders(database_url: str, ids: list[str]) -> dict[str, tuple[str, int]]:
    """Which host's worker graded each submission (the lease's holder, "<hostname>:<pid>:<random>", kept with
    the grade), and how many times one was claimed. Read from the database: a grading message is a token for
    the fairest queued submission, so a message's own id does not say which row it graded."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(Submission.id, Submission.claimed_by, Submission.attempt)
                                      .where(Submission.id.in_([uuid.UUID(i) for i in ids]))).all()
    finally:
        engine.dispose()
    return {str(row.id): (str(row.claimed_by).split(":", 1)[0], row.attempt) for row in rows}


def _request(url: str, token: str, body: bytes | None = None, content_type: str = "") -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, headers={"Authorization": f"Bearer {token}"})
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=60) as response:
        return dict(json.loads(response.read()))


def _upload(url: str, token: str, archive: Path) -> dict[str, Any]:
    boundary = secrets.token_hex(16)
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{archive.name}\"\r\n"
            "Content-Type: application/zip\r\n\r\n")
    body = head.encode() + archive.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return _request(f"{url}/api/v1/submissions", token, body, f"multipart/form-data; boundary={boundary}")


def test_uploads_are_graded_by_workers_on_both_hosts(cluster: Cluster, both_hosts_listening: None,
                                                     tmp_path: Path) -> None:
    archive = zip_package(REPO / "tinytorch_reference", tmp_path / "reference.zip")
    accepted = {}
    for n in range(UPLOADS):  # one student each: no per-student limit or fairness rule in the way
        token = cluster.api.add_user(f"host-test-{n}-{secrets.token_hex(3)}@example.org", "student")
        reply = _upload(cluster.api.url, token, archive)
        assert reply["status"] == "queued", reply
        accepted[reply["id"]] = (token, reply["status_url"])

    def report(submission_id: str) -> dict[str, Any]:
        token, status_url = accepted[submission_id]
        return _request(f"{cluster.api.url}{status_url}", token)

    def all_finished() -> bool:
        return all(report(s)["status"] in ("graded", "failed") for s in accepted)

    try:
        wait_until(all_finished, 900, interval=3, what=f"the {UPLOADS} uploads to be graded")
    except AssertionError as error:
        logs = "\n".join(f"--- {w.hostname} ---\n{w.read_log()[-4000:]}" for w in cluster.workers)
        pytest.fail(f"{error}\n{logs}", pytrace=False)
    for submission_id in accepted:
        graded = report(submission_id)
        assert graded["status"] == "graded", graded.get("error")
        assert graded["score"] == graded["max_score"] == 100.0
    # Every submission was graded by one host, and both hosts graded some.
    graded_by = holders(cluster.database_url, list(accepted))
    assert {s: attempts for s, (_, attempts) in graded_by.items()} == {s: 1 for s in accepted}, graded_by
    assert {host for host, _ in graded_by.values()} == {f"grader-host{i}" for i in range(HOSTS)}, graded_by
    for worker in cluster.workers:  # the logs agree: each host's worker says it graded something
        assert "succeeded in" in worker.read_log() and "'graded'" in worker.read_log(), worker.hostname
