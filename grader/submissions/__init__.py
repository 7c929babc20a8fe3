"""Submissions: accept an upload, store it, grade it (through the worker), report on it."""

from __future__ import annotations

import uuid


def requeue(submission_id: uuid.UUID) -> None:
    """Grade a graded or failed submission again (the dashboard's regrades call this after their commit)."""
    # Imported on use: the task module pulls in the grading and broker code, which importers of the package
    # (e.g. the dashboard's read-only functions) do not need.
    from .tasks import requeue as _requeue

    _requeue(submission_id)
