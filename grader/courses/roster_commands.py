"""`grader roster ...` and `grader extensions ...` (see grader.courses.commands for the rest of a course term)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .commands import CourseRoleChoice, Format, _course_and_slug, _table, extensions_app, refuse_on_error, roster_app


@roster_app.command("import")
def roster_import_command(
        course: Annotated[str, typer.Argument(help="the course")],
        file: Annotated[Path, typer.Argument(help="the roster CSV", exists=True, dir_okay=False, readable=True)],
        format: Annotated[Format, typer.Option(help="which export the file is (columns: docs/courses.md)")]
        = Format.canvas) -> None:
    """Enroll everyone a Canvas, Moodle or plain CSV roster lists; prints what was added, updated and skipped."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .roster_import import MAX_ROSTER_BYTES, decode, import_roster
    from .service import get_course

    with refuse_on_error():
        if file.stat().st_size > MAX_ROSTER_BYTES:
            decode(b"x" * (MAX_ROSTER_BYTES + 1))  # the same refusal, worded once (413 in the API)
        data = file.read_bytes()
        prepare_database()
        with session_scope(write=True) as session:
            result = import_roster(session, get_course(session, course), data, format.value)
    if result.encoding != "utf-8":
        typer.echo(f"note: {file.name} is not UTF-8; read it as {result.encoding}")
    typer.echo(f"added {result.added}, updated {result.updated}, skipped {len(result.skipped)}")
    for line, reason in result.skipped:
        typer.echo(f"  skipped line {line}: {reason}")


@roster_app.command("add")
def roster_add(course: Annotated[str, typer.Argument(help="the course")],
               email: Annotated[str, typer.Argument(help="the member's email address")],
               name: Annotated[str | None, typer.Option(help="their name, as shown to staff")] = None,
               role: Annotated[CourseRoleChoice | None, typer.Option(
                   help="their role in the course (new members: student)")] = None,
               section: Annotated[str | None, typer.Option(help="their section")] = None) -> None:
    """Enroll one person (created if new; give them a token with `grader users token EMAIL`)."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .roster import add_member
    from .service import get_course

    with refuse_on_error():
        prepare_database()
        with session_scope(write=True) as session:
            enrollment, created = add_member(session, get_course(session, course), email, name=name,
                                             role=role.value if role else None, section=section)
            shown = f"{enrollment.user.email} as {enrollment.role} in {course}"
    typer.echo(f"{'added' if created else 'updated'} {shown}")


@roster_app.command("drop")
def roster_drop(course: Annotated[str, typer.Argument(help="the course")],
                email: Annotated[str, typer.Argument(help="the member's email address")]) -> None:
    """Drop a member: their submissions stay, they can no longer submit (re-adding takes it back)."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .roster import drop_member
    from .service import get_course

    with refuse_on_error():
        prepare_database()
        with session_scope(write=True) as session:
            drop_member(session, get_course(session, course), email)
    typer.echo(f"dropped {email.strip().lower()} from {course}")


@roster_app.command("list")
def roster_list(course: Annotated[str, typer.Argument(help="the course")]) -> None:
    """List a course's members: email, name, role, section, SIS id, dropped, last submission."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from .roster import roster_json
    from .service import get_course

    with refuse_on_error():
        prepare_database()
        with session_scope() as session:
            members = roster_json(session, get_course(session, course))["members"]
    _table(("id", "email", "name", "role", "section", "sis id", "dropped", "last submission"),
           [(str(m["user_id"]), m["email"], m["name"] or "", m["role"], m["section"] or "", m["sis_id"] or "",
             "dropped" if m["dropped"] else "", (m["last_submission_at"] or "")[:16]) for m in members])


@extensions_app.command("grant")
def extension_grant(name: Annotated[str, typer.Argument(help="COURSE/SLUG")],
                    email: Annotated[str, typer.Argument(help="the student's email address")],
                    due: Annotated[str, typer.Option(help="their own due date, ISO 8601 with a zone")],
                    reason: Annotated[str | None, typer.Option(help="why (shown to staff)")] = None) -> None:
    """Give one student their own due date for one assignment (replacing an earlier one)."""
    from ..bootstrap import prepare_database
    from ..db.session import session_scope
    from ..lms.rule_changes import scores_may_change
    from .assignments import course_assignment
    from .extensions import grant_extension
    from .roster import member_by_email
    from .service import get_course
    from .zones import iso_in_zone, parse_moment

    with refuse_on_error():
        course_slug, slug = _course_and_slug(name)
        due_at = parse_moment(due, what="--due")
        prepare_database()
        with session_scope(write=True) as session:
            course = get_course(session, course_slug)
            assignment = course_assignment(session, course, slug)
            student = member_by_email(session, course, email).user
            with scores_may_change(session, assignment, [student]):
                extension = grant_extension(session, assignment, student, due_at, reason=reason)
            shown = iso_in_zone(extension.due_at, assignment.due_time_zone)
    typer.echo(f"{email.strip().lower()} is now due {shown} for {name}")
