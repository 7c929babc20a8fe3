"""The service's sandbox, built from the one Settings, and its canary run.

    sandbox = make_sandbox(get_settings())            # GRADER_SANDBOX, _IMAGE, _ROOTFS, _WORKDIR, _CGROUP_ROOT
    problem = canary(sandbox)                          # None when `python3 -c "import numpy"` ran fine inside
    problem = sandbox_problem(get_settings())          # the same for the settings' sandbox, None if usable

    python -m grader.sandboxes                         # exit 0 when the settings' sandbox passes the canary,
                                                       # else 1 with the reason on stderr (scripts/serve asks)

The sandbox library reads no environment: every knob reaches it here, as an argument.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Literal

from sandbox import DEFAULT_ENV, Limits, RunSpec, Sandbox, SandboxError, get_sandbox

from .settings import Settings

CANARY_ARGV = ["python3", "-c", "import numpy"]
# Small but ample: python with numpy needs ~30 MB and well under a second; the wall limit only stops a sandbox
# that hangs on start from holding the check up.
CANARY_LIMITS = Limits(memory_bytes=256 * 1024 * 1024, pids=32, wall_seconds=60.0)


def make_sandbox(settings: Settings, kind: Literal["docker", "bwrap"] | None = None) -> Sandbox:
    """The sandbox of `kind` (default: the settings' choice; auto = docker if usable here, else bwrap)."""
    return get_sandbox(kind or settings.sandbox_choice, image=settings.sandbox_image, rootfs=settings.sandbox_rootfs,
                       workdir=settings.sandbox_workdir, cgroup_root=settings.sandbox_cgroup_root)


def sandbox_problem(settings: Settings) -> str | None:
    """The canary for the settings' sandbox, including making it (no docker nor bwrap usable here is a problem
    too, not an exception); None when it is usable. Operator's words: may name host paths."""
    try:
        sandbox = make_sandbox(settings)
    except SandboxError as error:
        return f"no sandbox could be made: {error}"
    return canary(sandbox)


def canary(sandbox: Sandbox, limits: Limits = CANARY_LIMITS) -> str | None:
    """Run `python3 -c "import numpy"` in `sandbox` through the same run() a grading's sandboxes use; None when it
    exits 0, else what went wrong, for the operator (it may name host paths: never show it to a student)."""
    with tempfile.TemporaryDirectory(prefix="grader-canary-") as folder:
        Path(folder).chmod(0o755)  # the sandbox's uid reads its /sub
        spec = RunSpec(submission=Path(folder), argv=list(CANARY_ARGV), env=dict(DEFAULT_ENV),
                       limits=replace(limits))
        try:
            result = sandbox.run(spec)
        except SandboxError as error:
            return f"the {sandbox.name} sandbox did not run: {error}"
    if result.timed_out:
        return f"the {sandbox.name} sandbox's canary did not finish within {limits.wall_seconds:g} s"
    if result.exit_code != 0:
        stderr = result.stderr[-1500:].decode(errors="replace").strip()
        return f"`{' '.join(CANARY_ARGV)}` exited {result.exit_code} in the {sandbox.name} sandbox: {stderr}"
    return None


def main() -> int:
    from .settings import get_settings

    problem = sandbox_problem(get_settings())
    if problem is None:
        print("sandbox: usable (the canary ran)", flush=True)
        return 0
    print(f"sandbox: not usable: {problem}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
