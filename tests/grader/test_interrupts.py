"""`grader grade` stops on Ctrl-C (SIGINT) and SIGTERM while a sandbox runs a package that hangs: it exits 130 / 143
promptly, prints no score, and leaves no container, bwrap process, run folder or cgroup behind. A real subprocess,
real sandboxes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.interrupts import FORCE_EXIT_S
from sandbox.cgroups import CGROUP_ROOT
from sandbox.hostfs import work_root

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hanging_package() -> Iterator[Path]:
    # Under /tmp itself: the sandbox's uid must read it. Every test of it hangs until its time limit (a minute).
    with tempfile.TemporaryDirectory(prefix="hanging-") as folder:
        package = Path(folder) / "tinytorch"
        package.mkdir()
        (package / "__init__.py").write_text("import time\nwhile True:\n    time.sleep(1)\n")
        for path in (Path(folder), package, package / "__init__.py"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield Path(folder)


def _leftovers(pid: int) -> list[str]:
    found = [str(p) for p in work_root().glob(f"run-{pid}-*")]
    found += [str(p) for p in CGROUP_ROOT.glob(f"*/**/tinytorch-sbx-{pid}-*")]
    containers = subprocess.run(["docker", "ps", "-a", "--filter", "label=org.tinytorch.sandbox.owner",
                                 "--format", "{{.Names}} {{.Label \"org.tinytorch.sandbox.owner\"}}"],
                                capture_output=True, text=True, check=True).stdout.splitlines()
    found += [line for line in containers if line.endswith(f":{pid}")]
    bwraps = subprocess.run(["pgrep", "-f", f"tinytorch-sandbox/run-{pid}-"], capture_output=True, text=True).stdout
    return found + [f"process {p}" for p in bwraps.split()]


@pytest.mark.parametrize(("kind", "signum"), [("bwrap", signal.SIGINT), ("bwrap", signal.SIGTERM),
                                              ("docker", signal.SIGINT), ("docker", signal.SIGTERM)])
def test_grade_stops_on_a_signal_and_leaves_nothing(sandbox_ready: None, hanging_package: Path, kind: str,
                                                    signum: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADER_SANDBOX", "TINYTORCH_SANDBOX"))}
    proc = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(hanging_package), "--sandbox", kind],
                            env={**env, "PYTHONPATH": str(REPO)}, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _leftovers(proc.pid):  # wait until a sandbox of it runs
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no sandbox started within 60 s"
            time.sleep(0.2)
        time.sleep(1.0)  # the supervisor is up and the first (hanging) test has started
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=FORCE_EXIT_S + 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum, stderr
    assert "still cleaning up" not in stderr  # stopped cleanly, not by the forced exit
    assert "score" not in stdout
    assert f"stopped by {signal.Signals(signum).name}" in stderr
    assert _leftovers(proc.pid) == []
