"""Shared by every test folder: makes the repo root importable, so tests import the reference as
`tinytorch_reference.tinytorch...` (never a bare `tinytorch`, which names a student's package)."""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
