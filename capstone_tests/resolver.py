"""One way to import a student's package: contract names → candidate module paths, first hit wins.

A missing module or name becomes `ModuleMissing`, which the harness turns into a failed test with the
diagnostic "module NN (name) not found: <import error>", never an ImportError that kills a suite.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class CourseModule:
    number: int
    name: str
    paths: tuple[str, ...]  # relative to the package root; later editions' aliases after the first
    names: tuple[str, ...]


# The contract of docs/student-api.md, in the December 2025 numbering.
COURSE_MODULES: tuple[CourseModule, ...] = (
    CourseModule(1, "tensor", ("core.tensor",), ("Tensor",)),
    CourseModule(2, "activations", ("core.activations",), ("ReLU", "Sigmoid", "Tanh", "GELU", "Softmax")),
    CourseModule(3, "layers", ("core.layers",), ("Layer", "Linear", "Dropout", "Sequential")),
    CourseModule(4, "losses", ("core.losses",),
                 ("MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss", "log_softmax")),
    CourseModule(5, "autograd", ("core.autograd",), ("enable_autograd",)),
    CourseModule(6, "optimizers", ("core.optimizers",), ("SGD", "Adam", "AdamW")),
    CourseModule(7, "training", ("core.training",), ("Trainer", "CosineSchedule", "clip_grad_norm")),
    CourseModule(8, "dataloader", ("core.dataloader",), ("Dataset", "TensorDataset", "DataLoader")),
    CourseModule(9, "spatial", ("core.spatial",), ("Conv2d", "MaxPool2d", "AvgPool2d")),
    CourseModule(10, "tokenization", ("core.tokenization",), ("CharTokenizer", "BPETokenizer")),
    CourseModule(11, "embeddings", ("core.embeddings",), ("Embedding", "PositionalEncoding")),
    CourseModule(12, "attention", ("core.attention",), ("scaled_dot_product_attention", "MultiHeadAttention")),
    CourseModule(13, "transformers", ("core.transformer", "core.transformers"),
                 ("LayerNorm", "MLP", "TransformerBlock", "GPT", "create_causal_mask")),
    CourseModule(14, "profiling", ("perf.profiling",), ("Profiler",)),
    CourseModule(15, "quantization", ("perf.quantization",),
                 ("quantize_int8", "dequantize_int8", "QuantizedLinear", "quantize_model")),
    CourseModule(16, "compression", ("perf.compression",),
                 ("magnitude_prune", "structured_prune", "measure_sparsity")),
    CourseModule(17, "memoization", ("perf.memoization",), ("KVCache",)),
    CourseModule(18, "acceleration", ("perf.acceleration",), ("vectorized_matmul", "tiled_matmul", "fused_gelu")),
    CourseModule(19, "benchmarking", ("bench", "perf.benchmarking"), ("Benchmark", "BenchmarkResult")),
    CourseModule(20, "capstone", ("capstone", "olympics"), ("BenchmarkReport", "generate_submission")),
)
MODULES_BY_NUMBER = {m.number: m for m in COURSE_MODULES}
MODULE_OF_NAME = {name: m for m in COURSE_MODULES for name in m.names}


class ModuleMissing(Exception):
    """A contract module or name the package does not provide."""

    def __init__(self, module: CourseModule, reason: str) -> None:
        self.module = module
        self.reason = reason
        super().__init__(f"module {module.number:02d} ({module.name}) not found: {reason}")


class Resolver:
    """Imports contract names from one package root (`tinytorch`, or the reference beside it)."""

    def __init__(self, package: str = "tinytorch") -> None:
        self.package = package
        self._modules: dict[int, ModuleType] = {}
        self.found_paths: dict[int, str] = {}

    def module(self, number: int) -> ModuleType:
        if number in self._modules:
            return self._modules[number]
        course_module = MODULES_BY_NUMBER[number]
        errors = []
        for path in course_module.paths:
            try:
                loaded = importlib.import_module(f"{self.package}.{path}")
            except ModuleNotFoundError as error:
                # Only "this path does not exist" moves on to the next edition's path; a module that
                # exists but fails inside is reported with its own error.
                if error.name and f"{self.package}.{path}".startswith(error.name):
                    errors.append(f"No module named '{self.package}.{path}'")
                    continue
                raise ModuleMissing(course_module, f"{type(error).__name__}: {error}") from error
            except Exception as error:
                raise ModuleMissing(course_module, f"{type(error).__name__}: {error}") from error
            self._modules[number] = loaded
            self.found_paths[number] = path
            return loaded
        raise ModuleMissing(course_module, "; ".join(errors))

    def get(self, name: str) -> Any:
        """A contract name, e.g. `get("Linear")`, from whichever module the contract puts it in."""
        course_module = MODULE_OF_NAME[name]
        loaded = self.module(course_module.number)
        try:
            return getattr(loaded, name)
        except AttributeError as error:
            where = f"{self.package}.{self.found_paths[course_module.number]}"
            raise ModuleMissing(course_module, f"{where} has no name {name!r}") from error

    def __getattr__(self, name: str) -> Any:
        if name in MODULE_OF_NAME:
            return self.get(name)
        raise AttributeError(name)

    def enable_autograd(self) -> None:
        """Import the autograd module (that alone turns it on) and call enable_autograd() if present."""
        autograd = self.module(5)
        enable = getattr(autograd, "enable_autograd", None)
        if callable(enable):
            enable()

    # The probes' extras: the same calls work on a RemoteResolver, where the objects live in another process.
    def new(self, container: str, *args: Any, **kwargs: Any) -> Any:
        """One of the harness's containers (boundary/inside/adaptors.py), built beside the student's objects."""
        from .boundary.inside.adaptors import HELPERS

        return HELPERS[container](*args, **kwargs)

    def seed_numpy(self, seed: int) -> None:
        """Seed numpy's global generator where the student's code draws from it."""
        import numpy as np

        np.random.seed(seed)

    def settle(self) -> None:
        """Every call so far has run (here: at once), so a probe's try/except sees its errors in place."""

    def materialize(self, value: Any) -> Any:
        return value

    def edition(self) -> str:
        """Which edition's paths were found (editions.py)."""
        from .editions import detect

        return detect(self.found_paths).title


STUDENT = "tinytorch"
REFERENCE = "tinytorch_reference.tinytorch"


def module_of_file(path: str) -> int | None:
    """The course module a source file of a tinytorch package implements, from its path."""
    parts = path.replace("\\", "/").split("/")
    if "tinytorch" not in parts:
        return None
    relative = parts[len(parts) - 1 - parts[::-1].index("tinytorch") + 1:]
    dotted = ".".join(relative).removesuffix(".py").removesuffix(".__init__")
    for module in COURSE_MODULES:
        if dotted in module.paths:
            return module.number
    return None
