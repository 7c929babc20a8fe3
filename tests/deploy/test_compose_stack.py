"""`docker compose up` of docker-compose.yml for real: api + worker on the locally built PostgreSQL and Redis
images (deploy/build_images.sh), the course's reference uploaded with curl through the api and graded by the
worker in a docker sandbox (100/100). Builds whatever image is missing first; takes minutes."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from compose_stack import REPO, ComposeStack, build_everything

from tests.grader.running_server import free_port
from tests.grader.submissions.submission_helpers import wait_until, zip_package


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ComposeStack, str]]:
    build_everything()
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GRADER_")},
           "GRADER_SECRET_KEY": secrets.token_urlsafe(32), "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
           "GRADER_POSTGRES_IMAGE": "tinytorch-grader-postgres", "GRADER_REDIS_IMAGE": "tinytorch-grader-redis",
           "GRADER_API_PORT": str(port)}
    stack = ComposeStack(f"gradertest{secrets.token_hex(4)}", env,
                         tmp_path_factory.mktemp("compose") / "compose.log")
    try:
        stack.run("up", "-d", "--no-build", timeout=600)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _healthy(url), 240, interval=2, what="the api's /healthz through the published port")
        except AssertionError as error:
            pytest.fail(f"{error}\n{stack.save_logs()}", pytrace=False)
        yield stack, url
    finally:
        stack.save_logs()
        stack.down()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _curl(*args: str) -> dict[str, Any]:
    done = subprocess.run(["curl", "-sS", "--fail-with-body", "--max-time", "60", *args],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"curl {args[-1]} failed: {done.stderr} {done.stdout}"
    return dict(json.loads(done.stdout))


def test_the_reference_uploaded_through_the_stack_is_graded_100(stack: tuple[ComposeStack, str],
                                                                tmp_path: Path) -> None:
    compose, url = stack
    # The token is the last line `grader users add` prints, run inside the api container (its settings).
    token = compose.run("exec", "-T", "api", "grader", "users", "add", "deploy-test@example.org",
                        "--role", "student").strip().splitlines()[-1]
    upload = zip_package(REPO / "tinytorch_reference", tmp_path / "ref.zip")
    accepted = _curl("-H", f"Authorization: Bearer {token}", "-F", f"file=@{upload}", f"{url}/api/v1/submissions")
    assert accepted["status"] == "queued", accepted

    def finished() -> dict[str, Any] | None:
        report = _curl("-H", f"Authorization: Bearer {token}", f"{url}{accepted['status_url']}")
        return report if report["status"] in ("graded", "failed") else None

    try:
        report = wait_until(finished, 900, interval=3, what="the worker to grade the upload")
    except AssertionError as error:
        pytest.fail(f"{error}\n{compose.save_logs()}", pytrace=False)
    assert report["status"] == "graded", f"{report.get('error')}\n{compose.save_logs()}"
    assert report["score"] == report["max_score"] == 100.0
    assert len(report["tests"]) == 14 and all(t["outcome"] == "passed" for t in report["tests"])


def test_the_broker_keeps_an_append_only_file(stack: tuple[ComposeStack, str]) -> None:
    # A message Redis accepted must survive its restart (issue 11 lost 10 submissions without it).
    compose, _ = stack
    assert compose.run("exec", "-T", "redis", "redis-cli", "config", "get", "appendonly").split() == ["appendonly",
                                                                                                    "yes"]
