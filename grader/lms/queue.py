"""The LMS channels' own queue: webhook deliveries, LTI scores and roster syncs go to `<GRADER_TASK_QUEUE>.lms`,
never behind the gradings. Every grading worker consumes it too (grader.worker), and keeps doing so while its
sandbox is sick: a score waits for a free worker process, not for the gradings queued before it."""

from __future__ import annotations

from ..settings import get_settings

QUEUE_SUFFIX = ".lms"


def lms_queue() -> str:
    return get_settings().task_queue + QUEUE_SUFFIX
