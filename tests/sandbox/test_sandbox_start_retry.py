"""bubblewrap failing to set a sandbox up ("Can't read seccomp data", exit 3, before the command ran) is tried again;
a failure that persists is an infrastructure error; a command that itself exits 3 is its own exit status, run once.

The fault is real: the sandbox runs a bwrap that is a small script failing its first N starts exactly as bwrap does
under load (message on stderr, exit 3, nothing started) and then exec'ing the real bwrap.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import Limits, RunSpec, SandboxError, SandboxNotStarted
from sandbox.bubblewrap import START_ATTEMPTS, BubblewrapSandbox

FLAKY_BWRAP = """#!/bin/bash
# Started as uid 65534 by the sandbox's launcher: the state folder is world-writable for that reason.
if [ "$1" != "--version" ]; then
  echo start >> {state}/starts
  left=$(cat {state}/failures)
  if [ "$left" -gt 0 ]; then
    echo $((left - 1)) > {state}/failures
    echo "bwrap: Can't read seccomp data: Bad file descriptor" >&2
    exit 3
  fi
fi
exec {bwrap} "$@"
"""


class FlakyBwrap:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.script = folder / "bwrap"
        real = shutil.which("bwrap")
        assert real is not None, "bubblewrap is not installed (sandbox/setup.sh installs it)"
        self.script.write_text(FLAKY_BWRAP.format(state=folder, bwrap=real))
        self.script.chmod(0o755)
        self.fail_next(0)

    def fail_next(self, count: int) -> None:
        failures = self.folder / "failures"
        failures.write_text(f"{count}\n")
        failures.chmod(0o666)
        (self.folder / "starts").unlink(missing_ok=True)

    @property
    def starts(self) -> int:
        path = self.folder / "starts"
        return len(path.read_text().split()) if path.exists() else 0


@pytest.fixture
def flaky(sandbox_ready: None) -> Iterator[FlakyBwrap]:
    # Under /tmp itself, not tmp_path (whose parents are 0700): uid 65534 must reach the script and its state.
    folder = Path(tempfile.mkdtemp(prefix="flaky-bwrap-"))
    folder.chmod(0o777)
    try:
        yield FlakyBwrap(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _spec(submission: Path, *argv: str) -> RunSpec:
    return RunSpec(submission=submission, argv=list(argv), limits=Limits(wall_seconds=60))


def test_a_transient_start_failure_is_retried(flaky: FlakyBwrap, submission: Path) -> None:
    flaky.fail_next(START_ATTEMPTS - 1)
    result = BubblewrapSandbox(bwrap=str(flaky.script)).run(_spec(submission, "python3", "-c", "print('ran')"))
    assert result.exit_code == 0 and result.stdout == b"ran\n"
    assert flaky.starts == START_ATTEMPTS


def test_a_persistent_start_failure_is_an_infrastructure_error(flaky: FlakyBwrap, submission: Path) -> None:
    flaky.fail_next(100)
    with pytest.raises(SandboxNotStarted, match=rf"seccomp.*all {START_ATTEMPTS} attempts") as raised:
        BubblewrapSandbox(bwrap=str(flaky.script)).run(_spec(submission, "python3", "-c", "print('ran')"))
    assert isinstance(raised.value, SandboxError)
    assert flaky.starts == START_ATTEMPTS


def test_a_command_exiting_3_is_its_own_exit_status_run_once(flaky: FlakyBwrap, submission: Path) -> None:
    result = BubblewrapSandbox(bwrap=str(flaky.script)).run(_spec(submission, "sh", "-c", "echo mine >&2; exit 3"))
    assert result.exit_code == 3 and result.stderr == b"mine\n"
    assert flaky.starts == 1
