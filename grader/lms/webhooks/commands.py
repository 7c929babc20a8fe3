"""`grader webhooks add|list|redeliver`: a course's signed webhooks from the command line (the operator's: no
sign-in, the same service functions as the API). `add` prints the secret alone on its last line.

    grader webhooks add ml101 https://lms.example.edu/hook --events submission.graded,grade.changed
    grader webhooks list ml101
    grader webhooks redeliver 42
"""

from __future__ import annotations

from typing import Annotated

import typer

from ...courses.commands import refuse_on_error

webhooks_app = typer.Typer(help="A course's signed webhooks (Standard Webhooks) to its LMS.", no_args_is_help=True)


@webhooks_app.command("add")
def webhook_add(course: Annotated[str, typer.Argument(help="the course")],
                url: Annotated[str, typer.Argument(help="the receiver's http:// or https:// URL")],
                events: Annotated[str | None, typer.Option(
                    help="comma-separated: submission.graded, submission.failed, grade.changed (default: all)")]
                = None) -> None:
    """Add an endpoint; prints its secret (whsec_...) last, for the receiver to verify signatures with."""
    from ...bootstrap import prepare_database
    from ...courses.service import get_course
    from ...db.session import session_scope
    from .endpoints import add_endpoint

    with refuse_on_error():
        prepare_database()
        with session_scope(write=True) as session:
            endpoint = add_endpoint(session, get_course(session, course), url, events)
            shown = (endpoint.id, ",".join(endpoint.events), endpoint.url, endpoint.secret)
    typer.echo(f"webhook {shown[0]} of {course}: {shown[2]} ({shown[1]})")
    typer.echo("its secret (the receiver verifies signatures with it; it is not shown again):")
    typer.echo(shown[3])


@webhooks_app.command("list")
def webhook_list(course: Annotated[str, typer.Argument(help="the course")]) -> None:
    """The course's endpoints: disabled ones (the receiver answered 410 Gone) say so and why."""
    from ...bootstrap import prepare_database
    from ...courses.service import get_course
    from ...db.session import session_scope
    from .endpoints import course_endpoints, endpoint_json

    with refuse_on_error():
        prepare_database()
        with session_scope() as session:
            rows = [endpoint_json(e) for e in course_endpoints(session, get_course(session, course))]
    if not rows:
        typer.echo(f"no webhooks in {course}: add one with `grader webhooks add {course} URL`")
    for row in rows:
        state = row["status"] if row["status"] == "active" else f"disabled: {row['disabled_reason']}"
        typer.echo(f"{row['id']}\t{row['url']}\t{','.join(row['events'])}\t{state}")


@webhooks_app.command("redeliver")
def webhook_redeliver(delivery_id: Annotated[int, typer.Argument(help="the delivery's id (the API's listing)")]
                      ) -> None:
    """Send a delivery's event again (the same webhook-id), with a fresh set of tries."""
    from ...bootstrap import prepare_database
    from ...db.session import session_scope
    from .endpoints import get_delivery, redeliver

    with refuse_on_error():
        prepare_database()
        with session_scope(write=True) as session:
            redeliver(session, get_delivery(session, delivery_id))
    typer.echo(f"delivery {delivery_id} queued to be sent again")
