"""The resolver turns a missing module into a diagnostic and accepts every edition's paths."""

import sys
from pathlib import Path

import pytest

from capstone_tests.resolver import REFERENCE, ModuleMissing, Resolver, module_of_file


def _package(root: Path, name: str, files: dict[str, str]) -> str:
    for relative, text in {"__init__.py": "", **files}.items():
        path = root / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    sys.path.insert(0, str(root))
    return name


def test_reference_resolves_every_contract_name() -> None:
    tt = Resolver(REFERENCE)
    assert tt.Linear.__name__ == "Linear"
    assert tt.edition() == "December 2025 edition (MLSysBook/TinyTorch)"


def test_missing_module_names_number_name_and_error(tmp_path: Path) -> None:
    tt = Resolver(_package(tmp_path, "tt_missing", {"core/__init__.py": ""}))
    expected = r"module 09 \(spatial\) not found: No module named 'tt_missing.core.spatial'"
    with pytest.raises(ModuleMissing, match=expected):
        tt.get("Conv2d")


def test_module_that_fails_inside_is_reported_with_its_own_error(tmp_path: Path) -> None:
    files = {"core/__init__.py": "", "core/optimizers.py": "x = undefined_name\n"}
    tt = Resolver(_package(tmp_path, "tt_broken", files))
    with pytest.raises(ModuleMissing, match=r"module 06 \(optimizers\) not found: NameError: name 'undefined_name'"):
        tt.get("SGD")


def test_missing_name_in_present_module(tmp_path: Path) -> None:
    tt = Resolver(_package(tmp_path, "tt_partial", {"core/__init__.py": "", "core/optimizers.py": "SGD = 1\n"}))
    assert tt.SGD == 1
    with pytest.raises(ModuleMissing, match="has no name 'Adam'"):
        tt.get("Adam")


def test_later_edition_paths_are_found(tmp_path: Path) -> None:
    tt = Resolver(_package(tmp_path, "tt_later", {
        "core/__init__.py": "", "core/transformers.py": "GPT = 'gpt'\n",
        "perf/__init__.py": "", "perf/benchmarking.py": "Benchmark = 'b'\n", "olympics.py": "BenchmarkReport = 'r'\n",
    }))
    assert (tt.GPT, tt.Benchmark, tt.BenchmarkReport) == ("gpt", "b", "r")
    assert tt.edition() == "current edition (harvard-edge/cs249r_book)"


def test_module_of_file_maps_student_paths() -> None:
    assert module_of_file("/sub/tinytorch/core/optimizers.py") == 6
    assert module_of_file("/sub/proj/tinytorch/perf/quantization.py") == 15
    assert module_of_file("/sub/tinytorch/olympics.py") == 20
    assert module_of_file("/usr/lib/python3/dist-packages/numpy/core/fromnumeric.py") is None
