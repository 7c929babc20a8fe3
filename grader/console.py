"""What the CLI's service commands share: one stderr console, and GraderError turned into a message + exit 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from .errors import GraderError

stderr = Console(stderr=True)


@contextmanager
def exit_on_grader_error() -> Iterator[None]:
    """Let a service's error end the command with its detail on stderr (no traceback: it is the user's input,
    or the database's state, that is wrong, and the detail says which)."""
    try:
        yield
    except GraderError as error:
        stderr.print(f"[red]error:[/red] {error.detail}", highlight=False)
        raise typer.Exit(1) from error
