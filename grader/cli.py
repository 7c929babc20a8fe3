"""The `grader` command line: grade a submission offline; `grader db ...` and `grader users ...` for the service."""

from __future__ import annotations

import json
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from .courses.commands import assignments_app, courses_app
from .courses.roster_commands import extensions_app, roster_app
from .db.commands import app as db_app
from .intake import CompileProblem, IntakeError, unpack_submission
from .interrupts import Interrupted, stop_on_signals
from .lms.export_commands import export_app
from .lms.lti.commands import lti_app
from .lms.webhooks.commands import webhooks_app
from .similarity.commands import similarity_app
from .submissions.commands import sweep_command
from .users.commands import app as users_app

if TYPE_CHECKING:  # loaded when a command needs them: `grader grade` starts its sandbox before the suites load
    from sandbox import Sandbox

    from .grading.grade import GradeReport
    from .grading.options import GradeOptions

app = typer.Typer(help="TinyTorch grader.", no_args_is_help=True, add_completion=False)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(courses_app, name="courses")
app.add_typer(assignments_app, name="assignments")
app.add_typer(roster_app, name="roster")
app.add_typer(extensions_app, name="extensions")
app.add_typer(export_app, name="export")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(lti_app, name="lti")
app.add_typer(similarity_app, name="similarity")
app.command("sweep")(sweep_command)
stderr = Console(stderr=True)


class SandboxKind(StrEnum):
    docker = "docker"
    bwrap = "bwrap"


class SuiteChoice(StrEnum):
    capstone = "capstone"
    all = "all"


def suites_for(choice: SuiteChoice) -> list[str]:
    from capstone_tests.registry import SUITES

    return ["capstone"] if choice is SuiteChoice.capstone else list(SUITES)


@app.callback()
def main() -> None:
    """TinyTorch grader."""


@app.command("grade")
def grade_command(
    path: Annotated[Path, typer.Argument(help="a folder or archive (.zip, .tar.gz, .tar) holding tinytorch/")],
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON (the API's shape)")] = False,
    sandbox: Annotated[SandboxKind | None, typer.Option(help="default: docker if it runs here, else bwrap")] = None,
    suite: Annotated[SuiteChoice, typer.Option(help="capstone, or every suite")] = SuiteChoice.capstone,
    seed: Annotated[int | None, typer.Option(help="challenge seed (default: a fresh random one)")] = None,
    edition: Annotated[str | None, typer.Option(
        help="the course edition whose module numbers the diagnostics use: 2025-12 or current "
             "(default: seen from the package's file names)")] = None,
    lanes: Annotated[int, typer.Option(
        min=1, max=8, help="the package's sandboxes run at once, at most (fewer while other gradings use the "
                           "machine's cores)")] = 2,
    fail_under: Annotated[float | None, typer.Option(
        min=0, help="exit 1 only when the score is below this (default: below full marks)")] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "--all-tests", "-v",
        help="list every passed test (with several suites they are summed up one line per suite)")] = False,
) -> None:
    """Grade one submission offline, in a sandbox, and print the report.

    Exit 0: full marks (or at least --fail-under); 1: graded below that; 2: the upload is refused; 3: the grading
    infrastructure failed (no score)."""
    from sandbox import SandboxError

    from .grading.options import GradeOptions
    from .sandboxes import make_sandbox
    from .settings import get_settings

    if not path.exists():
        stderr.print(f"[red]refused:[/red] {path} does not exist")
        raise typer.Exit(2)
    if edition is not None and edition not in ("2025-12", "current"):
        stderr.print(f"[red]refused:[/red] unknown edition {edition!r}: use 2025-12 or current")
        raise typer.Exit(2)
    with tempfile.TemporaryDirectory(prefix="grader-grade-") as scratch:
        try:
            submission = unpack_submission(path, Path(scratch) / "submission")
        except IntakeError as error:
            stderr.print(f"[red]refused:[/red] {error}")
            raise typer.Exit(2) from error
        Path(scratch).chmod(0o755)
        _print_compile_problems(submission.compile_errors)
        try:
            with stop_on_signals():
                runner = make_sandbox(get_settings(), sandbox.value if sandbox else None)
                options = GradeOptions(suites=suites_for(suite), seed=seed, edition=edition, lanes=lanes)
                report = _grade_with_progress(submission.root, runner, options, quiet=as_json)
        except Interrupted as stop:
            stderr.print(f"stopped by {stop.name}: the sandboxes are removed, nothing was graded", soft_wrap=True)
            raise typer.Exit(stop.exit_code) from None
        except SandboxError as error:
            # An infrastructure fault (sandbox missing or broken, reference calibration failed): no score at all.
            stderr.print(Text.assemble(("grading infrastructure fault, no score: ", "red"), str(error)),
                         soft_wrap=True)
            raise typer.Exit(3) from error
    from .grading.report import public_report

    public = public_report(report, compile_errors=submission.compile_errors)
    if as_json:
        json.dump(public, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(public, verbose=verbose)
    from .report_table import grade_exit_code

    raise typer.Exit(grade_exit_code(public["score"], public["max_score"], fail_under))


def _grade_with_progress(root: Path, runner: Sandbox, options: GradeOptions, quiet: bool) -> GradeReport:
    # The student's sandbox starts first, and the grading code (numpy, the suites) loads while its container
    # starts: both take about as long, and nothing of the one needs the other until the first test.
    from .grading.launch import sandbox_link

    link = sandbox_link(root, runner, options)
    try:
        from .grading.grade import grade
    except BaseException:
        link.close()
        raise
    if quiet:
        return grade(root, runner, options, student_link=link)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task("grading", total=None)

        def on_event(kind: str, data: dict) -> None:  # type: ignore[type-arg]
            if kind == "planned":
                progress.update(task, total=len(data["tests"]))
            elif kind == "test_finished":
                progress.update(task, advance=1, description=f"{data['suite']}::{data['name']}")

        return grade(root, runner, options, on_event, student_link=link)


def _print_compile_problems(problems: tuple[CompileProblem, ...]) -> None:
    """On stderr, before grading starts: the files that will fail on import, and that the rest is graded."""
    for problem in problems:
        # Text, not markup: the line and the message are the student's, and "[red]" in them must print as typed.
        stderr.print(Text.assemble(("does not compile: ", "red"), f"{problem.where()}: {problem.message}"),
                     soft_wrap=True)
        if problem.text:
            stderr.print(Text(f"    {problem.text}"), soft_wrap=True)
    if problems:
        stderr.print("graded anyway: the tests that need these files fail, the other modules still earn their points",
                     soft_wrap=True)


def _print_table(report: dict, verbose: bool = False) -> None:  # type: ignore[type-arg]
    from .console import report_console
    from .report_table import print_report

    console, pipe = report_console()
    print_report(report, console, verbose=verbose, pipe=pipe)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    grading_workers: Annotated[int, typer.Option(
        min=0, help="gradings at once in the worker started alongside; 0 = the API only (workers run elsewhere)")] = 1,
) -> None:
    """Run the whole service (API + a worker) on the embedded defaults or the GRADER_* settings."""
    from .serve import serve

    serve(host, port, grading_workers=grading_workers)


@app.command("worker")
def worker_command(
    concurrency: Annotated[int, typer.Option(help="gradings at once in this worker")] = 1,
) -> None:
    """Run a Celery grading worker against GRADER_BROKER_URL (Redis in production)."""
    from .serve import run_worker

    run_worker(concurrency)
