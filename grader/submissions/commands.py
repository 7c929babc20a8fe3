"""`grader sweep`: one sweeper pass from the command line, for cron or an operator after a broker outage."""

from __future__ import annotations

import typer


def sweep_command() -> None:
    """Send queued submissions that never reached the broker, and put back those a dead worker left running.
    Exits 1 when the broker refused a send (the rest wait for the next sweep)."""
    from datetime import UTC, datetime

    from ..bootstrap import prepare_database
    from ..console import exit_on_grader_error
    from ..lms.lti.score_outbox import sweep_scores
    from ..lms.webhooks.outbox import sweep_deliveries
    from .sweeper import sweep

    with exit_on_grader_error():
        prepare_database()
        result = sweep(None, datetime.now(UTC))
        deliveries = sweep_deliveries()  # the LMS's webhook deliveries that are due and whose message is lost
        scores = sweep_scores()  # and its LTI scores
    typer.echo(f"sent {result.sent}, requeued {result.requeued} abandoned, broker refused {result.failed}")
    if deliveries:
        typer.echo(f"webhook deliveries sent again: {deliveries}")
    if scores:
        typer.echo(f"LTI scores sent again: {scores}")
    if result.failed:
        raise typer.Exit(1)
