"""Which graded tests exist: each check registers itself, and finds its probe by sharing its name.

A suite is one checks module (`checks/<module>.py`) and one probes module (`probes/<module>.py`).
Probes are the only part imported inside the sandbox; checks stay on the trusted side.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .resolver import Resolver
from .verdict import Verdict

Probe = Callable[[Resolver, dict[str, Any]], dict[str, Any]]
Check = Callable[[dict[str, Any], dict[str, Any]], Verdict | None]
ChallengeMaker = Callable[[np.random.Generator], dict[str, Any]]
Measure = Literal["time", "memory"]

# suite name → the module name under probes/ and checks/
SUITES: dict[str, str] = {
    "capstone": "capstone",
    "01_tensor": "m01_tensor",
    "02_activations": "m02_activations",
    "03_layers": "m03_layers",
    "04_losses": "m04_losses",
    "05_autograd": "m05_autograd",
    "06_optimizers": "m06_optimizers",
    "07_training": "m07_training",
    "08_dataloader": "m08_dataloader",
    "09_spatial": "m09_spatial",
    "10_tokenization": "m10_tokenization",
    "11_embeddings": "m11_embeddings",
    "12_attention": "m12_attention",
    "13_transformers": "m13_transformers",
    "14_profiling": "m14_profiling",
    "15_quantization": "m15_quantization",
    "16_compression": "m16_compression",
    "17_memoization": "m17_memoization",
    "18_acceleration": "m18_acceleration",
    "19_benchmarking": "m19_benchmarking",
}


@dataclass(frozen=True)
class GradedTest:
    suite: str
    name: str
    module: int | None  # the course module a failure points at, when one test covers one module
    check: Check
    make_challenge: ChallengeMaker
    measure: Measure | None  # P7: a figure the trusted side measures from outside the probe
    uses_reference: bool = False  # the check asks harness.on_reference for its own probe and challenge

    @property
    def probe(self) -> Probe:
        return probe_for(self.suite, self.name)

    @property
    def id(self) -> str:
        return f"{self.suite}::{self.name}"


_REGISTERED: dict[str, dict[str, GradedTest]] = {}


def _no_parameters(rng: np.random.Generator) -> dict[str, Any]:
    return {}


def check(
    *,
    module: int | None = None,
    challenge: ChallengeMaker = _no_parameters,
    measure: Measure | None = None,
    uses_reference: bool = False,
) -> Callable[[Check], Check]:
    """Register a check; its function name is the test's name and its probe's name. `uses_reference`: the check
    compares with the reference's run of the same probe and challenge (harness.on_reference), which the grader
    then computes ahead, while the student's sandbox works."""

    def register(function: Check) -> Check:
        suite = _suite_of(function.__module__)
        test = GradedTest(suite, function.__name__, module, function, challenge, measure, uses_reference)
        _REGISTERED.setdefault(suite, {})[test.name] = test
        return function

    return register


def _suite_of(checks_module: str) -> str:
    short = checks_module.rsplit(".", 1)[-1]
    for suite, module_name in SUITES.items():
        if module_name == short:
            return suite
    raise LookupError(f"{checks_module} is not a registered suite module")


def load_suite(suite: str) -> list[GradedTest]:
    if suite not in SUITES:
        raise LookupError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")
    importlib.import_module(f"capstone_tests.checks.{SUITES[suite]}")
    return list(_REGISTERED.get(suite, {}).values())


def get_test(suite: str, name: str) -> GradedTest:
    tests = {t.name: t for t in load_suite(suite)}
    if name not in tests:
        raise LookupError(f"suite {suite!r} has no test {name!r}")
    return tests[name]


def probe_for(suite: str, name: str) -> Probe:
    probes = importlib.import_module(f"capstone_tests.probes.{SUITES[suite]}")
    probe = getattr(probes, name, None)
    if probe is None:
        raise LookupError(f"probes/{SUITES[suite]}.py has no probe {name!r}")
    return probe
