"""Finding the one `tinytorch/` package in what was unpacked, or saying clearly why there is none."""

from __future__ import annotations

from grader.intake.errors import MultiplePackages, NoPackage, quote_name
from grader.intake.names import NameRegistry, Parts

PACKAGE = "tinytorch"
MARKER = "__init__.py"
# The package at the top, or one folder down ("myproj/tinytorch/"): how students zip their work.
MAX_PACKAGE_DEPTH = 2
_MAX_LISTED = 12


def locate_package(names: NameRegistry) -> Parts:
    """The path of the only `tinytorch` folder with an `__init__.py` at depth 1 or 2, or else of the only one
    holding Python files: without `__init__.py` it is a namespace package (PEP 420), which imports just as well,
    so the course's code in it runs the same."""
    folders = [parts for parts in names.dirs if parts[-1] == PACKAGE and len(parts) <= MAX_PACKAGE_DEPTH]
    candidates = sorted(parts for parts in folders if (*parts, MARKER) in names.files)
    if not candidates:
        candidates = sorted(parts for parts in folders if _holds_python(names, parts))
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        listed = ", ".join(quote_name("/".join(parts) + "/") for parts in candidates)
        raise MultiplePackages(
            f"the upload holds {len(candidates)} tinytorch packages ({listed}); keep only the one to grade",
            "/".join(candidates[1]),
        )
    raise NoPackage(_why_none(names))


def _holds_python(names: NameRegistry, folder: Parts) -> bool:
    depth = len(folder)
    return any(len(parts) > depth and parts[:depth] == folder and parts[-1].endswith(".py") for parts in names.files)


def _why_none(names: NameRegistry) -> str:
    message = (
        f"no {PACKAGE}/ package found: expected a folder named {PACKAGE} holding the package's Python files "
        f"(with its {MARKER}), at the top of the archive or one folder down; {_top_level(names)}"
    )
    hints = []
    for parts in sorted(names.dirs):
        shown = quote_name("/".join(parts) + "/")
        if parts[-1] == PACKAGE and len(parts) <= MAX_PACKAGE_DEPTH:
            hints.append(f"{shown} holds no .py file")
        elif parts[-1] == PACKAGE and len(parts) > MAX_PACKAGE_DEPTH:
            hints.append(f"{shown} is too deep")
        elif parts[-1] != PACKAGE and parts[-1].casefold() == PACKAGE and len(parts) <= MAX_PACKAGE_DEPTH:
            hints.append(f"{shown} must be spelled {PACKAGE!r} in lower case")
    if hints:
        message += "; " + "; ".join(hints[:_MAX_LISTED])
    return message


def _top_level(names: NameRegistry) -> str:
    entries = sorted(
        [quote_name(parts[0] + "/") for parts in names.dirs if len(parts) == 1]
        + [quote_name(parts[0]) for parts in names.files if len(parts) == 1]
    )
    if not entries:
        return "the archive has no files (junk such as __MACOSX/ and __pycache__/ is ignored)"
    shown = ", ".join(entries[:_MAX_LISTED])
    more = f" and {len(entries) - _MAX_LISTED} more" if len(entries) > _MAX_LISTED else ""
    return f"found at the top level: {shown}{more}"
