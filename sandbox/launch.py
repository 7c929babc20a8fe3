"""Pieces both sandboxes share for starting the untrusted command: the exact environment and the start marker.

The command always runs as `/usr/bin/env [-u NAME]... -- [PWD=...] argv...`, executed from the image: the
runtimes (docker, bwrap, /bin/sh) add variables of their own (HOSTNAME, PWD, the image's ENV), and env strips them
again, so the process sees exactly RunSpec.env under either sandbox.

Before that, a tiny trusted shell prologue writes "started" to a marker pipe. If a run ends without the marker,
the sandbox itself failed to set up (a mount, the image, bwrap...) and SandboxError is raised: an infrastructure
fault must never be reported as the student's exit status.
"""

from __future__ import annotations

import os
import shlex

STARTED = b"started"


# Shells and bwrap rewrite these on their own (PWD after a chdir, SHLVL in bash, ...), so a value the spec sets for
# one of them is put back explicitly. Every other variable reaches the process unchanged through the runtime's own
# channel (docker --env-file, bwrap's inherited environment) and never appears on a command line.
_REWRITTEN = {"PWD", "OLDPWD", "SHLVL", "_"}


def env_command(argv: list[str], env: dict[str, str], strip: set[str]) -> list[str]:
    """argv wrapped so that exactly `env` remains of whatever environment the runtime built around it.

    strip: names the runtime may have added (image ENV, HOSTNAME, ...); those the spec lacks are removed.
    """
    args = ["/usr/bin/env"]
    for name in sorted((set(strip) | _REWRITTEN) - set(env)):
        args += ["-u", name]
    args.append("--")
    args += [f"{name}={env[name]}" for name in sorted(_REWRITTEN & set(env))]
    return args + list(argv)


def prologue(marker: str, redirects: str = "") -> str:
    """`sh -c` script: optional redirections, the start marker to `marker`, then exec of "$@"."""
    steps = []
    if redirects:
        steps.append(f"exec {redirects}")
    steps.append(f"printf {STARTED.decode()} >{marker}")
    if marker.startswith("&"):
        steps.append(f"exec {marker[1:]}>&-")  # the untrusted program must not inherit the marker pipe
    steps.append('exec "$@"')
    return " && ".join(steps)


def read_marker(fd: int) -> bool:
    """Whether the prologue wrote the marker (non-blocking read of what is buffered)."""
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 64).startswith(STARTED)
    except BlockingIOError:
        return False


def quote_all(paths: list[str]) -> str:
    return " ".join(shlex.quote(p) for p in paths)
