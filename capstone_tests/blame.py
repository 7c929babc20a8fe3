"""Which module's code misbehaved, from an exception's frames: where the wrong value was made, not where it was used.

The innermost frame of the student's code is where an error surfaced, which is often not where it was caused: a
Trainer that hands its model an index instead of a batch fails inside Tensor.matmul, and a backward that returns a
bare array instead of a tuple fails inside the engine's bookkeeping, far from the loss whose backward made it. So:

- a gradient that does not fit its tensor (a shape or count error, or a value of the wrong kind) and fails inside
  the autograd engine, in the engine's own files, was made by a backward function: the course teaches the engine
  and the backward of every operation, activation and loss in module 05 autograd;
- a gradient that kept the batch axis (its shape is its tensor's with axes in front, as the error's shapes show)
  fails wherever it is used, in the engine or in an optimizer's step: summing a broadcast operand's gradient back
  to its shape is the engine's job, so that too is module 05's;
- a value of the wrong kind (a number, a tuple, None, a plain numpy array where a Tensor is due) is followed up the
  chain of frames while each frame only hands on what it received (its failing line uses one of its parameters),
  through the harness's own containers; the frame that made it is blamed. One that came from the test itself
  (whose values are right by construction) tells nothing, and the innermost frame keeps the blame;
- otherwise, the innermost frame of the student's code: by its file (resolver.module_of_file), or by the course
  class or function it names (resolver.MODULE_OF_NAME) when the file is not one of the course's paths.

A frame is a dict: file, line, function (qualified), code (the failing line), and args (the function's parameter
names) when the side that caught the exception recorded them. Pure: no I/O. The harness uses `blame` for a
verdict's module, grader/diagnostics.py for the cause and the hint as well.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .resolver import MODULE_OF_NAME, module_of_file

AUTOGRAD = 5
# Where the autograd engine's code lives: the reference keeps its walk and primitives in tensor.py (01), the
# course's enable_autograd() patches them in from autograd.py (05).
ENGINE_MODULES = frozenset({1, 5})
# Containers of the harness (boundary/inside/adaptors.py) call the student's objects with what they were given: in
# the repository, or where the sandboxes mount that folder (grader/grading/launch.py: /grader/boundary).
RELAY_FILE = re.compile(r"/boundary/(inside/)?adaptors\.py$")

# A gradient's shape or count does not fit: numpy's words for it, and the engine's zip of parents and gradients.
SHAPE_ERROR = re.compile(r"cannot reshape array of size|could not (be )?broadcast|non-broadcastable|tuple index out of "
                         r"range|mismatch in its core dimension|not aligned|zip\(\) argument \d+ is (longer|shorter)|"
                         r"(too many|not enough) values to unpack")
GRADIENT_NAME = re.compile(r"grad", re.IGNORECASE)  # grad, parent_grad, grad_output, gradient, ...
# A plain Python value where a Tensor was due (memoryview is left to diagnostics' KNOWN_CAUSES: `.data` of an array).
_KIND = r"int|float|bool|complex|tuple|list|NoneType|str|dict|numpy\.\w+"
NO_ATTRIBUTE = re.compile(rf"'(?P<kind>{_KIND})' object has no attribute '(?P<attribute>\w+)'")
NOT_USABLE = re.compile(rf"'(?P<kind>{_KIND})' object is not (subscriptable|iterable|callable)|object of type "
                        rf"'(?P<sized>{_KIND})' has no len\(\)")
# Numbers are fine operands (the scalar of `lr * grad`); containers and None never are.
BAD_OPERAND = re.compile(r"unsupported operand type\(s\) for [^:]+: '(?P<left>[\w.]+)' and '(?P<right>[\w.]+)'")
CONTAINERS = frozenset({"tuple", "list", "NoneType", "str", "dict"})
ZERO_DIMENSIONAL = re.compile(r"does not have enough dimensions \(has 0")
RESHAPE = re.compile(r"cannot reshape array of size (?P<size>\d+) into shape \((?P<shape>[\d, ]*)\)")
ZIP_COUNT = re.compile(r"zip\(\) argument \d+ is (?P<which>longer|shorter)")
# numpy's three ways of saying two shapes do not fit, each with the shapes in its own order.
_SHAPE = r"\((?P<{}>[\d, ]*)\)"
SHAPE_PAIRS = (
    re.compile("non-broadcastable output operand with shape " + _SHAPE.format("kept") + " doesn't match the broadcast "
               "shape " + _SHAPE.format("grown")),
    re.compile("could not broadcast input array from shape " + _SHAPE.format("grown") + " into shape "
               + _SHAPE.format("kept")),
    re.compile("operands could not be broadcast together with shapes " + _SHAPE.format("grown") + " "
               + _SHAPE.format("kept")),
)

KIND_WORDS = {"tuple": "tuple", "list": "list", "NoneType": "None", "str": "string", "dict": "dict",
              "numpy.ndarray": "numpy array"}
# What each kind of stray value usually is, in the course's code: the hint for it.
KIND_HINTS = {
    "number": "a plain number took the place of a Tensor: look at where that value comes from, an index or a count "
              "in place of the data (iterating `enumerate(...)` gives (index, item) pairs; `len(...)` is a count)",
    "tuple": "a tuple took the place of a Tensor: a pair that was never unpacked (a batch is (inputs, targets), "
             "`enumerate(...)` gives (index, item), scaled_dot_product_attention returns (output, weights))",
    "list": "a list took the place of a Tensor: take the item you meant, or make it one Tensor (Tensor(np.array(...)))",
    "None": "None took the place of a Tensor: a function that returns nothing (a missing `return`), or a .grad read "
            "before backward() gave it one",
    "numpy array": "a numpy array took the place of a Tensor: an operation on `.data` returns a plain array, "
                   "which has no Tensor methods and no backward; build the value from Tensor operations",
}
GRADIENT_RULE = ("every backward must return a tuple with one gradient per input, each shaped like that input "
                 "(`return (grad,)` for one input: the engine takes what backward returns apart item by item, so a "
                 "bare array hands out its rows)")
SUM_RULE = ("when the forward pass broadcasts an operand (a bias added to every row of a batch), backward must sum "
            "its gradient over the broadcast axes, back to the operand's own shape")
IDENTIFIER = re.compile(r"(?<![\w.])([A-Za-z_]\w*)")
ASSIGNED = re.compile(r"^\s*[\w.,\s\[\]]+?(?<![=!<>])=(?!=)")  # `a, b = ...`, `self.x = ...`: targets, not uses


@dataclass(frozen=True)
class Blame:
    module: int | None  # in the December 2025 numbering; None when no frame of the student's code is known
    frame: dict[str, Any] | None = None  # the student's frame blamed: where the value was made, or where it failed
    cause: str = ""  # what went wrong there, when the error itself does not say it; "" otherwise
    hint: str = ""  # what to do, from the evidence; "" leaves the module's general hint


def blame(traceback: Any, message: str) -> Blame:
    """The module at fault for an exception, from its frames (outermost first) and its "Type: message"."""
    frames = [f for f in traceback if isinstance(f, dict)] if isinstance(traceback, list) else []
    student = [i for i, frame in enumerate(frames) if is_student(frame)]
    if not student:
        return Blame(None)
    innermost = next((Blame(module, frames[i]) for i in reversed(student)
                      if (module := frame_module(frames[i])) is not None), Blame(None, frames[student[-1]]))
    return _bad_gradient(frames, student, message) or _batch_axis_kept(frames, student[-1], message) \
        or _stray_value(frames, student[-1], message, innermost) or innermost


def is_student(frame: dict[str, Any]) -> bool:
    return "/tinytorch/" in _path(frame)


def frame_module(frame: dict[str, Any]) -> int | None:
    """The course module of a frame: its file's, or else the module that defines the class or function it names."""
    module = module_of_file(_path(frame))
    if module is None:
        owner = str(frame.get("function", "")).split(".")[0]
        module = MODULE_OF_NAME[owner].number if owner in MODULE_OF_NAME else None
    return module


def short_path(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[parts.index("tinytorch"):]) if "tinytorch" in parts else parts[-1]


def kept_axes(message: str) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(tensor's shape, gradient's shape) when an error's two shapes differ only by axes in front of one of them: a
    gradient that was never summed over the axes numpy broadcast its operand along (a bias over a batch)."""
    for pattern in SHAPE_PAIRS:
        if found := pattern.search(message):
            shapes = [tuple(int(n) for n in found[key].replace(" ", "").split(",") if n) for key in ("kept", "grown")]
            shapes.sort(key=len)
            kept, grown = shapes
            if len(grown) > len(kept) and grown[len(grown) - len(kept):] == kept:
                return kept, grown
    return None


def gradient_detail(message: str) -> str:
    """What the error says about the gradient, in the student's terms ("" when it says nothing particular)."""
    if axes := kept_axes(message):
        return f"a gradient of shape {axes[1]} reached a tensor of shape {axes[0]}: it was never summed over the " \
               f"axes numpy broadcast that tensor along"
    if found := RESHAPE.search(message):
        size = int(found["size"])
        shape = tuple(int(n) for n in found["shape"].replace(" ", "").split(",") if n)
        if len(shape) > 1 and size == math.prod(shape[1:]):
            return f"the gradient for a tensor of shape {shape} has {size} values, one row of it"
        return f"the gradient for a tensor of shape {shape} has {size} values, not {math.prod(shape)}"
    if "tuple index out of range" in message:
        return "the gradient has fewer dimensions than its tensor (a row of it, say)"
    if found := ZIP_COUNT.search(message):
        return f"a backward returned {'more' if found['which'] == 'longer' else 'fewer'} gradients than its " \
               f"operation has inputs"
    return ""


def returns_bare_array(message: str) -> bool:
    """Whether an error shows a backward that returned a bare array where a tuple was due: a gradient of exactly one
    row of its tensor, or more or fewer gradients than the operation has inputs."""
    return "one row" in gradient_detail(message) or ZIP_COUNT.search(message) is not None


def _bad_gradient(frames: list[dict[str, Any]], student: list[int], message: str) -> Blame | None:
    """A gradient that does not fit, failing inside the engine's walk (a `backward` frame and what it called, all in
    the engine's files): the backward function that returned it is the fault, and the course teaches those in 05."""
    if not (SHAPE_ERROR.search(message) or _stray_kind(message)):
        return None
    walks = [i for i in student if str(frames[i].get("function", "")).split(".")[-1] == "backward"]
    if not walks:
        return None
    if any(frame_module(frames[i]) not in ENGINE_MODULES for i in student if i >= walks[-1]):
        return None  # a layer's own backward (Conv2d's in spatial.py, say) failed in its own code
    detail = gradient_detail(message)
    rule = SUM_RULE if kept_axes(message) else GRADIENT_RULE
    return Blame(AUTOGRAD, frames[walks[-1]], "a backward function gave the autograd engine a gradient that does "
                 "not fit its tensor", f"{detail}; {rule}" if detail else rule)


def _batch_axis_kept(frames: list[dict[str, Any]], raised: int, message: str) -> Blame | None:
    """A gradient with its tensor's shape plus axes in front, failing where the student's code uses it (an
    optimizer's step, clipping): the engine never summed it back to its tensor's shape."""
    frame = frames[raised]
    if kept_axes(message) is None or not GRADIENT_NAME.search(str(frame.get("code", ""))):
        return None
    return Blame(AUTOGRAD, frame, f"a gradient that does not fit its tensor reached {frame.get('function', '?')}",
                 f"{gradient_detail(message)}; {SUM_RULE}")


def _stray_value(frames: list[dict[str, Any]], raised: int, message: str, innermost: Blame) -> Blame | None:
    """A value of the wrong kind: blamed on the frame that made it, with the hint for that kind of value."""
    kind = _stray_kind(message)
    if kind is None:
        return None
    attribute = NO_ATTRIBUTE.search(message)
    maker = _maker(frames, raised, _holders(attribute["attribute"]) if attribute else _used_names)
    if maker is None or maker == raised:  # made where it failed, or came from the test: the innermost frame's
        return Blame(innermost.module, innermost.frame, "", KIND_HINTS.get(kind, ""))
    made = frames[maker]
    callee = next(f for f in frames[maker + 1:] if is_student(f) or _is_relay(f))
    code = f" (`{made['code']}`)" if made.get("code") else ""
    cause = (f"{made.get('function', '?')} in {short_path(_path(made))}{code} hands {callee.get('function', '?')} a "
             f"{kind} where a Tensor is due")
    return Blame(frame_module(made), made, cause, KIND_HINTS.get(kind, ""))


def _stray_kind(message: str) -> str | None:
    """The kind of value that took a Tensor's place, as the student would name it; None for any other error."""
    if ZERO_DIMENSIONAL.search(message):
        return "number"
    found = NO_ATTRIBUTE.search(message) or NOT_USABLE.search(message)
    if found:
        return _kind_word(found["kind"] or found["sized"])
    if found := BAD_OPERAND.search(message):
        if "memoryview" in (found["left"], found["right"]):
            return None
        container = next((side for side in (found["left"], found["right"]) if side in CONTAINERS), None)
        return _kind_word(container) if container else None
    return None


def _kind_word(kind: str) -> str:
    if kind in ("int", "float", "bool", "complex") or (kind.startswith("numpy.") and kind != "numpy.ndarray"):
        return "number"
    return KIND_WORDS.get(kind, kind)


def _maker(frames: list[dict[str, Any]], start: int, suspects: Callable[[str], set[str]]) -> int | None:
    """From the frame where the value failed, outward while each frame's line uses one of its own parameters (it
    received the value and handed it on): the index of the frame that made it, or None when it came from outside
    the student's code and the harness's containers (from the test, whose values are right), or is unknowable."""
    index, names = start, suspects
    while True:
        frame = frames[index]
        parameters = {str(a) for a in frame.get("args") or ()} - {"self", "cls"} if "args" in frame else None
        if parameters is None or not names(str(frame.get("code", ""))) & parameters:
            return None if _is_relay(frame) else index
        index, names = index - 1, _used_names  # the caller's line: does it hand on one of its own parameters?
        if index < 0 or not (is_student(frames[index]) or _is_relay(frames[index])):
            return None


def _used_names(code: str) -> set[str]:
    """The plain names a line reads (not attribute names, keywords, or the targets it assigns)."""
    code = ASSIGNED.sub("", code, count=1)
    return {name for name in IDENTIFIER.findall(code) if not keyword.iskeyword(name)}


def _holders(attribute: str) -> Callable[[str], set[str]]:
    """For "'int' object has no attribute 'data'": the names whose `.data` the line reads (`x` of `x.data`; not
    `self` of `self.weight.data`, which is the object's own state)."""
    pattern = re.compile(rf"(?<![\w.])([A-Za-z_]\w*)((?:\.\w+|\[[^\]]*\])*)\.{re.escape(attribute)}\b")

    def names(code: str) -> set[str]:
        found = pattern.findall(code)
        if not found:  # read some other way (getattr, a subscript): any name the line uses may hold it
            return _used_names(code)
        return {name for name, path in found if not (name in ("self", "cls") and path)}

    return names


def _is_relay(frame: dict[str, Any]) -> bool:
    return RELAY_FILE.search(_path(frame)) is not None


def _path(frame: dict[str, Any]) -> str:
    return str(frame.get("file", "")).replace("\\", "/")
