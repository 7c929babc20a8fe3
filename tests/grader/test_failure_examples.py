"""A broken package's failed test carries a worked example in its public report (evidence.example): the input the
grader chose, what the course's solution gives for it and what the broken package gives, at the row where they
differ most.

Each fixture is graded through the real grader (bubblewrap, the check outside the sandbox, diagnostics, public
report). The values the example must show are computed here, independently: the input is rebuilt from the test's
challenge, and the same few lines of TinyTorch code run on it in a fresh interpreter, once in a plain copy of the
reference and once in the broken package.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from capstone_tests.harness import make_challenge
from capstone_tests.probes import m15_quantization, m18_acceleration
from capstone_tests.registry import get_test
from grader.grading.grade import GradeOptions, grade
from grader.grading.report import public_report
from sandbox import get_sandbox
from tests.fixtures.students import build

SEED = 20251201

# Run in the package under test, with `inputs` (float32 arrays, ints as they are) read from stdin; sets `result`.
PRELUDE = """
import json, sys
import numpy as np
from tinytorch.core.tensor import Tensor
inputs = {k: v if isinstance(v, int) else np.asarray(v, dtype=np.float32) for k, v in json.load(sys.stdin).items()}
"""


@dataclass(frozen=True)
class Case:
    suite: str
    test: str
    inputs: Callable[[dict[str, Any]], dict[str, Any]]  # the probe's input, rebuilt from the challenge
    code: str  # what the probe asks of the package, on those inputs


def _f32(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


CASES: dict[str, Case] = {
    "mse_not_mean": Case(
        "04_losses", "test_mse_value",
        lambda c: {"predictions": _f32(c["predictions"]), "targets": _f32(c["targets"])},
        "from tinytorch.core.losses import MSELoss\n"
        "result = MSELoss()(Tensor(inputs['predictions']), Tensor(inputs['targets'])).data"),
    "relu_backward_wrong": Case(
        "02_activations", "test_relu_sigmoid_gelu_softmax_gradients",
        lambda c: {"x": _f32(c["x"]), "c": _f32(c["c"])},
        "from tinytorch.core.activations import ReLU\nfrom tinytorch.core.autograd import enable_autograd\n"
        "enable_autograd()\nx = Tensor(inputs['x'], requires_grad=True)\n"
        "(ReLU()(x) * Tensor(inputs['c'])).sum().backward()\nresult = x.grad"),
    "tiled_matmul_drops_remainder": Case(
        "18_acceleration", "test_tiled_matmul_uneven_tiles",
        lambda c: dict(zip(("a", "b"), m18_acceleration.matrices(c), strict=True)) | {"tile_size": c["tile"]},
        "from tinytorch.perf.acceleration import tiled_matmul\n"
        "result = tiled_matmul(Tensor(inputs['a']), Tensor(inputs['b']), inputs['tile_size']).data"),
    "quant_wrong_range": Case(
        "15_quantization", "test_quantize_int8_scale_matches_range",
        lambda c: {"x": m15_quantization.data(c)},
        "from tinytorch.perf.quantization import quantize_int8\n"
        "_, result, _ = quantize_int8(Tensor(inputs['x']))"),
}


def run_in(root: Path, code: str, inputs: dict[str, Any]) -> np.ndarray:
    """`code` run in a fresh interpreter that imports the package under `root` as plain `tinytorch`."""
    program = PRELUDE + code + "\nprint(json.dumps(np.asarray(result, dtype=np.float64).tolist()))"
    plain = {k: v if isinstance(v, int) else np.asarray(v).tolist() for k, v in inputs.items()}
    done = subprocess.run([sys.executable, "-c", program], input=json.dumps(plain), capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root)}, cwd=root, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return np.asarray(json.loads(done.stdout), dtype=np.float64)


def window(shown: Any, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(what the example shows, the same entries of `value`): a number, a whole array or the row named by `at`."""
    if not isinstance(shown, dict):
        assert value.size == 1, f"a number shown for an array of shape {value.shape}"
        return np.asarray(shown, dtype=np.float64), value.reshape(())
    assert shown["shape"] == list(value.shape)
    index: tuple[int | slice, ...] = ()
    if "at" in shown:
        parts = re.fullmatch(r"\[(.*)\]", shown["at"])
        assert parts is not None
        for part in parts[1].split(", "):
            low, _, high = part.partition(":")
            index += (slice(int(low or 0), int(high) if high else None),) if ":" in part else (int(part),)
    return np.asarray(shown["values"], dtype=np.float64), value[index]


def assert_shows(shown: Any, value: np.ndarray) -> None:
    got, want = window(shown, value)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # the example keeps 6 significant digits


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, sandbox_ready: None) -> dict[str, tuple[dict[str, Any], Path]]:
    """Each fixture's one failing test, as the public report shows it, and the fixture's folder."""
    built = tmp_path_factory.mktemp("students")

    def run(name: str) -> tuple[dict[str, Any], Path]:
        case = CASES[name]
        root = build.build_fixture(build.FIXTURES_BY_NAME[name], built)
        options = GradeOptions(suites=[case.suite], seed=SEED, only=frozenset({case.test}))
        [test] = [t for t in public_report(grade(root, get_sandbox("bwrap"), options))["tests"]
                  if t["name"] == case.test]
        return test, root

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build.build_reference(tmp_path_factory.mktemp("reference"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_failed_test_shows_input_expected_and_got(name: str, graded: dict[str, tuple[dict[str, Any], Path]],
                                                      reference: Path) -> None:
    case = CASES[name]
    test, broken = graded[name]
    assert test["outcome"] == "failed", test
    example = test["evidence"]["example"]
    json.dumps(example, allow_nan=False)  # stored and served as strict JSON

    inputs = case.inputs(make_challenge(get_test(case.suite, case.test), SEED))
    expected, got = run_in(reference, case.code, inputs), run_in(broken, case.code, inputs)
    assert not np.allclose(expected, got)  # the bug shows on this input
    assert_shows(example["expected"], expected)
    assert_shows(example["got"], got)
    for key, value in inputs.items():
        shown = example["input"][key]
        if isinstance(value, int):
            assert shown == value
        else:
            assert_shows(shown, np.asarray(value, dtype=np.float64))
    if expected.ndim:  # the row shown is the one holding the largest difference
        shown_expected, shown_got = window(example["expected"], expected)[1], window(example["got"], got)[1]
        assert np.abs(shown_got - shown_expected).max() == np.abs(got - expected).max()
