"""A real `grader` process (`grader serve`, `grader worker`) for the end-to-end tests in tests/grader/submissions
and tests/grader/web. Imported as `running_server`, the way submission_helpers is: tests/grader holds a conftest,
so pytest puts that folder on sys.path (a uniquely named module; `conftest` is ambiguous there).

- `grader_process(args, env, log, ready=..., timeout=...)`: `python -m grader *args` from the repo root, in a
  process group of its own (so whatever it starts stops with it), its output in `log`. Fails the test with the
  log if the process exits or `ready` stays false for `timeout` seconds; always stopped at the end (SIGTERM to
  the group, SIGKILL after 40 s).
- `grader_serve(env, log)`: `grader serve` on a free port, ready once /healthz answers 200 and the worker it
  starts is up; `.url`, and `.add_user(email, role)` gives a new user's token (`grader users add`).
- `grader_env(**variables)`: this process's environment without any GRADER_* setting, plus `variables`.
- Its log goes with every failure while it runs: as a note on an exception raised inside its `with`, and as a
  section of the report of a test that fails while a fixture keeps it running (tests/grader/conftest.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STOP_TIMEOUT = 40
LOG_LINES = 400  # the most of a log a failure report shows (its end)

RUNNING: list[GraderProcess] = []  # started and not yet stopped, for the failure reports


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def grader_env(**variables: str) -> dict[str, str]:
    """This process's environment minus every GRADER_* setting, plus `variables`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}, **variables}


class GraderProcess:
    def __init__(self, args: tuple[str, ...], env: dict[str, str], log: Path, url: str = "") -> None:
        self.args, self.env, self.log, self.url = args, env, log, url
        self.name = f"grader {args[0]}"
        with log.open("w") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "grader", *args], cwd=REPO, env=env,
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def read_log(self) -> str:
        return self.log.read_text(errors="replace")

    def log_tail(self) -> str:
        lines = self.read_log().splitlines()
        cut = f"(the first {len(lines) - LOG_LINES} lines left out)\n" if len(lines) > LOG_LINES else ""
        return cut + "\n".join(lines[-LOG_LINES:])

    def add_user(self, email: str, role: str) -> str:
        """A new user's API token: the last line `grader users add` prints, with this process's settings."""
        done = subprocess.run([sys.executable, "-m", "grader", "users", "add", email, "--role", role], cwd=REPO,
                              env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    def wait_ready(self, ready: Callable[[GraderProcess], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready(self):
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited ({self.process.returncode}) before it was ready; its log:\n"
                            f"{self.log_tail()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} was not ready after {timeout:g} s; its log:\n{self.log_tail()}",
                            pytrace=False)
            time.sleep(0.3)

    def stop(self) -> None:
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait()

    def _signal_group(self, sig: signal.Signals) -> None:
        with suppress(ProcessLookupError):  # the whole group has gone already
            os.killpg(self.process.pid, sig)


@contextmanager
def grader_process(args: tuple[str, ...], env: dict[str, str], log: Path, *,
                   ready: Callable[[GraderProcess], bool], timeout: float,
                   url: str = "") -> Iterator[GraderProcess]:
    running = GraderProcess(args, env, log, url)
    RUNNING.append(running)
    try:
        running.wait_ready(ready, timeout)
        try:
            yield running
        except (Exception, pytest.fail.Exception) as error:  # a failure inside the `with`: say what the process said
            error.add_note(f"--- {running.name} log ({running.log}) ---\n{running.log_tail()}")
            raise
    finally:
        RUNNING.remove(running)
        running.stop()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def grader_serve(env: dict[str, str], log: Path, *, timeout: float = 90) -> Iterator[GraderProcess]:
    """`grader serve` on a free port, once its /healthz answers and its worker has started."""
    port = free_port()
    with grader_process(("serve", "--port", str(port)), env, log, url=f"http://127.0.0.1:{port}",
                        ready=lambda s: "celery@" in s.read_log() and answers(f"{s.url}/healthz"),
                        timeout=timeout) as server:
        yield server
