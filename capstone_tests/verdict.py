"""The outcome of one check, decided on the trusted side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["passed", "failed", "error", "skipped", "timeout"]


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    message: str = ""
    module: int | None = None  # the course module at fault, when the check can tell
    evidence: dict[str, Any] = field(default_factory=dict)
    # What to do about it, when the check knows better than its module's general hint (grader/diagnostics.py).
    hint: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def report(self) -> str:
        where = f"module {self.module:02d}: " if self.module and not self.message.startswith("module ") else ""
        from .checks.example import example_lines  # here: checks import this module

        lines = [f"{where}{self.message}"]
        lines += [f"  {key}: {_short(value)}" for key, value in self.evidence.items() if key != "example"]
        if "example" in self.evidence:  # the worked example reads better as its own lines than as a dict
            lines += ["  example:"] + [f"    {line}" for line in example_lines(self.evidence["example"])]
        return "\n".join(lines)


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class CheckFailed(Exception):
    """Raised inside a check to fail the test with a message; the harness makes it a Verdict."""

    def __init__(self, message: str, module: int | None = None, *, hint: str = "", **evidence: Any) -> None:
        super().__init__(message)
        self.verdict = Verdict("failed", message, module, evidence, hint)


def passed(**evidence: Any) -> Verdict:
    return Verdict("passed", "ok", None, evidence)


def failed(message: str, module: int | None = None, **evidence: Any) -> Verdict:
    return Verdict("failed", message, module, evidence)
