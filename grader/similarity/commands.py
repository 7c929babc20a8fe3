"""`grader similarity add-known|add-boilerplate|known|report|rescan`: the operator's side (no sign-in; the same
service functions as the API).

    grader similarity add-known cs329 ./official-solution.zip --label "2025 official"
    grader similarity add-boilerplate cs329 ./starter/          # a folder holding tinytorch/
    grader similarity report cs329/capstone --json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..courses.commands import _course_and_slug, refuse_on_error

similarity_app = typer.Typer(help="Copied work: known solutions, starter code, and the similarity report.",
                             no_args_is_help=True)


def _add(course: str, path: Path, label: str | None, kind: str) -> None:
    from ..bootstrap import prepare_database
    from ..courses.service import get_course
    from ..db.session import session_scope
    from .library import add_source, source_json

    with refuse_on_error():
        prepare_database()
        with session_scope(write=True) as session:
            shown = source_json(add_source(session, get_course(session, course), path, label, kind))
    typer.echo(f"{kind} {shown['id']} of {course}: {shown['label']} ({shown['files']} files)")
    typer.echo("run `grader similarity rescan COURSE/ASSIGNMENT` to compare the submissions already there with it")


@similarity_app.command("add-known")
def add_known(course: Annotated[str, typer.Argument(help="the course")],
              path: Annotated[Path, typer.Argument(help="an archive or a folder holding tinytorch/")],
              label: Annotated[str | None, typer.Option(help="how the list names it (default: the file name)")]
              = None) -> None:
    """Register a known solution (an official solution, last year's submissions): matches are listed."""
    _add(course, path, label, "known")


@similarity_app.command("add-boilerplate")
def add_boilerplate(course: Annotated[str, typer.Argument(help="the course")],
                    path: Annotated[Path, typer.Argument(help="an archive or a folder holding tinytorch/")],
                    label: Annotated[str | None, typer.Option(help="how the list names it")] = None) -> None:
    """Register the course's starter code: its fingerprints are ignored in every comparison."""
    _add(course, path, label, "boilerplate")


@similarity_app.command("known")
def known(course: Annotated[str, typer.Argument(help="the course")]) -> None:
    """The course's known solutions and starter code (the built-in reference first)."""
    from ..bootstrap import prepare_database
    from ..courses.service import get_course
    from ..db.session import session_scope
    from .library import course_sources, reference, source_json

    with refuse_on_error():
        prepare_database()
        with session_scope(write=True) as session:
            reference(session)
            rows = [source_json(row) for row in course_sources(session, get_course(session, course).id)]
    for row in rows:
        typer.echo(f"{row['id']:>4}  {row['kind']:<11} {row['files']:>4} files  {row['label']}")


@similarity_app.command("report")
def report(name: Annotated[str, typer.Argument(help="COURSE/ASSIGNMENT")],
           as_json: Annotated[bool, typer.Option("--json", help="the route's JSON answer")] = False,
           min_score: Annotated[float, typer.Option(help="only pairs scoring at least this (0-1)")] = 0.0,
           limit: Annotated[int, typer.Option(help="at most this many pairs")] = 200) -> None:
    """The pairs (students, or a student and a known solution) sorted by score."""
    from ..bootstrap import prepare_database
    from ..courses.service import get_course
    from ..db.session import session_scope
    from .service import course_assignment
    from .service import report as build

    with refuse_on_error():
        course, slug = _course_and_slug(name)
        prepare_database()
        with session_scope() as session:
            found = get_course(session, course)
            body = build(session, found, course_assignment(session, found, slug), min_score=min_score, limit=limit)
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    typer.echo(f"{name}: {body['compared']} compared, {body['pending']} pending; {body['engine']}")
    for pair in body["pairs"]:
        b = pair["b"]["known"]["label"] if pair["kind"] == "known" else (pair["b"]["student"] or {}).get("email")
        a = (pair["a"]["student"] or {}).get("email")
        top = pair["files"][0]["a_path"] if pair["files"] else "-"
        typer.echo(f"{pair['id']:>5}  {pair['score']:.2f}  {a}  ~  {b}  ({pair['shared_lines']} lines; {top})"
                   f"  [{pair['status']}]")


@similarity_app.command("rescan")
def rescan(name: Annotated[str, typer.Argument(help="COURSE/ASSIGNMENT")]) -> None:
    """Queue the comparison of every counting submission again (after starter code or known solutions change)."""
    from ..bootstrap import prepare_database
    from ..courses.service import get_course
    from ..db.session import session_scope
    from .queue import send
    from .service import course_assignment
    from .service import rescan as mark

    with refuse_on_error():
        course, slug = _course_and_slug(name)
        prepare_database()
        with session_scope(write=True) as session:
            found = get_course(session, course)
            ids = mark(session, course_assignment(session, found, slug))
    sent = sum(1 for submission_id in ids if send(submission_id))
    typer.echo(f"{sent} of {len(ids)} comparison(s) queued")
