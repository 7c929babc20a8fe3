"""The README's first command, `bash scripts/serve`, on a machine whose sandbox is not usable, run by someone who
is not root (an `id` that answers a user's uid, first on PATH): it says exactly what to run (`sudo bash
sandbox/setup.sh`), does not try to run it, and serves with grading visibly paused: /api/v1/status "paused",
/healthz "degraded" (answered 200: uploads are still taken)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from running_server import REPO, free_port, grader_env


def _json(url: str) -> dict | None:  # type: ignore[type-arg]
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except OSError:
        return None


def test_without_root_it_says_what_to_run_and_serves_with_grading_paused(tmp_path: Path) -> None:
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "id").write_text("#!/bin/sh\necho 1000\n")
    (stub / "id").chmod(0o755)
    port = free_port()
    env = grader_env(GRADER_DATA_DIR=str(tmp_path / "data"), GRADER_SANDBOX="auto",
                     GRADER_SANDBOX_IMAGE="tinytorch-no-such-image", GRADER_SANDBOX_ROOTFS=str(tmp_path / "none"),
                     GRADER_VENV=sys.prefix, PATH=f"{stub}:{os.environ['PATH']}",
                     PYTHONPATH=f"{REPO}:{os.environ.get('PYTHONPATH', '')}")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen(["bash", "scripts/serve", "--port", str(port)], cwd=REPO, env=env, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and serve.poll() is None:
            status = _json(f"http://127.0.0.1:{port}/api/v1/status")
            if status and status["grading"] == "paused" and "celery@" in log.read_text():
                break
            time.sleep(0.5)
        said = log.read_text()
        assert status is not None and status["grading"] == "paused", said
        assert "scripts/serve:     sudo bash sandbox/setup.sh" in said and "PAUSED" in said, said
        assert "preparing it with sandbox/setup.sh" not in said  # not root: it does not try
        health = _json(f"http://127.0.0.1:{port}/healthz")
        assert health is not None and health["status"] == "degraded", health
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(60)
