"""`grader courses|assignments|roster|extensions ...`: run a course term from the command line (the operator's:
no sign-in, the same service functions as the API). Errors end the command with exit status 2 and the reason.

    grader courses add ml101 --name "ML Systems 101"
    grader assignments add ml101/final --title "Final" --due 2027-01-15T23:59:00+01:00
    grader roster import ml101 roster.csv --format canvas
    grader extensions grant ml101/final ada@uni.edu --due 2027-01-20T23:59:00+01:00 --reason ill
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer

from ..console import stderr
from ..errors import BadRequest, GraderError

courses_app = typer.Typer(help="Courses: add, list, archive.", no_args_is_help=True)
assignments_app = typer.Typer(help="A course's assignments: add, edit, list.", no_args_is_help=True)
roster_app = typer.Typer(help="A course's roster: import a CSV, add, drop, list.", no_args_is_help=True)
extensions_app = typer.Typer(help="A student's own due date for one assignment.", no_args_is_help=True)


class Format(StrEnum):
    canvas = "canvas"
    moodle = "moodle"
    plain = "plain"


class CourseRoleChoice(StrEnum):
    student = "student"
    ta = "ta"
    instructor = "instructor"


class PolicyChoice(StrEnum):
    best = "best"
    latest = "latest"


@contextmanager
def refuse_on_error() -> Iterator[None]:
    """A service's error (the input, or the database's state) ends the command: its reason on stderr, exit 2."""
    try:
        yield
    except GraderError as error:
        stderr.print(f"[red]refused:[/red] {error.detail}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from error


def _course_and_slug(name: str) -> tuple[str, str]:
    course, sep, slug = name.partition("/")
    if not sep or not course or not slug or "/" in slug:
        raise BadRequest(f"name the assignment as COURSE/SLUG (e.g. ml101/final), not {name!r}")
    return course, slug


def _late_policy(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        return json.loads(text)  # type: ignore[no-any-return]
    except json.JSONDecodeError as error:
        raise BadRequest(f"--late-policy is not JSON ({error.msg}): give e.g. "
                         '\'{"penalty_per_day": 0.1, "max_late_days": 7}\'') from None


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    # Plain aligned columns (as `grader users list`): no wrapping or truncation, so the output greps well.
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# --- courses ------------------------------------------------------------------------------------------------------

@courses_app.command("add")
def course_add(slug: Annotated[str, typer.Argument(help="the course's short name in URLs, e.g. ml101")],
               name: Annotated[str, typer.Option(help="the course's full name")]) -> None:
    """Create a course (add its instructors with `grader roster add COURSE EMAIL --role instructor`)."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .service import create_course

    with refuse_on_error():
        prepare_database()
        with session_scope(write=True) as session:
            course = create_course(session, slug, name)
            shown = f"{course.slug} ({course.name})"
    typer.echo(f"created course {shown}")


@courses_app.command("list")
def course_list() -> None:
    """List courses: slug, name, assignments, members, archived."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .service import list_courses

    with refuse_on_error():
        prepare_database()
        with session_scope() as session:
            rows = [(c.slug, c.name, str(len(c.assignments)), str(sum(e.dropped_at is None for e in c.enrollments)),
                     f"{c.archived_at:%Y-%m-%d}" if c.archived_at else "") for c in list_courses(session)]
    _table(("slug", "name", "assignments", "members", "archived"), rows)


@courses_app.command("archive")
def course_archive(slug: Annotated[str, typer.Argument(help="the course")],
                   restore: Annotated[bool, typer.Option(help="take an archiving back")] = False) -> None:
    """Archive a course: kept with its grades, hidden from students, no new submissions."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .service import edit_course, get_course

    with refuse_on_error():
        prepare_database()
        with session_scope(write=True) as session:
            edit_course(session, get_course(session, slug), archived=not restore)
    typer.echo(f"{'restored' if restore else 'archived'} course {slug}")


# --- assignments ----------------------------------------------------------------------------------------------

Suites = Annotated[str | None, typer.Option(help="comma-separated suites, e.g. capstone,05_autograd")]
Due = Annotated[str | None, typer.Option(
    help="due date, ISO 8601 with a zone: 2027-01-15T23:59:00+01:00 or 2027-01-15T23:59[Europe/Zurich]")]
Opens = Annotated[str | None, typer.Option(help="submissions are refused before this (ISO 8601 with a zone)")]
LatePolicy = Annotated[str | None, typer.Option(
    "--late-policy", help='JSON, e.g. \'{"penalty_per_day": 0.1, "max_late_days": 7}\'')]
Policy = Annotated[PolicyChoice | None, typer.Option(help="which graded submission counts")]
PerHour = Annotated[int | None, typer.Option("--per-hour", help="submissions per student per hour, at most")]
Edition = Annotated[str | None, typer.Option(help="the course edition the diagnostics number modules by")]


def _assignment_fields(suites: str | None, due: str | None, opens: str | None, late_policy: str | None,
                       policy: PolicyChoice | None, per_hour: int | None, edition: str | None) -> dict[str, Any]:
    from .zones import parse_moment

    fields: dict[str, Any] = {}
    if suites is not None:
        fields["suites"] = [s for s in suites.split(",") if s.strip()]
    if due is not None:
        # Refused without a zone: on the command line there is no assignment zone to read it in.
        fields["due_at"] = parse_moment(due, what="--due")
        fields["due_time_zone"] = due.strip().partition("[")[2].rstrip("]") or None
    if opens is not None:
        fields["opens_at"] = parse_moment(opens, what="--opens")
    if late_policy is not None:
        fields["late_policy"] = _late_policy(late_policy)
    if policy is not None:
        fields["score_policy"] = policy.value
    if per_hour is not None:
        fields["max_submissions_per_hour"] = per_hour
    if edition is not None:
        fields["edition"] = edition
    return fields


def _describe(a: dict[str, Any]) -> str:
    due = a["due_at"] or "no due date"
    return f"{a['course']}/{a['slug']} ({a['title']}): suites {','.join(a['suites'])}, due {due}, {a['score_policy']}"


@assignments_app.command("add")
def assignment_add(name: Annotated[str, typer.Argument(help="COURSE/SLUG, e.g. ml101/final")],
                   title: Annotated[str, typer.Option(help="the assignment's title")],
                   suites: Suites = None, due: Due = None, opens: Opens = None, late_policy: LatePolicy = None,
                   policy: Policy = None, per_hour: PerHour = None, edition: Edition = None) -> None:
    """Add an assignment to a course."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .assignments import assignment_json
    from .service import create_assignment, get_course

    with refuse_on_error():
        course_slug, slug = _course_and_slug(name)
        fields = _assignment_fields(suites, due, opens, late_policy, policy, per_hour, edition)
        prepare_database()
        with session_scope(write=True) as session:
            shown = assignment_json(create_assignment(session, get_course(session, course_slug), slug, title,
                                                      **fields))
    typer.echo(f"created assignment {_describe(shown)}")


@assignments_app.command("edit")
def assignment_edit(name: Annotated[str, typer.Argument(help="COURSE/SLUG")],
                    title: Annotated[str | None, typer.Option(help="a new title")] = None,
                    suites: Suites = None, due: Due = None, opens: Opens = None, late_policy: LatePolicy = None,
                    policy: Policy = None, per_hour: PerHour = None, edition: Edition = None,
                    archived: Annotated[bool | None, typer.Option(
                        "--archive/--restore", help="hide it from students and refuse new submissions, or undo")]
                    = None) -> None:
    """Change an assignment's settings (only those given)."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from ..lms.rule_changes import scores_may_change
    from .assignments import assignment_json, course_assignment, edit_assignment
    from .service import get_course

    with refuse_on_error():
        course_slug, slug = _course_and_slug(name)
        fields = _assignment_fields(suites, due, opens, late_policy, policy, per_hour, edition)
        if title is not None:
            fields["title"] = title
        if archived is not None:
            fields["archived"] = archived
        if not fields:
            raise BadRequest("nothing to change: give at least one option (see --help)")
        prepare_database()
        with session_scope(write=True) as session:
            assignment = course_assignment(session, get_course(session, course_slug), slug)
            with scores_may_change(session, assignment, fields=fields):
                shown = assignment_json(edit_assignment(session, assignment, **fields))
    typer.echo(f"changed assignment {_describe(shown)}")


@assignments_app.command("list")
def assignment_list(course: Annotated[str, typer.Argument(help="the course")]) -> None:
    """List a course's assignments by due date (shown in each one's own zone)."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .assignments import assignment_json, course_assignments
    from .service import get_course

    with refuse_on_error():
        prepare_database()
        with session_scope() as session:
            shown = [assignment_json(a) for a in course_assignments(session, get_course(session, course))]
    _table(("slug", "title", "suites", "opens", "due", "policy", "per hour", "archived"),
           [(a["slug"], a["title"], ",".join(a["suites"]), a["opens_at"] or "", a["due_at"] or "", a["score_policy"],
             str(a["max_submissions_per_hour"] or ""), "yes" if a["archived"] else "") for a in shown])
