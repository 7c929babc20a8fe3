"""Failure evidence → the module at fault, the cause in one sentence, a hint. Pure: no I/O.

The checks already say *what* is wrong in the student's terms; this adds *where* (the course module, from the
check, or from the student's frames: where the wrong value was made, capstone_tests/blame.py) and *why*, for the
mistakes students actually make (a memoryview where an array was due, object-dtype gradients, softmax without the
max shift, a backward returning a bare array, an index where a batch was due, ...), each recognised from the
evidence rather than guessed from the test's name. The module's general hint comes last, when nothing better does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from capstone_tests.blame import GRADIENT_RULE, blame, is_student, short_path
from capstone_tests.editions import DECEMBER_2025, Edition
from capstone_tests.resolver import MODULE_OF_NAME, MODULES_BY_NUMBER
from capstone_tests.verdict import Verdict

MODULE_HINTS: dict[int, str] = {
    1: "check Tensor: float32 data, operators with broadcasting, reshape/transpose/sum/mean/max",
    2: "check the activation formulas, and subtract the row max before exp in Softmax",
    3: "check Linear: weight shape (in, out), forward x @ W + b, parameters() returning [weight, bias]",
    4: "check the loss formulas (mean over the batch) and use a stable log-softmax",
    5: "check backward(): every op must pass gradients to all parents, summed back to each parent's shape",
    6: "check step() and zero_grad(): update each parameter's .data from its .grad as numpy arrays",
    7: "check Trainer (zero_grad, backward, step per batch; accumulation) and clip_grad_norm",
    8: "check Dataset/DataLoader: batch count, the last partial batch, shuffling every sample once",
    9: "check Conv2d/pooling output sizes: (H + 2*padding - kernel) // stride + 1",
    10: "check encode/decode round trips and the vocabulary",
    11: "check Embedding lookups (weight rows) and that PositionalEncoding is added and learned",
    12: "check attention: softmax(Q K^T / sqrt(d)) V, masked positions set to a large negative score",
    13: "check LayerNorm, the pre-norm residual block and the causal mask",
    14: "check the parameter and FLOP counts",
    15: "check the int8 scale: (max - min) / 255 over the tensor's actual range, and the zero point",
    16: "check pruning: zero the smallest-magnitude weights (not biases) up to the requested fraction",
    17: "check the KV cache: update writes position by position, get returns only filled positions",
    18: "check the accelerated kernels against a plain matmul/GELU",
    19: "check Benchmark/BenchmarkResult",
    20: "check the capstone exports",
}


@dataclass(frozen=True)
class Diagnostic:
    module: int | None  # in the December 2025 numbering the suites use (module_number: the student's)
    cause: str
    hint: str
    evidence: dict[str, Any] = field(default_factory=dict)
    traceback: tuple[dict[str, Any], ...] = ()
    edition: Edition = DECEMBER_2025  # whose numbers and names the student reads

    @property
    def module_number(self) -> int | None:
        """The module's number in the student's edition."""
        return self.edition.number(self.module) if self.module in MODULES_BY_NUMBER else None

    @property
    def module_label(self) -> str:
        if self.module is None or self.module not in MODULES_BY_NUMBER:
            return ""
        return self.edition.label(self.module)

    def text(self) -> str:
        label = f"{self.module_label}: " if self.module_label else ""
        hint = f" Hint: {self.hint}." if self.hint else ""
        return f"{label}{self.cause}{hint}"


# (pattern in the error or check message, cause template, hint): first match wins.
KNOWN_CAUSES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"memoryview"),
     "{where} multiplies by a memoryview", "use the parameter's numpy array: `.data` of a numpy array is a raw "
     "memoryview, so `grad.data` or `param.data.data` is not the array"),
    (re.compile(r"dtype\('O'\)|dtype object|object array|dtype\(object\)"),
     "{where} accumulates gradients in an object-dtype array",
     "keep gradients float32 numpy arrays (np.zeros_like(x, dtype=np.float32)); never build them from lists of "
     "Tensors"),
    (re.compile(r"contains NaN or infinity"),
     "{where} produces NaN or infinity", "large inputs overflow exp(): subtract the max before exponentiating"),
    (re.compile(r"\b(SyntaxError|IndentationError|TabError): "), "{message}",
     "that file does not compile, so nothing in it can run: fix it at the line named (`python -m py_compile "
     "FILE` shows the same error)"),
    # A library other than numpy: the module exists, but what it imports is not installed where it is graded.
    (re.compile(r"No module named '(?P<library>(?!tinytorch\b)[A-Za-z_][\w]*)"),
     "{where} imports the library '{library}', which is not installed where packages are graded",
     "only numpy and Python's standard library are available there (as the course assumes): write that part "
     "with numpy"),
    (re.compile(r"not found: "), "{message}", "export the module at the path the course uses (see the message)"),
)


# "'Linear' object has no attribute 'weight'": a course class without an attribute the course gives it.
MISSING_ATTRIBUTE = re.compile(r"'(?P<kind>[A-Za-z_]\w*)' object has no attribute '(?P<attribute>[A-Za-z_]\w*)'")


# The resolver's "module 05 (autograd) not found" speaks the December 2025 numbering.
MODULE_NOT_FOUND = re.compile(r"module (?P<number>\d\d) \((?P<name>\w+)\) not found")


def diagnose(verdict: Verdict, default_module: int | None = None,
             edition: Edition = DECEMBER_2025) -> Diagnostic | None:
    """None for a passed test; otherwise the best explanation the evidence supports, in the numbering and
    names of the student's edition."""
    if verdict.passed:
        return None
    if edition is not DECEMBER_2025:
        verdict = replace(verdict, message=_renumbered(verdict.message, edition))
    diagnostic = _diagnose(verdict, default_module)
    return replace(diagnostic, edition=edition)


def _renumbered(message: str, edition: Edition) -> str:
    def label(found: re.Match[str]) -> str:
        number = int(found["number"])
        if number not in MODULES_BY_NUMBER:
            return found[0]
        shown, name = edition.label(number).removeprefix("Module ").split(" ", 1)
        return f"module {shown} ({name}) not found"

    return MODULE_NOT_FOUND.sub(label, message)


def _diagnose(verdict: Verdict, default_module: int | None) -> Diagnostic:
    frames = tuple(_student_frames(verdict.evidence.get("traceback")))
    renamed = _renamed_attribute(verdict, frames)
    if renamed is not None:
        return renamed
    blamed = blame(verdict.evidence.get("traceback"), verdict.message)
    module = verdict.module or blamed.module or default_module
    evidence = {k: v for k, v in verdict.evidence.items() if k != "traceback"}
    # A check that recognised the cause says how to fix it (Verdict.hint, or "hint" in its evidence): that beats
    # the module's general advice, which is about the module's usual mistakes, not this one.
    check_hint = verdict.hint or str(evidence.pop("hint", "") or "")
    evidence.pop("hint", None)
    where = _where(frames, module)
    message = verdict.message.strip()
    if verdict.outcome == "timeout":
        return Diagnostic(module, message or "the test did not finish in time",
                          "look for an infinite loop, or per-element Python loops to vectorize with numpy",
                          evidence, frames)
    if check_hint:
        return Diagnostic(module, message, check_hint, evidence, frames)
    raised = _raised(message, frames) if verdict.outcome == "error" else message
    if blamed.cause:  # the wrong value was made elsewhere than where it failed: say where, then what failed
        return Diagnostic(module, f"{blamed.cause}: {raised}", blamed.hint or
                          MODULE_HINTS.get(module, ""), evidence, frames)
    for pattern, cause, hint in KNOWN_CAUSES:
        if found := pattern.search(message):
            text = cause.format(where=where, message=message, **found.groupdict())
            if "{message}" not in cause and message and message not in text:
                text = f"{text} ({message})"
            return Diagnostic(module, text, hint, evidence, frames)
    hint = blamed.hint or _evidence_hint(evidence, message) or (MODULE_HINTS.get(module, "") if module else "")
    return Diagnostic(module, raised or f"the test ended with outcome {verdict.outcome}", hint, evidence, frames)


def _raised(message: str, frames: tuple[dict[str, Any], ...]) -> str:
    """The error, and where in the student's files it was raised."""
    if not frames:
        return message
    last = frames[-1]
    return f"{message} (raised in {short_path(str(last['file']))}:{last['line']}, in {last['function']})"


GRADIENT_WORD = re.compile(r"grad", re.IGNORECASE)


def _evidence_hint(evidence: dict[str, Any], message: str) -> str:
    """A hint from what a check saw of a wrong gradient: its shape against the expected one, or values that repeat
    one row over the whole tensor (one row, or one number, spread where a gradient per entry was due)."""
    if not GRADIENT_WORD.search(message):
        return ""
    got, want = _shape(evidence.get("got_shape")), _shape(evidence.get("expected_shape"))
    if got is not None and want is not None:
        if len(want) > 1 and got == want[1:]:
            return f"the gradient has shape {got}, one row of the expected {want}; {GRADIENT_RULE}"
        if len(got) == len(want) + 1 and got[1:] == want:
            return (f"the gradient has shape {got} for a tensor of shape {want}: it still has the batch axis; sum it "
                    f"over the broadcast axes, back to the shape of the tensor it is for")
    shape, sample, expected = _shape(evidence.get("shape")), evidence.get("got"), evidence.get("expected")
    if shape is not None and _repeats_rows(sample, shape) and not _repeats_rows(expected, shape):
        return ("every row of the gradient is the same while the right rows differ: one row (or one number) was "
                f"spread over the whole tensor; {GRADIENT_RULE}")
    return ""


def _shape(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, list | tuple) and all(type(n) is int for n in value):
        return tuple(value)
    return None


def _repeats_rows(sample: Any, shape: tuple[int, ...]) -> bool:
    """Whether the leading values of a flattened array of `shape` (a check's sample of it) repeat its first row."""
    if len(shape) < 2 or shape[0] < 2 or not isinstance(sample, list) or not shape[-1]:
        return False
    row = math.prod(shape[1:])
    values = [v for v in sample if isinstance(v, int | float)]
    return len(values) == len(sample) > row and all(values[i] == values[i % row] for i in range(len(values)))


def _renamed_attribute(verdict: Verdict, frames: tuple[dict[str, Any], ...]) -> Diagnostic | None:
    """A test read an attribute the course's class has (Linear.weight) and the student's class lacks it (say,
    renamed to `weights`): the fault is in the module that defines the class, whatever test tripped on it. Only
    when the read was the test's own (no frame of the student's code is below it)."""
    found = MISSING_ATTRIBUTE.search(verdict.message)
    if found is None or frames or found["kind"] not in MODULE_OF_NAME:
        return None
    kind, attribute = found["kind"], found["attribute"]
    module = MODULE_OF_NAME[kind].number
    evidence = {k: v for k, v in verdict.evidence.items() if k != "traceback"}
    return Diagnostic(module, f"the tests read {kind}.{attribute}, which the course's {kind} has and this {kind} "
                      f"does not ({verdict.message.strip()})",
                      f"keep the attribute names the course gives {kind} (docs/student-api.md lists them): rename "
                      f"yours back to `{attribute}`", evidence)


def _student_frames(traceback: Any) -> list[dict[str, Any]]:
    """Only the frames from the student's own files: our probes and numpy are noise to them."""
    if not isinstance(traceback, list):
        return []
    return [f for f in traceback if isinstance(f, dict) and is_student(f)]


def _where(frames: tuple[dict[str, Any], ...], module: int | None) -> str:
    if frames:
        last = frames[-1]
        code = f" (`{last['code']}`)" if last.get("code") else ""
        return f"{last.get('function', '?')} in {short_path(str(last.get('file', '')))}{code}"
    if module in MODULES_BY_NUMBER:
        return f"module {module:02d} ({MODULES_BY_NUMBER[module].name})"
    return "the package"

