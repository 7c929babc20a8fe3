"""Make a database ready to serve: the schema (fresh databases only, see migrate.ensure_schema) and the
default course. Every command that touches the database starts here, so a fresh install works from its
first command, whichever that is."""

from __future__ import annotations

from .courses.service import ensure_default_course
from .db.migrate import ensure_schema
from .db.session import session_scope


def prepare_database(url: str | None = None) -> None:
    ensure_schema(url)
    with session_scope(url, write=True) as session:
        ensure_default_course(session)
