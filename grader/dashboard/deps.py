"""The dashboard routes' request dependencies: one database transaction per request and the Bearer user.

Kept here (not borrowed from grader.api) so the dashboard's router works in any FastAPI app that includes it,
and so its routes can be tested without the submissions side of the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from ..db.models import User
from ..db.session import session_scope
from ..errors import Unauthorized
from ..users.service import authenticate


def db_session() -> Iterator[Session]:
    # write=True: regrades read then write, and on SQLite such a transaction must queue for the lock.
    with session_scope(write=True) as session:
        yield session


# scope="function": the transaction commits before the response is sent (FastAPI's default runs a yield
# dependency's exit after sending), so a client that reads right after a 202 sees what it was told happened.
SessionDep = Annotated[Session, Depends(db_session, scope="function")]


def current_user(request: Request, session: SessionDep) -> User:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    return authenticate(session, token.strip())


UserDep = Annotated[User, Depends(current_user)]
