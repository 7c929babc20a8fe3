"""The suites have the shape the course asks for, and the rubric matches them test for test."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from capstone_tests.registry import SUITES, load_suite
from capstone_tests.rubric import load_rubric

SUITES_DIR = Path(__file__).resolve().parents[2] / "capstone_tests"
CAPSTONE = {
    1: ["test_complete_ml_pipeline_end_to_end"],
    2: ["test_mlp_architecture_integration", "test_cnn_architecture_integration",
        "test_transformer_architecture_integration"],
    3: ["test_xor_convergence", "test_binary_classification_convergence"],
    4: ["test_inference_pipeline"],
    5: ["test_quantization_pipeline", "test_pruning_pipeline", "test_combined_optimization_deployment"],
    6: ["test_deep_network_gradient_flow", "test_gradient_accumulation_correctness"],
    7: ["test_memory_efficiency", "test_training_performance"],
}
MINIMUM = {"06_optimizers": 7, "12_attention": 9}


def test_capstone_has_the_fourteen_tests_in_seven_priorities() -> None:
    rubric = load_rubric()["capstone"]
    by_priority: dict[int, list[str]] = {}
    for item in rubric.tests:
        assert item.priority is not None
        by_priority.setdefault(item.priority, []).append(item.name)
    assert by_priority == CAPSTONE
    points = {p: sum(t.points for t in rubric.tests if t.priority == p) for p in CAPSTONE}
    assert max(points, key=lambda p: points[p]) == 1  # the whole pipeline weighs most
    assert rubric.max_points == 100


@pytest.mark.parametrize("suite", [s for s in SUITES if s != "capstone"])
def test_module_suite_size(suite: str) -> None:
    assert len(load_suite(suite)) >= MINIMUM.get(suite, 6)


@pytest.mark.parametrize("suite", list(SUITES))
def test_plain_pytest_file_mirrors_the_registry(suite: str) -> None:
    """Every registered test has its plain-pytest wrapper of the same name, and nothing else is there."""
    name = "test_capstone_integration.py" if suite == "capstone" else f"test_{suite}.py"
    tree = ast.parse((SUITES_DIR / name).read_text())
    wrappers = [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
    assert wrappers == [t.name for t in load_suite(suite)]


def test_every_suite_is_in_the_rubric() -> None:
    assert set(load_rubric()) == set(SUITES)


def _calls_on_reference(function: object) -> bool:
    """Whether the check, or a function of its own checks module that it calls, asks harness.on_reference."""
    import inspect

    module = inspect.getmodule(function)
    seen: set[str] = set()
    pending = [getattr(function, "__name__", "")]
    while pending:
        name = pending.pop()
        target = getattr(module, name, None)
        if name in seen or not callable(target) or getattr(target, "__module__", None) != module.__name__:
            continue
        seen.add(name)
        tree = ast.parse(inspect.getsource(target))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id == "on_reference":
                    return True
                pending.append(node.func.id)
    return False


@pytest.mark.parametrize("suite", list(SUITES))
def test_checks_that_ask_the_reference_say_so(suite: str) -> None:
    """The grader computes ahead only what checks registered with uses_reference will ask of the reference (the
    rest would take a core from the student's sandbox for nothing); a check that asks without saying so still
    works, but waits for the reference's run."""
    for test in load_suite(suite):
        assert test.uses_reference == _calls_on_reference(test.check), test.id
