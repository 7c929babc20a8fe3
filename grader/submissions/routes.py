"""/api/v1/submissions (and the grading banner's /api/v1/status): thin routes, one service call each."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..api.deps import CurrentUser, DbSession
from ..db.session import get_sessionmaker
from . import service
from .filenames import content_disposition
from .grading_status import grading_status
from .schemas import Accepted, GradingStatus, Report, SubmissionSummary

router = APIRouter(prefix="/api/v1", tags=["submissions"])
EVENT_POLL_S = 0.5


@router.post("/submissions", status_code=202, response_model=Accepted)
def submit(request: Request, session: DbSession, user: CurrentUser, file: UploadFile,
           assignment: Annotated[str, Form()] = "capstone") -> Accepted:
    submission = service.submit_upload(session, user, file.file, file.filename or "upload", assignment)
    url = str(request.url_for("get_submission", submission_id=str(submission.id)).path)
    return Accepted(id=str(submission.id), status=submission.status, status_url=url,
                    compile_errors=submission.compile_errors)


@router.get("/submissions", response_model=list[SubmissionSummary])
def list_own(session: DbSession, user: CurrentUser) -> list[dict]:  # type: ignore[type-arg]
    return service.list_submissions(session, user)


@router.get("/status", response_model=GradingStatus, openapi_extra={"security": []})  # the banner: no sign-in
def status(session: DbSession) -> dict:  # type: ignore[type-arg]
    return grading_status(session)


@router.get("/submissions/{submission_id}", response_model=Report)
def get_submission(submission_id: str, session: DbSession, user: CurrentUser) -> dict:  # type: ignore[type-arg]
    return service.get_report(session, user, submission_id)


@router.get("/submissions/{submission_id}/upload", response_class=FileResponse,
            responses={200: {"content": {"application/zip": {}, "application/gzip": {}, "application/x-tar": {}},
                             "description": "the archive as it was uploaded"}})
def download_upload(submission_id: str, session: DbSession, user: CurrentUser) -> FileResponse:
    upload = service.upload_of(session, user, submission_id)
    return FileResponse(upload.path, media_type=upload.media_type,
                        headers={"Content-Disposition": content_disposition(upload.filename),
                                 "X-Content-Type-Options": "nosniff"})


@router.get("/submissions/{submission_id}/events", response_class=StreamingResponse, responses={200: {
    "description": "progress as server-sent events (`progress`, then `done`)", "content": {"text/event-stream": {}}}})
def events(submission_id: str, session: DbSession, user: CurrentUser) -> StreamingResponse:
    service.progress_of(session, user, submission_id)  # access check (404) before the stream starts
    session.commit()  # end this request's transaction now: on SQLite an open one would hold off the worker's writes
    user_id = user.id

    def snapshot() -> dict:  # type: ignore[type-arg]
        with get_sessionmaker()() as fresh:  # the request's session is gone once streaming starts
            return service.progress_of(fresh, fresh.get(type(user), user_id), submission_id)

    async def stream() -> AsyncIterator[str]:
        while True:
            state = await run_in_threadpool(snapshot)
            yield f"event: progress\ndata: {json.dumps(state)}\n\n"
            if state["status"] in ("graded", "failed"):
                yield f"event: done\ndata: {json.dumps(state)}\n\n"
                return
            await asyncio.sleep(EVENT_POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
