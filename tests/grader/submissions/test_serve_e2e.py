"""End to end: `grader serve` as a real process on the embedded defaults (SQLite, SQLAlchemy broker, a worker
alongside, the bwrap sandbox), uploads with `curl`, and the scores `grader grade` gives offline."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from running_server import GraderProcess, grader_env, grader_serve
from submission_helpers import REPO, wait_until, zip_package

from tests.fixtures.students import build

SEED = "7"
BROKEN = ("zero_grad_missing", "missing_spatial")


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    built = tmp_path_factory.mktemp("students")
    packages = build.build_all(built)
    packages["reference"] = build.build_reference(built)
    return {name: zip_package(packages[name], built / f"{name}.zip") for name in ("reference", *BROKEN)}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GraderProcess]:
    env = grader_env(GRADER_DATA_DIR=str(tmp_path / "data"), GRADER_FIXED_SEED=SEED, GRADER_SANDBOX="bwrap")
    with grader_serve(env, tmp_path / "serve.log") as running:
        yield running


def curl(*args: str) -> str:
    done = subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


def offline(path: Path) -> dict[str, Any]:
    argv = [sys.executable, "-m", "grader", "grade", str(path), "--json", "--seed", SEED, "--sandbox", "bwrap"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    if done.returncode == 3:
        # Exit 3 is "sandbox unavailable" (bwrap itself failing to start, seen rarely under load), not a
        # grade: the service's worker retries such faults too, so the offline side gets one retry as well.
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr  # 1: graded below full marks (the broken packages)
    return json.loads(done.stdout)


def test_curl_uploads_are_graded_like_grader_grade(server: GraderProcess, uploads: dict[str, Path]) -> None:
    url = server.url
    student = server.add_user("e2e@example.org", "student")
    ids = {}
    for name, path in uploads.items():
        started = time.monotonic()
        accepted = json.loads(curl("-H", f"Authorization: Bearer {student}", "-F", f"file=@{path}",
                                   f"{url}/api/v1/submissions"))
        assert time.monotonic() - started < 5
        assert accepted["status"] == "queued", accepted
        ids[name] = accepted["status_url"]

    def report(status_url: str, token: str = student) -> dict[str, Any]:
        return json.loads(curl("-H", f"Authorization: Bearer {token}", f"{url}{status_url}") or "{}")

    reports = {}
    for name, status_url in ids.items():
        reports[name] = wait_until(lambda u=status_url: (r := report(u)).get("status") in ("graded", "failed") and r,
                                   600, what=f"{name} to be graded")
        assert reports[name]["status"] == "graded", reports[name].get("error")
    assert reports["reference"]["score"] == reports["reference"]["max_score"] == 100.0
    for name in BROKEN:
        expected = offline(uploads[name])
        assert reports[name]["score"] == expected["score"] < 100.0, name
        outcomes = {t["name"]: t["outcome"] for t in reports[name]["tests"]}
        assert outcomes == {t["name"]: t["outcome"] for t in expected["tests"]}, name
        assert any(t["diagnostic"] for t in reports[name]["tests"] if t["outcome"] != "passed")
    # The first instructor, printed by `grader serve`, teaches the default course and so sees the student's work.
    instructor = next(line.rsplit(" ", 1)[1] for line in server.read_log().splitlines() if "API token:" in line)
    assert report(ids["reference"], instructor)["score"] == 100.0
