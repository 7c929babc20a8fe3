"""Run one command against one untrusted package under hard limits and return raw facts (no scoring, no database).

    from sandbox import RunSpec, Limits, get_sandbox
    result = get_sandbox("docker").run(RunSpec(submission=path, argv=["python3", "-c", "..."]))

DockerSandbox is the production sandbox; BubblewrapSandbox runs the same image filesystem without Docker.
Machine setup: `bash sandbox/setup.sh` (installs docker/bubblewrap/mmdebstrap, starts dockerd, builds the image).
"""

from __future__ import annotations

from typing import Any, Literal

from .active import SandboxAborted, abort_all
from .base import DEFAULT_ENV, Limits, RunResult, RunSpec, Sandbox, SandboxError, SandboxNotStarted

__all__ = ["DEFAULT_ENV", "Limits", "RunResult", "RunSpec", "Sandbox", "SandboxAborted", "SandboxError",
           "SandboxNotStarted", "abort_all", "get_sandbox"]


def get_sandbox(kind: Literal["docker", "bwrap"] | None = None, **options: Any) -> Sandbox:
    """The sandbox of that kind. options: image= (docker), rootfs= (bwrap), workdir=, cgroup_root= (both); each
    kind takes those it knows. This library reads no environment: the caller passes its settings in.

    kind None: docker if its daemon and image are usable here, else bwrap; a SandboxError naming both reasons if
    neither is.
    """
    if kind == "docker":
        from .docker import DockerSandbox

        return DockerSandbox(**{k: v for k, v in options.items() if k != "rootfs"})
    if kind == "bwrap":
        from .bubblewrap import BubblewrapSandbox

        return BubblewrapSandbox(**{k: v for k, v in options.items() if k != "image"})
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
