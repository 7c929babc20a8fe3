"""An app serving the dashboard's routes on the test's database session (rolled back after the test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from grader.api import deps
from grader.dashboard.routes import router
from grader.errors import GraderError


def dashboard_app(session: Session) -> FastAPI:
    app = FastAPI()
    app.include_router(router)

    @app.exception_handler(GraderError)
    async def _grader_error(_request: Request, error: GraderError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)

    # The request's transaction is the test's own, so rows the test added are visible and rolled back after.
    app.dependency_overrides[deps.db_session] = lambda: session
    return app


@pytest.fixture
def client(db_session: Session) -> Iterator[TestClient]:
    with TestClient(dashboard_app(db_session)) as test_client:
        yield test_client
