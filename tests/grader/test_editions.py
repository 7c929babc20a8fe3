"""A package laid out as the course's current edition reads its own edition's module numbers and names.

The current edition (harvard-edge/cs249r_book) moved the data loader ahead of autograd and renamed three export
paths; the suites find the code either way, and a student of that edition whose autograd is broken must read
"Module 06 autograd", as their course calls it, not the December 2025 "Module 05".
"""

from __future__ import annotations

from pathlib import Path

from capstone_tests.editions import CURRENT, DECEMBER_2025, detect_in
from grader.grading.grade import GradeOptions, grade
from grader.grading.report import public_report
from sandbox import get_sandbox
from tests.fixtures.students import build

SEED = 20251201


def test_the_edition_shows_in_the_file_names(tmp_path: Path) -> None:
    assert detect_in(build.build_reference(tmp_path)) is DECEMBER_2025
    assert detect_in(build.build_reference(tmp_path, "current", build.CURRENT)) is CURRENT


def test_a_broken_autograd_is_named_in_the_students_edition(tmp_path: Path, sandbox_ready: None) -> None:
    root = build.build_fixture(build.FIXTURES_BY_NAME["current_edition_broken_autograd"], tmp_path)
    options = GradeOptions(suites=["05_autograd"], seed=SEED, only=frozenset({"test_broadcast_gradient"}))
    report = public_report(grade(root, get_sandbox("bwrap"), options))
    assert report["edition"] == "current"
    [test] = [t for t in report["tests"] if t["name"] == "test_broadcast_gradient"]
    assert test["outcome"] == "failed"
    assert test["module"] == 6 and test["diagnostic"].startswith("Module 06 autograd: ")

    stated = GradeOptions(suites=["05_autograd"], seed=SEED, only=options.only, edition="2025-12")
    [test] = [t for t in public_report(grade(root, get_sandbox("bwrap"), stated))["tests"]
              if t["name"] == "test_broadcast_gradient"]
    assert test["module"] == 5 and test["diagnostic"].startswith("Module 05 autograd: ")


def test_current_edition_reference_scores_full_marks(tmp_path: Path, sandbox_ready: None) -> None:
    """The same code at the current edition's paths loses nothing: the suites find it there."""
    report = public_report(grade(build.build_reference(tmp_path, "current", build.CURRENT), get_sandbox("bwrap"),
                                 GradeOptions(suites=["capstone", "13_transformers", "19_benchmarking"], seed=SEED)))
    assert report["score"] == report["max_score"], [t for t in report["tests"] if t["outcome"] != "passed"]
