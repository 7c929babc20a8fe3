"""Module 05: autograd.

In this reference autograd lives in `core.tensor` (each primitive carries its backward), so importing
this module is all a course notebook expects; `enable_autograd()` exists for the editions that call it.
"""

from .tensor import Tensor, is_grad_enabled, no_grad

__all__ = ["Tensor", "enable_autograd", "is_grad_enabled", "no_grad"]


def enable_autograd() -> bool:
    """Autograd is always on in the reference; returns True so callers can tell."""
    return True
