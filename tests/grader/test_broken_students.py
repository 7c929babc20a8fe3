"""Through the real grader (intake, sandbox, checks outside, rubric, diagnostics), every broken student
package gets exactly its expected score and a diagnostic naming the module at fault.

The expectations are the suites' own (tests/fixtures/students/expected.py): this test proves the sandboxed
path grades like the plain one. Every fixture is graded under bubblewrap; the reference and a few fixtures
also under Docker, so both sandboxes are shown to agree.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from capstone_tests.editions import EDITIONS
from capstone_tests.registry import SUITES
from capstone_tests.rubric import load_rubric
from grader.grading.grade import GradeOptions, grade
from grader.grading.report import public_report
from grader.intake import unpack_submission
from sandbox import get_sandbox
from tests.fixtures.students import build, expected

SEED = 20251201
OPTIONS = GradeOptions(suites=list(SUITES), seed=SEED, timeout_per_test_s=60.0)
ON_DOCKER_TOO = ("reference", "optimizer_memoryview", "missing_spatial")
# The cause each key fixture's diagnostic must name, beyond the module (see grader/diagnostics.py).
CAUSES = {
    "optimizer_memoryview": ("06_optimizers::test_sgd_plain",
                             "Module 06 optimizers: SGD.step in tinytorch/core/optimizers.py"),
    "object_dtype_grad": ("05_autograd::test_gradient_dtype_float32", "object"),
    "missing_spatial": ("09_spatial::test_conv2d_values", "Module 09 spatial: module 09 (spatial) not found"),
    "softmax_unstable": ("02_activations::test_softmax_large_logits_stable", "NaN or infinity"),
    "zero_grad_missing": ("06_optimizers::test_zero_grad_clears", "zero_grad"),
    "linear_bias_detached": ("capstone::test_mlp_architecture_integration", "Hint: forward must use self.bias itself"),
    "conv_no_backward": ("capstone::test_cnn_architecture_integration", "Hint: Conv2d.forward must return a Tensor"),
    "gelu_detached": ("capstone::test_deep_network_gradient_flow", "Module 02 activations: GELU alone"),
}


@pytest.fixture(scope="session")
def graded(tmp_path_factory: pytest.TempPathFactory, sandbox_ready: None) -> dict[tuple[str, str], dict[str, Any]]:
    """Every fixture graded once per sandbox kind it is listed for, two at a time."""
    built = tmp_path_factory.mktemp("students")
    packages = build.build_all(built)
    packages["reference"] = build.build_reference(built)
    jobs = [(name, "bwrap") for name in sorted(packages)] + [(name, "docker") for name in ON_DOCKER_TOO]

    def run(job: tuple[str, str]) -> dict[str, Any]:
        name, kind = job
        root = tmp_path_factory.mktemp(f"sub-{name}-{kind}") / "submission"
        submission = unpack_submission(packages[name], root)
        root.parent.chmod(0o755)
        return public_report(grade(submission.root, get_sandbox(kind), OPTIONS))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(run, jobs), strict=True))


def _points_lost(failing: set[str]) -> float:
    rubrics = load_rubric()
    return sum(t.points for suite in SUITES for t in rubrics[suite].tests
               if rubrics[suite].counts_toward_grade and t.counted and f"{suite}::{t.name}" in failing)


def _not_passed(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{t['suite']}::{t['name']}": t for t in report["tests"] if t["outcome"] != "passed"}


@pytest.mark.parametrize("kind", ["bwrap", "docker"])
def test_reference_scores_full_marks(graded: dict[tuple[str, str], dict[str, Any]], kind: str) -> None:
    report = graded[("reference", kind)]
    assert not _not_passed(report)
    assert report["score"] == report["max_score"] > 0
    assert report["sandbox"]["kind"] == kind and report["sandbox"]["image_id"]
    assert report["sandbox"]["numpy"] and report["sandbox"]["python"]


@pytest.mark.parametrize("name", sorted(expected.EXPECTED))
def test_fixture_gets_its_score_and_diagnostics(graded: dict[tuple[str, str], dict[str, Any]], name: str) -> None:
    expectation = expected.EXPECTED[name]
    for kind in ("bwrap", "docker") if name in ON_DOCKER_TOO else ("bwrap",):
        report = graded[(name, kind)]
        failing = _not_passed(report)
        unexpected = set(failing) - expectation.fails - set(expectation.sometimes)
        missed = expectation.fails - set(failing)
        assert not unexpected and not missed, f"{name} on {kind}: unexpected {unexpected}, missed {missed}"
        assert report["score"] == pytest.approx(report["max_score"] - _points_lost(set(failing)))
        # Numbers and names as the package's edition has them (expected.py speaks the suites' December 2025 ones).
        edition = EDITIONS[report["edition"]]
        assert edition.key == build.FIXTURES_BY_NAME[name].edition
        own = [t for test_id, t in failing.items() if test_id.startswith(expectation.suite + "::")]
        assert own or expectation.suite_gap, f"{name}: no test of its own suite {expectation.suite} failed"
        for test in own:
            assert test["diagnostic"].startswith(edition.label(int(expectation.suite[:2]))), (
                f"{name}: {test['name']}: {test['diagnostic'][:300]}")
        # The module that defines the broken code, where expected.py names it (capstone tests blame it too).
        for test_id, test in failing.items():
            want = expectation.modules.get(test_id)
            if want is None and test_id.startswith("capstone::"):
                want = expectation.modules.get(expected.EVERY_CAPSTONE_TEST)
            if want is not None:
                assert test["module"] == edition.number(want), f"{name}: {test_id}: {test['diagnostic'][:300]}"
                assert test["diagnostic"].startswith(f"{edition.label(want)}: "), (
                    f"{name}: {test_id}: {test['diagnostic'][:300]}")
            for wanted in expectation.diagnostics.get(expected.EVERY_FAILING_TEST, ()) + \
                    expectation.diagnostics.get(test_id, ()):
                assert wanted in test["diagnostic"], f"{name}: {test_id}: {test['diagnostic'][:500]}"
        if name in CAUSES:
            test_id, cause = CAUSES[name]
            assert cause in failing[test_id]["diagnostic"], failing[test_id]["diagnostic"][:500]


def test_every_fixture_has_an_expectation() -> None:
    assert set(expected.EXPECTED) == {f.name for f in build.FIXTURES}


def test_reports_are_json_safe(graded: dict[tuple[str, str], dict[str, Any]]) -> None:
    for report in graded.values():
        json.loads(json.dumps(report))
