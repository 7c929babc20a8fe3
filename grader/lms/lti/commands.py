"""`grader lti ...`: register an LMS, list registrations, rotate the tool's key, resend unsent scores (the
operator's: no sign-in). Errors end the command with exit status 2 and the reason."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ...courses.commands import refuse_on_error

lti_app = typer.Typer(help="LTI 1.3: the LMS platforms that launch this tool.", no_args_is_help=True)


@lti_app.command("add-platform")
def add_platform_command(
        issuer: Annotated[str, typer.Option(help="the platform's issuer (iss), e.g. https://canvas.instructure.com")],
        client_id: Annotated[str, typer.Option(help="the client id the LMS gave this tool")],
        deployment_id: Annotated[list[str], typer.Option(help="a deployment id (repeat for several)")],
        jwks_url: Annotated[str, typer.Option(help="the platform's public keys (JWKS) URL")],
        auth_url: Annotated[str, typer.Option(help="the platform's OIDC authorization URL")],
        token_url: Annotated[str, typer.Option(help="the platform's OAuth2 token URL")],
        course: Annotated[str | None, typer.Option(help="only for this course (default: the whole install)")]
        = None) -> None:
    """Register an LMS: its launches are accepted, and scores go back to it."""
    from ...bootstrap import prepare_database
    from ...db.session import session_scope
    from .platforms import add_platform_for_course_slug

    with refuse_on_error():
        prepare_database()
        with session_scope(write=True) as session:
            row = add_platform_for_course_slug(session, course, issuer=issuer, client_id=client_id,
                                               deployment_ids=deployment_id, jwks_url=jwks_url, auth_url=auth_url,
                                               token_url=token_url)
            typer.echo(f"registered {row.issuer} (client id {row.client_id}) as registration {row.id}"
                       + (f" for course {course}" if course else " for the whole install"))


@lti_app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False) -> None:
    """The registered platforms."""
    from ...bootstrap import prepare_database
    from ...db.models import Course
    from ...db.session import session_scope
    from .platforms import list_platforms, platform_json

    with refuse_on_error():
        prepare_database()
        with session_scope() as session:
            rows = [platform_json(p, (session.get(Course, p.course_id).slug  # type: ignore[union-attr]
                                      if p.course_id is not None else None)) for p in list_platforms(session)]
    if as_json:
        typer.echo(json.dumps({"platforms": rows}, indent=2))
        return
    if not rows:
        typer.echo("no LTI platforms registered (grader lti add-platform)")
    for row in rows:
        typer.echo(f"{row['id']}  {row['issuer']}  client {row['client_id']}  deployments "
                   f"{','.join(row['deployment_ids'])}  course {row['course'] or '(whole install)'}")


@lti_app.command("rotate-key")
def rotate_key_command() -> None:
    """A new signing key, published beside the previous one (older ones are retired)."""
    from ...bootstrap import prepare_database
    from ...db.session import session_scope
    from .keys import rotate_key

    with refuse_on_error():
        prepare_database()
        with session_scope(write=True) as session:
            row = rotate_key(session)
            typer.echo(f"new signing key {row.kid}; the previous key stays published at /lti/jwks")


@lti_app.command("send-scores")
def send_scores_command() -> None:
    """Queue every score not yet sent to its platform now, those given up after their last try too (after an
    LMS outage, say). The sweeper sends lost ones by itself; this does not wait for it."""
    from ...bootstrap import prepare_database
    from ...db.session import session_scope
    from .score_outbox import start_over
    from .tasks import enqueue_send

    with refuse_on_error():
        prepare_database()
        with session_scope(write=True) as session:
            ids = start_over(session)
        for outbox_id in ids:
            enqueue_send(outbox_id)
    typer.echo(f"queued {len(ids)} unsent scores")
