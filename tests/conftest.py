"""Shared by every test folder.

- Makes the repo root importable, so tests import the reference as `tinytorch_reference.tinytorch...`
  (never a bare `tinytorch`, which names a student's package).
- `sandbox_ready`: Docker and bubblewrap usable, or `bash sandbox/setup.sh` runs once; if that does not
  help, every test that needs a sandbox fails with its output. Never a skip: CI must not go green
  without testing isolation.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

SANDBOX_KINDS = ("docker", "bwrap")


def sandboxes_missing() -> list[str]:
    from sandbox import SandboxError, get_sandbox

    missing = [tool for tool in ("docker", "dockerd", "bwrap", "setpriv", "prlimit") if shutil.which(tool) is None]
    if missing:
        return missing
    for kind in SANDBOX_KINDS:
        try:
            get_sandbox(kind).describe()
        except SandboxError as exc:
            missing.append(f"{kind}: {exc}")
    return missing


@pytest.fixture(scope="session")
def sandbox_ready() -> None:
    if os.geteuid() != 0:
        pytest.fail("the sandbox tests must run as root (tmpfs mounts, cgroups, dockerd)", pytrace=False)
    missing = sandboxes_missing()
    if not missing:
        return
    proc = subprocess.run(["bash", str(_ROOT / "sandbox" / "setup.sh")], capture_output=True, text=True, cwd=_ROOT)
    still = sandboxes_missing() if proc.returncode == 0 else missing
    if proc.returncode != 0 or still:
        pytest.fail(
            f"sandbox/setup.sh could not prepare this machine (missing: {still}); exit {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}",
            pytrace=False,
        )
