"""`grader export csv COURSE [--assignment A] --format canvas|moodle|plain`: the gradebook CSV on stdout (the
operator's: no sign-in). Errors (unknown course, assignment or format) end it with exit status 2 and the reason."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..courses.commands import refuse_on_error

export_app = typer.Typer(help="Export grades for an LMS.", no_args_is_help=True)


@export_app.command("csv")
def export_csv_command(
        course: Annotated[str, typer.Argument(help="the course")],
        layout: Annotated[str, typer.Option("--format", help="canvas, moodle or plain (columns: docs/lms.md)")],
        assignment: Annotated[str | None, typer.Option(help="only this assignment (its slug)")] = None) -> None:
    """Write the course's grades as a gradebook CSV (UTF-8, CRLF) to stdout: the score that counts per student
    and assignment, empty where nothing is graded."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .csv_export import course_gradebook_csv, parse_layout

    with refuse_on_error():
        parse_layout(layout)
        prepare_database()
        with session_scope() as session:
            text = course_gradebook_csv(session, course, layout, assignment)
    # Bytes, not echo: the CRLFs and every character of a name go out exactly as written.
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()
