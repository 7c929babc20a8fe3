"""The course's editions: the same twenty modules, numbered and named differently.

The suites speak the December 2025 numbering (resolver.COURSE_MODULES) throughout; what a student reads is
translated into the numbering of the edition their package follows, so a student of the current edition whose
autograd is broken reads "Module 06 autograd", as their course calls it, not "Module 05".

Which edition a package follows shows in where it keeps the modules later editions moved (core.transformers,
perf.benchmarking, olympics): read from its file names (nothing of it runs for that), or from the paths the
resolver found. A package that has none of them is taken to be of the December 2025 edition unless its
assignment says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .resolver import MODULES_BY_NUMBER


@dataclass(frozen=True)
class Edition:
    key: str
    title: str
    # December 2025 number -> (number, name) in this edition, for the modules that moved or were renamed
    renumbered: dict[int, tuple[int, str]] = field(default_factory=dict)

    def number(self, module: int) -> int:
        return self.renumbered.get(module, (module, ""))[0]

    def label(self, module: int) -> str:
        """"Module 06 autograd": how this edition's students know the module (December 2025 number given)."""
        number, name = self.renumbered.get(module, (module, MODULES_BY_NUMBER[module].name))
        return f"Module {number:02d} {name}"


DECEMBER_2025 = Edition("2025-12", "December 2025 edition (MLSysBook/TinyTorch)")
# harvard-edge/cs249r_book, tinytorch/src: the data loader moved ahead of autograd, memoization after acceleration.
CURRENT = Edition("current", "current edition (harvard-edge/cs249r_book)", {
    5: (6, "autograd"), 6: (7, "optimizers"), 7: (8, "training"), 8: (5, "dataloader"),
    9: (9, "convolutions"), 17: (18, "memoization"), 18: (17, "acceleration"),
})
EDITIONS = {edition.key: edition for edition in (DECEMBER_2025, CURRENT)}
# Modules whose export path differs between editions: any later path found means the current edition.
TELLING_MODULES = (13, 19, 20)


def detect(found_paths: dict[int, str]) -> Edition:
    """The edition of a package, from the module paths the resolver found in it."""
    later = [n for n in TELLING_MODULES if found_paths.get(n) not in (None, MODULES_BY_NUMBER[n].paths[0])]
    return CURRENT if later else DECEMBER_2025


def detect_in(package_root: Path) -> Edition:
    """The edition of the package in `package_root` (the folder holding tinytorch/), from its file names."""
    found = {}
    for number in TELLING_MODULES:
        for path in MODULES_BY_NUMBER[number].paths:
            target = package_root / "tinytorch" / Path(*path.split("."))
            if target.with_suffix(".py").is_file() or (target / "__init__.py").is_file():
                found[number] = path
                break
    return detect(found)
