"""The queue, the worker and the submissions package import each other in one direction only: the worker (the
task's entry point) imports the queue and the submissions' task body; senders import grader.queue; nothing but
the entry point imports grader.worker. Every module of grader/ imports on its own in a fresh interpreter (an import
cycle shows as an ImportError there, whatever order a test run happened to import things in), and the import
graph read from the source (function-level imports included) has no cycle among these modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PACKAGE = REPO / "grader"
# `grader worker` (grader.serve.run_worker) starts the Celery worker from the worker module.
ENTRY_POINTS = {"grader.serve"}
# Not this change's files: they read the broker through grader.worker's re-export until moved to grader.queue.
NOT_YET_MOVED: set[str] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "migrations" not in p.parts}


def imports_of(name: str, path: Path) -> set[str]:
    """The grader modules `name` imports anywhere in its source (module level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from . import status` imports the submodule; `from .x import f`, x
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    # A module's own packages are imported before it, whatever it says: not an edge that can close a cycle.
    ancestors = {name.rsplit(".", depth)[0] for depth in range(1, name.count(".") + 1)}
    return {target for target in found if target in MODULES and target != name and target not in ancestors}


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def in_scope(name: str) -> bool:
    return name in ("grader.worker", "grader.queue") or name.startswith("grader.submissions")


def test_no_import_cycle_among_the_queue_the_worker_and_submissions() -> None:
    graph = {name: {t for t in targets if in_scope(t)} for name, targets in GRAPH.items() if in_scope(name)}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target):], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                walk(target, [*path, target])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            walk(start, [start])


def test_only_the_entry_point_imports_the_worker() -> None:
    importers = {name for name, targets in GRAPH.items() if "grader.worker" in targets}
    assert importers - NOT_YET_MOVED == ENTRY_POINTS
    assert not {name for name in importers if in_scope(name)}  # the queue and submissions never do


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    def attempt(name: str) -> tuple[str, str] | None:
        done = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=REPO, capture_output=True, text=True,
                              timeout=120)
        return None if done.returncode == 0 else (name, (done.stderr.strip() or done.stdout.strip())[-500:])

    with ThreadPoolExecutor(max_workers=4) as pool:
        # __main__ runs the CLI when imported: it is run, not imported.
        names = sorted(name for name in MODULES if not name.endswith(".__main__"))
        failures = [failure for failure in pool.map(attempt, names) if failure]
    assert not failures, failures


def test_the_graph_reads_function_level_imports() -> None:
    # dispatch sends through grader.queue from inside its functions: the walk must see that edge.
    assert "grader.queue" in GRAPH["grader.submissions.dispatch"]
    assert {"grader.queue", "grader.submissions.tasks", "grader.submissions.status"} <= GRAPH["grader.worker"]
