"""Real headless Chromium (the system's /usr/bin/chromium, driven by Playwright) against a real HTTP server.

- `browser`: one Chromium per test module. A missing Chromium fails (CI installs it, see .ci/run): the pages
  are part of the product, so their tests never skip.
- `shots`: the folder the test run's screenshots go to (under pytest's tmp_path, printed at the end).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThreadedServer:
    """uvicorn serving `app` on a free port in a daemon thread, for as long as the context lasts."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def threaded_server() -> type[ThreadedServer]:
    """ThreadedServer, as a fixture: test modules here are not a package and cannot import conftest."""
    return ThreadedServer


@pytest.fixture(scope="session")
def find_free_port() -> Callable[[], int]:
    return free_port


AXE_VERSION = "4.10.2"
AXE_CACHE = Path.home() / ".cache" / "grader-axe"


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's axe.min.js, installed once from npm into a cache outside the repo (~/.cache/grader-axe).
    No npm, or an install that fails: the test fails, loudly (an accessibility scan that silently did not run
    would pass every page)."""
    import shutil
    import subprocess

    script = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    installed = AXE_CACHE / "node_modules" / "axe-core" / "package.json"
    if not (script.exists() and f'"version": "{AXE_VERSION}"' in installed.read_text()):
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: the accessibility scan needs axe-core from npm (apt-get install -y npm)",
                        pytrace=False)
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(AXE_CACHE),
                               f"axe-core@{AXE_VERSION}"], capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not script.exists():
            pytest.fail(f"npm install axe-core@{AXE_VERSION} failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return script.read_text()


@pytest.fixture
def contract(threaded_server: type) -> Iterator[tuple[str, object]]:
    """The pages served with the contract app (tests/grader/web/contract_app.py): its URL and its Term (state
    and the requests the page sent)."""
    from tests.grader.web.contract_app import Term, contract_app

    term = Term()
    with threaded_server(contract_app(term)) as server:
        yield server.url, term
