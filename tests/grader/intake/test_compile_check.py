"""The compile check on hostile sources: every way a file can fail to compile becomes one problem naming its
line and text, nothing is raised, nothing is printed, and no text reaches a terminal or a page unescaped."""

from __future__ import annotations

import secrets
import time
import warnings
from pathlib import Path

import pytest

from grader.intake import compile_check
from grader.intake.compile_check import (
    MAX_MESSAGE,
    MAX_PROBLEMS,
    MAX_TEXT,
    CompileProblem,
    check_source,
    compile_problems,
)
from grader.intake.sources import MAX_FILE_BYTES

REFERENCE = Path(__file__).resolve().parents[3] / "tinytorch_reference"
FILE = "tinytorch/core/layers.py"

# name: (source, line, column, text, a phrase of the message)
BROKEN: dict[str, tuple[bytes, int | None, int | None, str, str]] = {
    "invalid syntax": (b"import numpy\n\ndef forward(self x):\n    pass\n", 3, 18, "def forward(self x):",
                       "invalid syntax"),
    "unexpected indent": (b"x = 1\n    y = 2\n", 2, 4, "y = 2", "unexpected indent"),
    "tab/space mix": (b"if True:\n\tx = 1\n        y = 2\n", 3, 1, "y = 2",
                      "inconsistent use of tabs and spaces in indentation"),
    "unclosed bracket": (b"x = [1,\n     2,\n", 1, 5, "x = [1,", "'[' was never closed"),
    "null byte": (b"x = 1\ny = 2\0\n", 2, None, "y = 2\\x00", "source code string cannot contain null bytes"),
    "not UTF-8, no cookie": (b"x = 1\nname = 'Ren\xe9'\n", 2, None, "name = 'Ren\ufffd'", "can't decode byte 0xe9"),
    "unknown codec": (b"#!/usr/bin/env python\n# -*- coding: klingon -*-\nx = 1\n", 2, None,
                      "# -*- coding: klingon -*-", "unknown encoding: klingon"),
    "not a text codec": (b"# coding: hex\nx = 1\n", 1, None, "# coding: hex", "'hex' is not a text encoding"),
    "BOM and a latin-1 cookie": (b"\xef\xbb\xbf# coding: latin-1\nx = 1\n", 1, None, "\\ufeff# coding: latin-1",
                                 "encoding problem"),
    "no-break space": ("x = 1\u00a0+ 2\n".encode(), 1, 6, "x = 1\\xa0+ 2", "invalid non-printable character U+00A0"),
    "terminal escape": (b"x = 1 \x1b[2J\n", 1, 7, "x = 1 \\x1b[2J", "invalid non-printable character U+001B"),
    # Found by the compiler after parsing: SyntaxError.text is None, the line comes from the source.
    "return outside function": (b"x = 1\nreturn x\n", 2, 1, "return x", "'return' outside function"),
    "late __future__": (b"x = 1\nfrom __future__ import annotations\n", 2, 1, "from __future__ import annotations",
                        "from __future__ imports must occur at the beginning of the file"),
    "300-deep parentheses": (b"x = " + b"(" * 300 + b"1" + b")" * 300 + b"\n", 1, None, "x = ((((",
                             "too many nested parentheses"),
    "100k-deep parentheses": (b"x = " + b"(" * 100_000 + b"1" + b")" * 100_000 + b"\n", 1, None, "x = ((((",
                              "too many nested parentheses"),
}

# Nesting the parser or the compiler gives up on (MemoryError, RecursionError): no line to name.
TOO_DEEP: dict[str, bytes] = {
    "100k unary minus": b"x = " + b"-" * 100_000 + b"1\n",
    "100k attribute chain": b"x = a" + b".a" * 100_000 + b"\n",
    "100k calls": b"x = f" + b"()" * 100_000 + b"\n",
    "10k nested lambdas": b"x = " + b"lambda: " * 10_000 + b"1\n",
    "100k additions": b"x = 1" + b"+1" * 100_000 + b"\n",
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_file_is_named_with_its_line_and_text(name: str) -> None:
    source, line, column, text, phrase = BROKEN[name]
    problem = check_source(FILE, source)
    assert problem is not None
    assert (problem.file, problem.line) == (FILE, line)
    if column is not None:
        assert problem.column == column
    assert problem.text.startswith(text)
    assert phrase in problem.message
    assert problem.text.isprintable() and problem.message.isprintable()
    assert len(problem.text) <= MAX_TEXT and len(problem.message) <= MAX_MESSAGE


@pytest.mark.parametrize("name", TOO_DEEP)
def test_nesting_too_deep_to_compile_is_a_problem_not_a_crash(name: str) -> None:
    started = time.monotonic()
    problem = check_source(FILE, TOO_DEEP[name])
    assert problem == CompileProblem(FILE, None, None, "", "too deeply nested (or too long an expression) for "
                                                            "Python to compile")
    assert time.monotonic() - started < 10


def test_the_reference_package_compiles() -> None:
    package = REFERENCE / "tinytorch"
    sources = {p.relative_to(REFERENCE).as_posix(): p.read_bytes() for p in package.rglob("*.py")}
    assert len(sources) == 23
    assert compile_problems(sources) == ()


def test_a_huge_valid_file_compiles_and_a_huge_broken_one_is_named() -> None:
    # As big as intake keeps (MAX_FILE_BYTES), of ordinary code: many copies of the reference's tensor module.
    module = REFERENCE.joinpath("tinytorch/core/tensor.py").read_bytes().replace(b"from __future__", b"#")
    huge = (module * (MAX_FILE_BYTES // len(module) + 1))[:MAX_FILE_BYTES]
    huge = huge[: huge.rfind(b"\nclass ")] + b"\n"
    assert len(huge) > MAX_FILE_BYTES - len(module) - 1
    assert check_source(FILE, huge) is None
    broken = check_source(FILE, huge + b"def f(:\n")
    assert broken is not None and broken.line == huge.count(b"\n") + 1 and broken.text == "def f(:"


def test_a_long_line_is_cut() -> None:
    problem = check_source(FILE, b"x = (" + b"1 " * 10_000 + b")\n")
    assert problem is not None and problem.line == 1
    assert len(problem.text) == MAX_TEXT and problem.text.endswith("...")


def test_warnings_are_neither_problems_nor_printed(recwarn: pytest.WarningsRecorder,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # An invalid escape (DeprecationWarning in 3.11) and `is` with a literal (SyntaxWarning) are warnings on
    # import too: the file imports, so they are no problem, even where warnings are turned into errors.
    source = b"import re\npattern = re.compile('\\d+')\nx = 1\nif x is 1:\n    pass\n" * 1000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_source(FILE, source) is None
    assert len(recwarn) == 0
    assert capsys.readouterr() == ("", "")


def test_many_broken_files_give_a_capped_list_in_path_order() -> None:
    sources = {f"tinytorch/m{i:03}.py": b"def f(:\n" for i in range(200)}
    sources["tinytorch/__init__.py"] = b"from .m000 import f\n"
    problems = compile_problems(sources)
    assert len(problems) == MAX_PROBLEMS
    assert [p.file for p in problems] == [f"tinytorch/m{i:03}.py" for i in range(MAX_PROBLEMS)]
    assert all(p.line == 1 and p.message == "invalid syntax" for p in problems)


def test_where_says_as_much_as_is_known() -> None:
    assert CompileProblem(FILE, 3, 18, "x", "m").where() == f"{FILE}, line 3, column 18"
    assert CompileProblem(FILE, 3, None, "x", "m").where() == f"{FILE}, line 3"
    assert CompileProblem(FILE, None, None, "", "m").where() == FILE
    assert CompileProblem(FILE, 3, 18, "x", "m").as_dict() == {"file": FILE, "line": 3, "column": 18, "text": "x",
                                                                "message": "m"}


def test_what_other_pythons_raise_is_reported_the_same_way() -> None:
    # NUL bytes are a ValueError on some Pythons (a SyntaxError on this one): the line is found all the same.
    from grader.intake.compile_check import _problem

    problem = _problem(FILE, b"x = 1\ny = 2\0\n", ValueError("source code string cannot contain null bytes"))
    assert problem == CompileProblem(FILE, 2, None, "y = 2\\x00", "source code string cannot contain null bytes")
    assert _problem(FILE, b"x = 1\n", OverflowError()).message == "OverflowError"


def test_a_file_seen_before_is_not_compiled_again(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []

    def counting(source: bytes, path: str, *args: object, **kwargs: object) -> object:
        compiled.append(path)
        return compile(source, path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(compile_check, "compile", counting, raising=False)
    source = b"x = 1  # " + secrets.token_hex(8).encode() + b"\n"
    for _ in range(3):
        assert check_source("tinytorch/a.py", source) is None
        assert check_source("tinytorch/b.py", source + b"def f(:\n") == CompileProblem(
            "tinytorch/b.py", 2, 7, "def f(:", "invalid syntax")
    # The same bytes at another path are another entry: a problem names its file.
    assert check_source("tinytorch/c.py", source) is None
    assert compiled == ["tinytorch/a.py", "tinytorch/b.py", "tinytorch/c.py"]
    # Past MAX_REMEMBERED entries, the least recently used is forgotten (and compiled again when seen again).
    monkeypatch.setattr(compile_check, "MAX_REMEMBERED", 2)
    check_source("tinytorch/d.py", source)
    check_source("tinytorch/a.py", source)
    assert compiled[3:] == ["tinytorch/d.py", "tinytorch/a.py"]
