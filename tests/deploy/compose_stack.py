"""The whole docker-compose.yml stack, brought up for real on this machine (tests/deploy/test_compose_stack.py).

- `ComposeStack(project, env, logs)`: `docker compose` (or Debian's `docker-compose`) on the repository's file, as
  project `project` with `env`; `.run(*args)` fails the test with compose's words when a command fails, `.down()`
  removes the containers, the network and the volumes.
- `build_everything()`: deploy/build_images.sh (the images, built locally when missing) and
  deploy/prepare_worker_host.sh (the shared run folder): a missing piece is built, never skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"


def run_script(name: str, timeout: float) -> None:
    done = subprocess.run(["bash", str(REPO / "deploy" / name)], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"deploy/{name} failed ({done.returncode}):\n{done.stderr[-4000:]}", pytrace=False)


def build_everything() -> None:
    run_script("build_images.sh", timeout=1800)
    run_script("prepare_worker_host.sh", timeout=60)


def compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed (deploy/build_images.sh installs it)",
                pytrace=False)


class ComposeStack:
    def __init__(self, project: str, env: dict[str, str], logs: Path) -> None:
        self.base = [*compose_command(), "--project-name", project, "--file", str(COMPOSE_FILE)]
        self.env, self.logs = env, logs

    def run(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run([*self.base, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              cwd=REPO, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            pytest.fail(f"`compose {' '.join(args)}` failed ({done.returncode}):\n{done.stderr[-4000:]}\n"
                        f"{self.save_logs()}", pytrace=False)
        return done.stdout

    def save_logs(self) -> str:
        """Every service's log, written to `logs`; the end of it, for a failure report."""
        done = subprocess.run([*self.base, "logs", "--no-color"], env=self.env, capture_output=True, text=True,
                              timeout=120, cwd=REPO)
        self.logs.write_text(done.stdout + done.stderr)
        return f"--- compose logs (all in {self.logs}) ---\n{(done.stdout + done.stderr)[-6000:]}"

    def down(self) -> None:
        subprocess.run([*self.base, "down", "--volumes", "--remove-orphans", "--timeout", "30"], env=self.env,
                       capture_output=True, text=True, timeout=300, cwd=REPO)
