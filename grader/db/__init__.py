"""The database: SQLAlchemy models (models.py), engines and sessions (session.py), Alembic migrations
(migrations/, applied by migrate.py or `grader db upgrade`)."""

from .session import dispose_engines, get_engine, get_sessionmaker, make_engine, session_scope

__all__ = ["dispose_engines", "get_engine", "get_sessionmaker", "make_engine", "session_scope"]
