"""Request dependencies: one database session per request, and the user its Bearer token belongs to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy.orm import Session

from ..db.models import User
from ..db.session import get_sessionmaker
from ..errors import Unauthorized
from ..users.service import authenticate


def db_session() -> Iterator[Session]:
    # write=True: requests read then write (a token's last use, a new submission); on SQLite they queue for
    # the write lock instead of failing. Routes that must commit before acting (enqueue) commit themselves.
    with get_sessionmaker(write=True)() as session:
        yield session
        session.commit()


DbSession = Annotated[Session, Depends(db_session)]


def current_user(session: DbSession, authorization: Annotated[str | None, Header()] = None) -> User:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    user = authenticate(session, token.strip())
    # End the transaction (and so SQLite's write lock) now: the route's own work, e.g. unpacking an upload,
    # must not hold it. The user object stays usable (expire_on_commit=False).
    session.commit()
    return user


CurrentUser = Annotated[User, Depends(current_user)]
