"""Read what the in-sandbox supervisor printed: one JSON event per line, schema-checked.

Only the supervisor can write to that stream (see sandbox/runner/supervisor.py), but it is still
read as untrusted bytes: a line that is not a well-formed event is ignored, never executed or
unpickled, and a run counts as complete only with its "done" event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProbeRun:
    index: int
    envelope: Any
    exit: int | None
    timed_out: bool
    seconds: float | None
    cpu_seconds: float | None
    max_rss_bytes: int | None
    output: str
    output_dropped: int


@dataclass
class SupervisorOutput:
    started: list[int] = field(default_factory=list)
    results: dict[int, ProbeRun] = field(default_factory=dict)
    done: bool = False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_line(line: str, into: SupervisorOutput) -> int | None:
    """Fold one line into `into`; returns the index of a finished probe run, if this line finished one."""
    try:
        event = json.loads(line, parse_constant=_refuse_constant)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    kind, index = event.get("event"), event.get("index")
    if kind == "done":
        into.done = True
    elif kind == "start" and isinstance(index, int):
        into.started.append(index)
    elif kind == "result" and isinstance(index, int) and index not in into.results:
        exit_code = event.get("exit")
        rss = event.get("max_rss_bytes")
        into.results[index] = ProbeRun(
            index=index,
            envelope=event.get("envelope"),
            exit=exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
            timed_out=event.get("timed_out") is True,
            seconds=_number(event.get("seconds")),
            cpu_seconds=_number(event.get("cpu_seconds")),
            max_rss_bytes=rss if isinstance(rss, int) and not isinstance(rss, bool) else None,
            output=event.get("output") if isinstance(event.get("output"), str) else "",
            output_dropped=event.get("output_dropped") if isinstance(event.get("output_dropped"), int) else 0,
        )
        return index
    return None


def parse(stdout: bytes) -> SupervisorOutput:
    output = SupervisorOutput()
    for line in stdout.decode("utf-8", "replace").splitlines():
        parse_line(line, output)
    return output
