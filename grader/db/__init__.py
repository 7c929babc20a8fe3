"""The database: SQLAlchemy models (models.py), engines and sessions (session.py), Alembic migrations
(migrations/, applied by migrate.py or `grader db upgrade`)."""

from typing import Any

__all__ = ["dispose_engines", "get_engine", "get_sessionmaker", "make_engine", "session_scope"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: `grader db ...` and `grader grade` import this package's commands without needing
    # SQLAlchemy (0.3 s) until a command actually touches the database.
    if name in __all__:
        from . import session

        return getattr(session, name)
    raise AttributeError(name)
