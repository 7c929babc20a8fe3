"""The Celery task that makes a webhook delivery's next try (registered by the worker's entry point,
grader.worker; senders use grader.lms.webhooks.outbox.send_task and never import this module)."""

from __future__ import annotations

from ...queue import celery_app
from .delivery import deliver
from .outbox import TASK_NAME


@celery_app.task(name=TASK_NAME, acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    """Idempotent: a duplicate message, or one for a delivery already done, does nothing."""
    return deliver(int(delivery_id))
