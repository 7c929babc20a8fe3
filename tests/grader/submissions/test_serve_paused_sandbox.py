"""`grader serve` on a machine with no usable sandbox at all (the Docker image and the bubblewrap rootfs both
missing: "no sandbox usable here"): it serves with grading paused, visibly; an upload is accepted and stays
queued with the honest delayed note (never failed, never scored), however long; once the sandbox is usable again
(the rootfs symlink pointed back, as an operator's `sudo bash sandbox/setup.sh` would make it) the upload is graded
100 by itself, with no restart and nothing resent by hand."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from running_server import GraderProcess, grader_env, grader_serve
from submission_helpers import REAL_ROOTFS, point_symlink, wait_until


@pytest.fixture
def rootfs_link(tmp_path: Path) -> Path:
    link = tmp_path / "rootfs"
    link.symlink_to(tmp_path / "no-rootfs-here")
    return link


@pytest.fixture
def server(sandbox_ready: None, tmp_path: Path, rootfs_link: Path) -> Iterator[GraderProcess]:
    env = grader_env(GRADER_DATA_DIR=str(tmp_path / "data"), GRADER_FIXED_SEED="7", GRADER_SANDBOX="auto",
                     GRADER_SANDBOX_IMAGE="tinytorch-no-such-image", GRADER_SANDBOX_ROOTFS=str(rootfs_link),
                     GRADER_SANDBOX_RECHECK_MAX_S="3")
    with grader_serve(env, tmp_path / "serve.log") as running:
        yield running


def _get(url: str, token: str | None = None) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def test_no_sandbox_pauses_grading_and_the_upload_is_graded_once_it_is_back(
        server: GraderProcess, rootfs_link: Path, reference_zip: Path) -> None:
    url = server.url
    log = server.read_log()
    assert "GRADING PAUSED" in log and "sudo bash sandbox/setup.sh" in log
    student = server.add_user("waiting@example.org", "student")
    done = subprocess.run(["curl", "-sS", "--max-time", "60", "-H", f"Authorization: Bearer {student}",
                           "-F", f"file=@{reference_zip};filename=my work (final).zip",
                           f"{url}/api/v1/submissions"], capture_output=True, text=True, check=True)
    accepted = json.loads(done.stdout)
    assert accepted["status"] == "queued", accepted
    report_url = f"{url}{accepted['status_url']}"

    banner = wait_until(lambda: (s := _get(f"{url}/api/v1/status"))["grading"] == "paused" and s, 60,
                        what="/api/v1/status to say paused")
    assert "/" not in banner["message"] and "sandbox" not in banner["message"]  # student words only
    health = _get(f"{url}/healthz")
    assert health["status"] == "degraded", health

    # Waits, honestly: queued with the delayed note, never failed or scored, across several canary re-checks.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        report = _get(report_url, student)
        assert report["status"] == "queued" and report["score"] is None and report["error"] is None, report
        assert report["delayed"] and "not yours" in report["delayed"], report
        time.sleep(1)
    assert report["filename"] == "my work (final).zip" and report["reproduce"] is None

    point_symlink(rootfs_link, REAL_ROOTFS)  # the sandbox is usable again: nobody touches the service
    graded = wait_until(lambda: (r := _get(report_url, student))["status"] != "queued" and
                        r["status"] != "running" and r, 600, interval=2, what="the upload to be graded")
    assert graded["status"] == "graded", graded
    assert graded["score"] == graded["max_score"] == 100, graded
    assert graded["delayed"] is None and graded["reproduce"].startswith("pytest capstone_tests --tinytorch . --seed 7")
    wait_until(lambda: _get(f"{url}/api/v1/status")["grading"] == "ok", 60, what="/api/v1/status to say ok")
    listed = _get(f"{url}/api/v1/submissions", student)
    assert [(s["id"], s["counts"], s["filename"]) for s in listed] == [(accepted["id"], True, "my work (final).zip")]
