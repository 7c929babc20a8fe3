"""Run one command against one untrusted package under hard limits and return raw facts (no scoring, no database).

    from sandbox import RunSpec, Limits, get_sandbox
    result = get_sandbox("docker").run(RunSpec(submission=path, argv=["python3", "-c", "..."]))

DockerSandbox is the production sandbox; BubblewrapSandbox runs the same image filesystem without Docker.
Machine setup: `bash sandbox/setup.sh` (installs docker/bubblewrap/mmdebstrap, starts dockerd, builds the image).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from .base import DEFAULT_ENV, Limits, RunResult, RunSpec, Sandbox, SandboxError

__all__ = ["DEFAULT_ENV", "Limits", "RunResult", "RunSpec", "Sandbox", "SandboxError", "get_sandbox"]


def get_sandbox(kind: Literal["docker", "bwrap"] | None = None, **options: Any) -> Sandbox:
    """The sandbox of that kind; options go to its constructor (e.g. image=..., rootfs=...).

    kind None: $TINYTORCH_SANDBOX if set, else docker if its daemon and image are usable here, else bwrap; a
    SandboxError naming both reasons if neither is.
    """
    kind = kind or os.environ.get("TINYTORCH_SANDBOX") or None  # type: ignore[assignment]
    if kind == "docker":
        from .docker import DockerSandbox

        return DockerSandbox(**options)
    if kind == "bwrap":
        from .bubblewrap import BubblewrapSandbox

        return BubblewrapSandbox(**options)
    if kind is not None:
        raise ValueError(f"unknown sandbox kind {kind!r} (expected 'docker' or 'bwrap')")
    reasons = []
    for candidate in ("docker", "bwrap"):
        sandbox = get_sandbox(candidate, **options)  # type: ignore[arg-type]
        try:
            sandbox.describe()
            return sandbox
        except SandboxError as exc:
            reasons.append(f"{candidate}: {exc}")
    raise SandboxError("no sandbox usable here; " + "; ".join(reasons))
