"""Importing a roster from a CSV file: a Canvas gradebook export, a Moodle participants or grades export, or a
plain list of addresses. The columns each format reads are in docs/courses.md.

    result = import_roster(session, course, data, "canvas")
    result.added, result.updated, result.skipped        # skipped: [(line, reason)], line numbers as in the file

Every row is checked on its own: a bad address or a duplicate is skipped with its line and the reason, and the
rest is imported. Importing the same file again adds nobody (those enrolled already are `updated`: their name
and section refreshed; their course role is left as it is, so a TA on a student list stays a TA).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from ..db.models import Course
from ..errors import BadRequest, BadUpload
from ..users.service import normalize_email
from .roster import NewMember, RosterIndex, checked_member, enroll_member, flush_roster

FORMATS = ("canvas", "moodle", "plain")
# A Canvas export of 2,000 students with a term of assignment columns is about 1 MB: 5 MB is room to spare, and a
# bound on what one request makes the API parse.
MAX_ROSTER_BYTES = 5 * 1024 * 1024
# A cell longer than this is no name or address (csv's own limit is 128 KiB).
MAX_CELL = 1000
# More rows than any course has: a file of 5 MB of bare addresses would otherwise be ~300,000 enrollments in one
# request, holding the database's write lock for minutes.
MAX_ROWS = 10_000


@dataclass
class Row:
    line: int
    email: str
    name: str | None = None
    section: str | None = None
    sis_id: str | None = None
    role: str | None = None


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    # How the file was read: "utf-8", or "cp1252" when it was not UTF-8 (Excel on Windows saves that).
    encoding: str = "utf-8"

    def as_json(self) -> dict[str, Any]:
        return {"added": self.added, "updated": self.updated, "encoding": self.encoding,
                "skipped": [{"line": line, "reason": reason} for line, reason in self.skipped]}


class Skip(Exception):
    """A row that is not imported; the message says why."""


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and its encoding: UTF-8 (a BOM is dropped), else Windows-1252."""
    if len(data) > MAX_ROSTER_BYTES:
        raise BadUpload(f"the roster file is {len(data) / 1e6:.1f} MB; at most {MAX_ROSTER_BYTES // (1024 * 1024)} "
                        "MB is accepted (export only the student columns, or split the file)", status_code=413)
    if b"\x00" in data:
        raise BadRequest("the roster file holds NUL bytes: it is not a CSV text file (an .xlsx? export as CSV)")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as error:
        raise BadRequest(f"the roster file is neither UTF-8 nor Windows-1252 text (byte {error.start}): save it "
                         "as CSV UTF-8") from None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells), blank lines left out. A quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise BadRequest(f"line {line}: not readable as CSV ({error})") from None
        start, line = line, reader.line_num + 1
        cells = [cell.strip() for cell in cells]
        if any(cells):
            yield start, cells


def _columns(header: list[str], wanted: dict[str, tuple[str, ...]], required: tuple[str, ...],
             format_: str) -> dict[str, int]:
    """Where each wanted column is (by any of its names, case-insensitive); BadRequest naming missing ones."""
    lowered = [cell.strip().lower() for cell in header]
    found = {}
    for key, names in wanted.items():
        for name in names:
            if name.lower() in lowered:
                found[key] = lowered.index(name.lower())
                break
    missing = [wanted[key][0] for key in required if key not in found]
    if missing:
        raise BadRequest(f"not a {format_} roster: the first line has no column {', '.join(map(repr, missing))} "
                         f"(it has: {', '.join(header[:12])}); see docs/courses.md for each format's columns")
    return found


def _cell(cells: list[str], columns: dict[str, int], key: str) -> str | None:
    index = columns.get(key)
    if index is None or index >= len(cells):
        return None
    value = cells[index]
    if len(value) > MAX_CELL:
        raise Skip(f"the {key} cell is {len(value)} characters long")
    return value or None


def _email(value: str | None, column: str) -> str:
    if not value:
        raise Skip(f"no {column}")
    try:
        return normalize_email(value)
    except BadRequest:
        raise Skip(f"{column} {value[:80]!r} is not an email address") from None


CANVAS = {"name": ("Student",), "id": ("ID",), "sis_id": ("SIS User ID",), "login": ("SIS Login ID",),
          "section": ("Section",), "email": ("Email", "Email Address")}
MOODLE = {"first": ("First name", "Firstname"), "last": ("Surname", "Last name", "Lastname"),
          "email": ("Email address", "Email"), "sis_id": ("ID number", "Idnumber"),
          "section": ("Groups", "Group")}


def _canvas(records: list[tuple[int, list[str]]]) -> Iterator[Row | tuple[int, str]]:
    columns = _columns(records[0][1], CANVAS, ("name", "login"), "Canvas")
    for line, cells in records[1:]:
        first = cells[0].lower() if cells else ""
        # A real export's second (and sometimes third) line: the assignments' points, not a student.
        if first.startswith("points possible") or first.startswith("muted"):
            continue
        try:
            login = _cell(cells, columns, "login")
            address = _cell(cells, columns, "email")
            if address is None and login is not None and "@" not in login:
                raise Skip(f"SIS Login ID {login[:80]!r} is not an email address, and the file has no Email "
                           "column: add this student with `grader roster add`")
            email = _email(address or login, "Email" if address else "SIS Login ID")
            name = _cell(cells, columns, "name")
            if name and "," in name:  # Canvas writes "Last, First"
                last, _, first_name = name.partition(",")
                name = f"{first_name.strip()} {last.strip()}".strip()
            yield Row(line, email, name, _cell(cells, columns, "section"), _cell(cells, columns, "sis_id"))
        except Skip as skip:
            yield line, str(skip)


def _moodle(records: list[tuple[int, list[str]]]) -> Iterator[Row | tuple[int, str]]:
    columns = _columns(records[0][1], MOODLE, ("first", "last", "email"), "Moodle")
    for line, cells in records[1:]:
        try:
            email = _email(_cell(cells, columns, "email"), "Email address")
            name = " ".join(part for part in (_cell(cells, columns, "first"), _cell(cells, columns, "last")) if part)
            yield Row(line, email, name or None, _cell(cells, columns, "section"), _cell(cells, columns, "sis_id"))
        except Skip as skip:
            yield line, str(skip)


def _plain(records: list[tuple[int, list[str]]]) -> Iterator[Row | tuple[int, str]]:
    rows = records
    if rows and rows[0][1][0].lower() in ("email", "e-mail", "email address"):
        rows = rows[1:]  # a header line
    columns = {"email": 0, "name": 1, "section": 2, "role": 3}
    for line, cells in rows:
        try:
            if len(cells) > 4:
                raise Skip(f"{len(cells)} columns; a plain roster has email[,name[,section[,role]]]")
            email = _email(_cell(cells, columns, "email"), "email")
            role = (_cell(cells, columns, "role") or "").lower() or None
            if role is not None and role not in ("student", "ta", "instructor"):
                raise Skip(f"role {role[:40]!r} is not student, ta or instructor")
            yield Row(line, email, _cell(cells, columns, "name"), _cell(cells, columns, "section"), role=role)
        except Skip as skip:
            yield line, str(skip)


PARSERS = {"canvas": _canvas, "moodle": _moodle, "plain": _plain}


def parse_roster(data: bytes, format_: str) -> tuple[list[Row | tuple[int, str]], str]:
    """The file's rows (or (line, why skipped)) and the encoding it was read in. BadRequest for a file that is
    not a roster of this format at all."""
    if format_ not in PARSERS:
        raise BadRequest(f"unknown roster format {format_!r}; use one of {', '.join(FORMATS)}")
    text, encoding = decode(data)
    records = list(_records(text))
    if not records:
        raise BadRequest("the roster file is empty")
    if len(records) > MAX_ROWS + 1:
        raise BadRequest(f"the roster file has {len(records) - 1} rows; at most {MAX_ROWS} are imported at once "
                         "(split the file)")
    return list(PARSERS[format_](records)), encoding


def import_roster(session: Session, course: Course, data: bytes, format_: str) -> ImportResult:
    """Enroll everyone the file lists (students, unless a plain file's row names a role), in one batch."""
    rows, encoding = parse_roster(data, format_)
    result = ImportResult(encoding=encoding)
    seen: dict[str, int] = {}
    checked: list[NewMember] = []
    for row in rows:
        if isinstance(row, tuple):
            result.skipped.append(row)
            continue
        if row.email in seen:
            result.skipped.append((row.line, f"{row.email} is listed already, on line {seen[row.email]}"))
            continue
        try:
            new = checked_member(row.email, name=row.name, role=row.role, section=row.section, sis_id=row.sis_id)
        except BadRequest as error:
            result.skipped.append((row.line, error.detail))
            continue
        seen[row.email] = row.line
        checked.append(new)
    session.flush()  # the course's id, if it is new
    index = RosterIndex.load(session, course, [new.email for new in checked])
    for new in checked:
        _, created = enroll_member(session, index, new)
        if created:
            result.added += 1
        else:
            result.updated += 1
    flush_roster(session)
    result.skipped.sort()
    return result
