"""Signed webhooks (Standard Webhooks): a course's endpoints (endpoints), the outbox of deliveries and their
sending (outbox), one HTTP try of a delivery (delivery), the Celery task (task), the API (routes) and the CLI
(commands). docs/lms.md, "Webhooks"."""
