"""Plain-pytest form of the graded suites: `pytest capstone_tests/ [--tinytorch DIR] [--seed N]`.

Each test runs its probe against the importable `tinytorch` and its check in the same process. The
grader never uses this form; it is for students on their own machines and for our own CI.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

# One BLAS thread, as in the grader's sandboxes, before numpy loads: a multi-threaded BLAS makes small matmuls
# (the course's own training step is full of them) spin threads, and P7 then timed the course's correct solution
# at over 300x the reference on a many-core machine.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinytorch grading")
    group.addoption("--tinytorch", default=os.environ.get("TINYTORCH_PATH"),
                    help="folder that contains the tinytorch package to grade (default: whatever imports)")
    group.addoption("--seed", type=int, default=None,
                    help="challenge seed (default: a random one, printed in the header)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "priority(n): capstone priority, 1 (highest) to 7")
    folder = config.getoption("--tinytorch")
    if folder:
        path = Path(folder).resolve()
        if not (path / "tinytorch").is_dir():  # with or without __init__.py (a namespace package imports too)
            raise pytest.UsageError(f"--tinytorch {folder}: no tinytorch/ folder in that folder")
        sys.path.insert(0, str(path))
    else:
        import importlib.util

        if importlib.util.find_spec("tinytorch") is None:
            raise pytest.UsageError("no tinytorch package is importable: pass --tinytorch DIR, the folder that "
                                    "contains your tinytorch/ (or set TINYTORCH_PATH)")
    # Repo root, so the reference imports as tinytorch_reference.tinytorch beside the student's package.
    sys.path.append(str(Path(__file__).resolve().parent.parent))
    if config.getoption("--seed") is None:
        config.option.seed = random.SystemRandom().randrange(2**31)


def pytest_report_header(config: pytest.Config) -> str:
    return f"tinytorch challenge seed: {config.getoption('--seed')} (rerun with --seed to repeat)"


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    return int(request.config.getoption("--seed"))
