"""`grader users ...`: add users, list them, issue and revoke tokens.

`add` and `token` print the new API token as the LAST line of stdout (docs/architecture.md, "Public interface"),
so scripts can take it with `| tail -n1`; everything before it is for people.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..console import exit_on_grader_error
from ..roles import Role

app = typer.Typer(help="Users and their API tokens.", no_args_is_help=True)


@app.command("add")
def add_command(
    email: Annotated[str, typer.Argument(help="the user's email address (their login name)")],
    role: Annotated[Role, typer.Option(help="what the user may do")] = Role.student,
    course: Annotated[str | None, typer.Option(
        help="enroll in this course (by slug); instructors default to the default course")] = None,
) -> None:
    """Create a user and print their first API token (the last line of output)."""
    from ..bootstrap import prepare_database
    from ..courses.service import DEFAULT_COURSE_SLUG, enroll, get_course
    from ..db.session import session_scope
    from .service import create_user

    with exit_on_grader_error():
        prepare_database()
        with session_scope(write=True) as session:
            user, token = create_user(session, email, role.value)
            # An instructor with no course would see an empty dashboard; students need no enrollment for
            # the default course, which is open to every student.
            slug = course or (DEFAULT_COURSE_SLUG if role is Role.instructor else None)
            enrolled = ""
            if slug is not None:
                enrollment = enroll(session, user, get_course(session, slug))
                enrolled = f", {enrollment.role} in course {slug}"
            user_id = user.id
    typer.echo(f"created {role.value} {user.email} (id {user_id}{enrolled}); API token:")
    typer.echo(token)


@app.command("list")
def list_command(
    role: Annotated[Role | None, typer.Option(help="only users with this role")] = None,
) -> None:
    """List users: id, role, email, live tokens, created."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .service import list_users, live_token_count

    with exit_on_grader_error():
        prepare_database()
        with session_scope() as session:
            rows = [(str(u.id), u.role, u.email, str(live_token_count(session, u)), f"{u.created_at:%Y-%m-%d %H:%M}")
                    for u in list_users(session, role.value if role else None)]
    header = ("id", "role", "email", "tokens", "created (UTC)")
    # Plain aligned columns rather than a rich table: no wrapping or truncation, so the output greps well.
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@app.command("token")
def token_command(
    email: Annotated[str, typer.Argument(help="the user's email address")],
    label: Annotated[str | None, typer.Option(help="a note to tell this token apart")] = None,
) -> None:
    """Issue another API token for a user (e.g. a lost one; revoke the old with `revoke`). Last line: the token."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .service import get_user_by_email, issue_token

    with exit_on_grader_error():
        prepare_database()
        with session_scope(write=True) as session:
            row, token = issue_token(session, get_user_by_email(session, email), label)
            prefix = row.prefix
    typer.echo(f"new API token {prefix}... for {email.strip().lower()}:")
    typer.echo(token)


@app.command("revoke")
def revoke_command(email: Annotated[str, typer.Argument(help="the user's email address")]) -> None:
    """Revoke every API token of a user."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .service import get_user_by_email, revoke_user_tokens

    with exit_on_grader_error():
        prepare_database()
        with session_scope(write=True) as session:
            count = revoke_user_tokens(session, get_user_by_email(session, email))
    typer.echo(f"revoked {count} token(s) of {email.strip().lower()}")


@app.command("link")
def link_command(email: Annotated[str, typer.Argument(help="the user's email address")]) -> None:
    """Make a one-time sign-in link for a user (works once, for 30 minutes). Last line: the URL."""
    from ..auth.links import issue_link, link_url
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from ..settings import get_settings
    from .service import get_user_by_email

    settings = get_settings()
    # Without GRADER_PUBLIC_URL the address `grader serve` listens on: right on the machine itself.
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    with exit_on_grader_error():
        prepare_database()
        with session_scope(write=True) as session:
            user = get_user_by_email(session, email)
            link, token = issue_link(session, user)
            address, expires_at = user.email, link.expires_at
    typer.echo(f"sign-in link for {address}, works once until {expires_at:%Y-%m-%d %H:%M} UTC:")
    typer.echo(link_url(base, token))
