"""What the CLI's commands share: one stderr console, the console a report prints on, and GraderError turned into a
message + exit 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from .errors import GraderError

stderr = Console(stderr=True)
# Wide enough for any report's table: past it rich would shrink columns and wrap. Lines end where their text does.
PIPE_WIDTH = 512


def report_console() -> tuple[Console, bool]:
    """A console on stdout, and whether it is a pipe or a file (not a terminal).

    In a terminal rich fits the table to the window. Into a pipe or a file (`| less`, `> out.txt`, a CI log) it
    would wrap at 80 columns (or $COLUMNS) and cut test names mid-word, which grep then misses: there the table
    takes the width it needs."""
    console = Console()
    if console.is_terminal:
        return console, False
    return Console(width=PIPE_WIDTH), True


@contextmanager
def exit_on_grader_error() -> Iterator[None]:
    """Let a service's error end the command with its detail on stderr (no traceback: it is the user's input,
    or the database's state, that is wrong, and the detail says which)."""
    try:
        yield
    except GraderError as error:
        stderr.print(f"[red]error:[/red] {error.detail}", highlight=False)
        raise typer.Exit(1) from error
