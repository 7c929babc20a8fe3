"""Read what the in-sandbox supervisor printed: one JSON event per line, schema-checked.

The stream is read as untrusted bytes: never executed or unpickled. It is also checked against the
one sequence the supervisor writes, for the job it was given: start(i) and result(i) for each probe run
in job order, then done, and nothing else. The sandboxes keep that stream out of the probes' reach (the
supervisor is PID 1 and not dumpable, docker's FIFOs cannot be found from inside), but this check does not
rely on it: a sandbox once left docker's stdout FIFO openable by path, and a supervisor that is not PID 1
can be killed or stopped by the probe it runs. An injected line always shows, as an event out of sequence,
a duplicate, or a line that is not an event; a killed supervisor shows as a stream that stops early.
`SupervisorOutput.unexpected` names the first deviation, and grade.py trusts a run's results only when
there is none and the stream is complete.
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
    unexpected: str | None = None  # the first line that breaks the expected sequence (see the module docstring)


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


def parse(stdout: bytes, expected: list[int] | None = None) -> SupervisorOutput:
    """All events of `stdout`. With `expected` (the job's probe run indexes, in job order), also check that the
    stream is exactly the supervisor's sequence for that job, or a prefix of it (a run that stopped early);
    after the first deviation nothing more is read."""
    output = SupervisorOutput()
    script = [(kind, index) for index in expected for kind in ("start", "result")] if expected is not None else None
    position = 0
    text = stdout.decode("utf-8", "replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last event
    for number, line in enumerate(lines, 1):
        if script is None:
            parse_line(line, output)
            continue
        want = script[position] if position < len(script) else ("done", None)
        if output.done or not _is_event(line, *want):
            output.unexpected = f"line {number} is not the expected {want[0]} event" + (
                f" of probe run {want[1]}" if want[1] is not None else "") + f": {line[:120]!r}"
            break
        parse_line(line, output)
        position += 1
    return output


def _is_event(line: str, kind: str, index: int | None) -> bool:
    """Whether `line` is exactly one JSON object of that kind (and index) with the fields the supervisor writes."""
    try:
        event = json.loads(line, parse_constant=_refuse_constant)
    except ValueError:
        return False
    if not isinstance(event, dict) or event.get("event") != kind:
        return False
    if kind == "done":
        return set(event) == {"event"}
    if type(event.get("index")) is not int or event["index"] != index:
        return False
    return set(event) == ({"event", "index"} if kind == "start" else RESULT_FIELDS)


RESULT_FIELDS = frozenset({"event", "index", "envelope", "exit", "timed_out", "seconds", "cpu_seconds",
                           "max_rss_bytes", "output", "output_dropped"})
