"""Starting a sandbox with the boundary's supervisor in it, for the student's package or the reference.

Light on purpose (no numpy, no suites): `grader grade` starts the student's sandbox first and loads the grading
code while the container starts, which takes about as long (docs/architecture.md, "The trust boundary").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from capstone_tests.boundary.session import SandboxLink
from sandbox.base import DEFAULT_ENV, RunSpec, Sandbox

from . import limits as limit_rules
from .options import GradeOptions

REPO = Path(__file__).resolve().parents[2]
INSIDE = REPO / "capstone_tests" / "boundary" / "inside"
MOUNT = "/grader/boundary"
REFERENCE_ROOT = REPO / "tinytorch_reference"


def sandbox_link(root: Path, sandbox: Sandbox, options: GradeOptions) -> SandboxLink:
    """The supervisor over the package folder `root` (which holds tinytorch/), starting now in its own thread;
    the first Session on the link waits for it to be ready."""
    limits = replace(options.limits, wall_seconds=limit_rules.sandbox_wall_s(options.suites))

    def spec(stdin: int, on_stdout: Callable[[bytes], None], on_started: Callable[[dict[str, Any]], None]) -> RunSpec:
        return RunSpec(submission=root, code={INSIDE: MOUNT},
                       argv=["python3", "-m", "boundary.supervisor", "/sub", "--sandboxed"],
                       env={**DEFAULT_ENV, "PYTHONPATH": "/grader"}, limits=limits,
                       init=False,  # the supervisor is PID 1: no signal from the student's processes reaches it
                       stdin=stdin, on_stdout=on_stdout, on_started=on_started)

    return SandboxLink(sandbox, spec)
