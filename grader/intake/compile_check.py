"""The pre-flight compile check: every Python file of the package compiled (never run) at intake, so a file
that does not compile is named at once, with its line, rather than test by test after the sandbox has run.

    problems = compile_problems({"tinytorch/core/layers.py": b"def forward(self x):\\n    pass\\n"})
    problems[0]   # CompileProblem(file='tinytorch/core/layers.py', line=1, column=18,
                  #                text='def forward(self x):', message='invalid syntax')

`compile()` parses and generates bytecode; nothing of the student's runs. It is total on hostile input: every
way a source can fail to compile (bad syntax or indentation, tabs mixed with spaces, NUL bytes, bytes that are
not in the file's encoding, a coding cookie naming an unknown or non-text codec, nesting too deep for the
parser or the compiler) becomes one CompileProblem; nothing is raised. The sandbox runs the same Python (3.11)
as the grader, so a file that fails here fails on import there (nesting at the very edge of the compiler's
recursion limit aside: that limit counts the caller's stack too).

Costs are bounded by what `sources.SourceKeeper` hands over (at most 256 KiB a file, 512 KiB in all): the
reference package (23 files, 115 KB) takes ~25 ms, and ~0.3 ms when handed in again (results are remembered by
the files' digests); the worst a hostile file of 256 KiB can do is ~0.6 s (on an idle core) and ~170 MB while it
compiles (one-character statements: ~700 bytes of memory per source byte).
"""

from __future__ import annotations

import hashlib
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

# Problems reported per upload: enough to show every broken module of a package, not a wall of text.
MAX_PROBLEMS = 20
# Characters of the offending line and of the message, once unprintable characters are escaped.
MAX_TEXT = 200
MAX_MESSAGE = 300

# What compile() raises on bad input. SyntaxError covers IndentationError and TabError, and (from bytes) bad
# encodings, unknown codecs and (on this 3.11) NUL bytes; ValueError is NUL bytes on other Pythons (and
# UnicodeDecodeError, a subclass); RecursionError and MemoryError are the compiler's and the parser's limits on
# nesting; OverflowError and SystemError are the compiler's own limits and corner cases.
_FAILURES = (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError, SystemError)
_TOO_DEEP = "too deeply nested (or too long an expression) for Python to compile"
# PEP 263: a coding cookie, on line 1 or 2.
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=]")
_BOM = b"\xef\xbb\xbf"
# Results by (path, sha256 of the bytes), least recently used first. A student hands in the same files again and
# again (a resubmission changes a module or two; the course's scaffold is the same for everyone), and a digest
# costs ~100x less than a compile (~0.3 ms against ~25 ms for the reference package).
MAX_REMEMBERED = 4096
_REMEMBERED: OrderedDict[tuple[str, bytes], CompileProblem | None] = OrderedDict()
# Held around each compile. compile() warns through the process's warning filters: they must neither print a
# student's thousand SyntaxWarnings into the service's log nor, where a filter says "error", turn one into a false
# problem, and catch_warnings swaps process-wide state, so the compiles take turns (they hold the GIL throughout
# anyway). Taking turns also keeps a process's peak at one compile's memory however many uploads arrive at once.
_TURN = threading.Lock()


@dataclass(frozen=True)
class CompileProblem:
    # The path from the folder holding the package: "tinytorch/core/layers.py".
    file: str
    # 1-based; None when Python could not say (nesting too deep). The column counts in the file's line, as an
    # editor does, before `text` was stripped.
    line: int | None
    column: int | None
    # The offending line, stripped, unprintable characters escaped, at most MAX_TEXT characters.
    text: str
    # Python's own words: "invalid syntax", "unexpected indent", "source code string cannot contain null bytes".
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def where(self) -> str:
        """"tinytorch/core/layers.py, line 3, column 18" (as much of it as is known)."""
        place = self.file
        if self.line is not None:
            place += f", line {self.line}"
            if self.column is not None:
                place += f", column {self.column}"
        return place


def compile_problems(sources: Mapping[str, bytes]) -> tuple[CompileProblem, ...]:
    """The first MAX_PROBLEMS problems of `sources` (path -> bytes), in path order; () when all compile."""
    problems: list[CompileProblem] = []
    for path in sorted(sources):
        if len(problems) == MAX_PROBLEMS:
            break  # the rest is not compiled: nobody reads a longer list, and it would only cost time
        problem = check_source(path, sources[path])
        if problem is not None:
            problems.append(problem)
    return tuple(problems)


def check_source(path: str, source: bytes) -> CompileProblem | None:
    """None if `source` compiles, else what is wrong and where. Bytes, not text: compile() then decodes them as
    an import would (BOM, PEP 263 cookie, UTF-8 by default), so an encoding problem is found as it would be."""
    key = (path, hashlib.sha256(source).digest())
    with _TURN:
        if key in _REMEMBERED:
            _REMEMBERED.move_to_end(key)
            return _REMEMBERED[key]
        problem = _compile(path, source)
        _REMEMBERED[key] = problem
        while len(_REMEMBERED) > MAX_REMEMBERED:
            _REMEMBERED.popitem(last=False)
        return problem


def _compile(path: str, source: bytes) -> CompileProblem | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, path, "exec", dont_inherit=True)
    except _FAILURES as error:
        return _problem(path, source, error)
    return None


def _problem(path: str, source: bytes, error: Exception) -> CompileProblem:
    if isinstance(error, RecursionError | MemoryError):
        return CompileProblem(path, None, None, "", _TOO_DEEP)
    line = column = None
    text = None
    if isinstance(error, SyntaxError):
        message = error.msg or "invalid syntax"
        # Decoding errors and unknown codecs come with line 0 and offset -1: no position at all.
        line = error.lineno if error.lineno and error.lineno > 0 else None
        column = error.offset if line is not None and error.offset and error.offset > 0 else None
        text = error.text
    else:
        message = str(error) or type(error).__name__
    if line is None:
        line = _locate(source, message)
    if text is None and line is not None:
        text = _line(source, line)
    return CompileProblem(path, line, column, _shown((text or "").strip(), MAX_TEXT), _shown(message, MAX_MESSAGE))


def _locate(source: bytes, message: str) -> int | None:
    """The line Python did not give: the first NUL byte's, or else the coding cookie's (an encoding problem)."""
    if "null bytes" in message:
        at = source.find(b"\0")
        return source.count(b"\n", 0, at) + 1 if at >= 0 else None
    for number, line in enumerate(source.removeprefix(_BOM).splitlines()[:2], start=1):
        if _COOKIE.match(line):
            return number
    return None


def _line(source: bytes, number: int) -> str:
    # Python counts lines as splitlines does (\n, \r\n and a lone \r); UTF-8 with replacement is close enough
    # for showing a line, whatever the file's own encoding.
    lines = source.splitlines()
    return lines[number - 1].decode("utf-8", "replace") if number <= len(lines) else ""


def _shown(text: str, limit: int) -> str:
    """`text` safe for a terminal, a log line or a web page: unprintable characters (terminal escapes, NUL, a
    no-break space that broke the line) spelled as escapes, at most `limit` characters."""
    cut = len(text) > limit
    # Cut before escaping, so a megabyte-long line costs nothing.
    shown = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text[:limit])
    return shown[: limit - 3] + "..." if cut or len(shown) > limit else shown
