"""`grader db ...`: apply migrations and say where the database stands."""

from __future__ import annotations

from typing import Annotated

import typer

from ..console import exit_on_grader_error

app = typer.Typer(help="The database: migrations.", no_args_is_help=True)


def _where() -> str:
    from sqlalchemy.engine import make_url

    from ..settings import get_settings

    return make_url(get_settings().database_url).render_as_string(hide_password=True)


@app.command("upgrade")
def upgrade_command(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Apply the migrations up to REVISION (default: the latest), then create the default course on a fresh
    install. Take a backup first on a database that holds grades."""
    from ..courses.service import ensure_default_course
    from .migrate import current_revision, head_revision, upgrade
    from .session import session_scope

    with exit_on_grader_error():
        before = current_revision()
        upgrade(revision=revision)
        after = current_revision()
        if after == head_revision():  # an older target may predate the tables the default course needs
            with session_scope(write=True) as session:
                ensure_default_course(session)
    change = f"{before or 'empty'} -> {after}" if before != after else f"already at {after}"
    typer.echo(f"{_where()}: {change}")


@app.command("current")
def current_command() -> None:
    """Print the database's revision and the latest one this grader knows."""
    from .migrate import current_revision, head_revision

    typer.echo(f"{_where()}: at {current_revision() or 'empty (never migrated)'}, latest {head_revision()}")
