"""A stand-in for the backend of docs/course-api.md, for the page tests only: the real page router
(grader.web.routes) plus in-memory JSON routes answering as the contract says, with its session rules (a
`tt_session` cookie, the CSRF header on every change: 403 without it). The real routes are built elsewhere;
test_course_term_e2e.py drives the pages against them."""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse

from grader.errors import GraderError
from grader.web.routes import router as web_router
from tests.grader.web import contract_data as data

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class Term:
    """The course term's state, and what the page sent (so tests can assert on requests too)."""

    def __init__(self, grading_s: float = 3.0) -> None:
        self.users = data.users()
        self.assignments = data.assignments()
        self.submissions = data.submissions()
        self.roster = data.roster()
        self.sessions: dict[str, dict[str, str]] = {}
        self.extensions: dict[str, list[dict[str, Any]]] = {"autograd": [
            {"user_id": 11, "email": "ada@example.edu", "due_at": "2027-01-12T23:59:00+05:30", "reason": "ill"}]}
        self.courses = [{"slug": "cs1", "name": "TinyTorch spring 2027", "role": "instructor", "archived": False}]
        self.status = {"grading": "delayed", "message": "Grading is slower than usual; your work is safe in the queue."}
        self.grading_s = grading_s
        self.started: dict[str, float] = {}
        self.requests: list[tuple[str, str, Any]] = []


def contract_app(term: Term) -> FastAPI:
    app = FastAPI()
    app.include_router(web_router)
    app.include_router(_router(term))

    @app.exception_handler(GraderError)
    async def _grader_error(_request: Request, error: GraderError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code)

    return app


def _router(term: Term) -> APIRouter:
    r = APIRouter()

    async def who(request: Request) -> str:
        session = term.sessions.get(request.cookies.get("tt_session", ""))
        if session is None:
            raise HTTPException(401, "not signed in")
        if request.method in MUTATING and request.headers.get("x-csrf-token") != session["csrf"]:
            raise HTTPException(403, "missing or wrong CSRF token")
        body: Any = None
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await request.json()
        term.requests.append((request.method, request.url.path, body))
        return session["email"]

    def staff(email: str) -> None:
        if term.users.get(email, {}).get("role") != "instructor":
            raise HTTPException(403, "course staff only")

    @r.post("/auth/token")
    async def sign_in(request: Request) -> Response:
        email = data.TOKENS.get((await request.json()).get("token", ""))
        if email is None:
            raise HTTPException(401, "no such token")
        sid = secrets.token_urlsafe(16)
        term.sessions[sid] = {"email": email, "csrf": secrets.token_urlsafe(16)}
        target = "/instructor" if term.users[email]["role"] == "instructor" else "/"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie("tt_session", sid, httponly=True, samesite="lax")
        return response

    @r.post("/auth/sign-out")
    async def sign_out(request: Request) -> Response:
        await who(request)
        term.sessions.pop(request.cookies.get("tt_session", ""), None)
        response = JSONResponse({"detail": "signed out"})
        response.delete_cookie("tt_session")
        return response

    @r.get("/api/v1/me")
    async def me(request: Request) -> dict[str, Any]:
        email = await who(request)
        user = term.users[email]
        csrf = term.sessions[request.cookies["tt_session"]]["csrf"]
        return {"email": email, "name": user["name"], "role": user["role"], "csrf_token": csrf,
                "courses": [{"slug": "cs1", "name": "TinyTorch spring 2027", "role": user["role"]}],
                "tokens": [{"prefix": user["prefix"], "label": "web", "created_at": "2027-01-01T00:00:00+00:00",
                            "last_used_at": None}]}

    @r.post("/api/v1/me/token", status_code=201)
    async def rotate(request: Request) -> dict[str, str]:
        email = await who(request)
        token = "tt_" + secrets.token_hex(16)
        term.users[email]["prefix"] = token[:8]
        return {"token": token, "prefix": token[:8]}

    @r.get("/api/v1/status")
    async def status(request: Request) -> dict[str, Any]:
        return term.status

    @r.get("/api/v1/assignments")
    async def assignments(request: Request) -> dict[str, Any]:
        email = await who(request)
        out = []
        for a in term.assignments:
            own = [s for s in term.submissions.values() if s["email"] == email and s["assignment"] == a["slug"]]
            graded = [s for s in own if s["status"] == "graded"]
            best = max(graded, key=lambda s: s["score"]) if graded else None
            counting = None if best is None else {
                "submission_id": best["id"], "status": "graded", "score": best["score"], "raw_score": best["score"],
                "max_score": best["max_score"], "override_score": None, "late": best["late"]}
            shown = {k: v for k, v in a.items() if k != "archived"}
            out.append(shown | {"submissions": len(own), "counting": counting})
        return {"assignments": out}

    def progress(s: dict[str, Any]) -> None:
        """An upload grades itself over `grading_s` seconds from its first look: queued, running, graded."""
        if s["id"] not in term.started or s["status"] in ("graded", "failed"):
            return
        elapsed = time.monotonic() - term.started[s["id"]]
        if elapsed >= term.grading_s:
            broken = "broken" in s["filename"]
            s.update(status="graded", score=50.0 if broken else 80.0, graded_at="2027-01-14T12:00:05+00:00",
                     tests=copy.deepcopy(data.FAILING_TESTS if broken else data.PASSING_TESTS),
                     priorities=data.PRIORITIES, reproduce="pytest capstone_tests --tinytorch . --seed 99 -q")
        elif elapsed >= term.grading_s / 4:
            s["status"] = "running"

    def own(email: str, sid: str) -> dict[str, Any]:
        s = term.submissions.get(sid)
        if s is None or (s["email"] != email and term.users.get(email, {}).get("role") != "instructor"):
            raise HTTPException(404, f"no submission {sid!r}")
        progress(s)
        return s

    def summary(s: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "status", "assignment", "course", "score", "max_score", "filename", "created_at", "graded_at")
        return {k: s[k] for k in keys} | {"counts": s["id"] in ("sub-ada-1", "sub-ada-4", "sub-bob-1", "sub-cy-1")}

    @r.post("/api/v1/submissions", status_code=202)
    async def submit(request: Request) -> dict[str, Any]:
        email = await who(request)
        form = await request.form()
        upload = form["file"]
        sid = "sub-new-" + secrets.token_hex(4)
        term.requests.append(("POST", "/api/v1/submissions", {"assignment": form.get("assignment")}))
        slug = str(form.get("assignment")).rpartition("/")[2]  # "course/slug", as the real route takes it
        term.submissions[sid] = data.submission(sid, email, slug, "queued",
                                                "2027-01-14T12:00:00+00:00", filename=upload.filename)  # type: ignore[union-attr]
        term.submissions[sid]["upload"] = await upload.read()  # type: ignore[union-attr]
        term.started[sid] = time.monotonic()
        return {"id": sid, "status": "queued", "status_url": f"/api/v1/submissions/{sid}", "compile_errors": []}

    @r.get("/api/v1/submissions")
    async def listing(request: Request) -> list[dict[str, Any]]:
        email = await who(request)
        mine = [s for s in term.submissions.values() if s["email"] == email]
        for s in mine:
            progress(s)
        return [summary(s) for s in sorted(mine, key=lambda s: s["created_at"], reverse=True)]

    @r.get("/api/v1/submissions/{sid}")
    async def report(sid: str, request: Request) -> dict[str, Any]:
        return {k: v for k, v in own(await who(request), sid).items() if k != "upload"}

    @r.get("/api/v1/submissions/{sid}/upload")
    async def upload(sid: str, request: Request) -> Response:
        s = own(await who(request), sid)
        return Response(s.get("upload", b"PK\x05\x06" + b"\0" * 18), media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{s["filename"]}"'})

    @r.get("/api/v1/submissions/{sid}/events")
    async def events(sid: str, request: Request) -> StreamingResponse:
        email = await who(request)
        own(email, sid)

        async def stream() -> AsyncIterator[str]:
            while True:
                s = own(email, sid)
                total = 6
                done = 0 if s["status"] == "queued" else total if s["status"] == "graded" else min(
                    total - 1, int((time.monotonic() - term.started.get(sid, 0)) / term.grading_s * total))
                state = {"status": s["status"], "delayed": s["delayed"], "done": done, "total": total, "current": None}
                yield f"event: progress\ndata: {json.dumps(state)}\n\n"
                if s["status"] in ("graded", "failed"):
                    yield f"event: done\ndata: {json.dumps(state)}\n\n"
                    return
                await asyncio.sleep(0.3)

        return StreamingResponse(stream(), media_type="text/event-stream")

    from tests.grader.web.contract_staff import staff_routes

    staff_routes(r, term, who, staff, own, summary)
    from tests.grader.web.contract_lms import lms_routes

    lms_routes(r, term, who)

    from tests.grader.web.contract_similarity import similarity_routes

    similarity_routes(r, term, who, staff)
    return r


def sign_in_cookie(page: Any, url: str, token: str) -> None:
    """Sign the page's browser context in as the contract's POST /auth/token does (the /sign-in page is another
    engineer's): the cookie lands in the context's jar, so the page's own fetches carry it."""
    response = page.request.post(url + "/auth/token", data={"token": token}, max_redirects=0)
    assert response.status == 303, response.text()

