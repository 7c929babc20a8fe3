"""`python -m grader`: the same as the `grader` command."""

from .cli import app

app(prog_name="grader")
