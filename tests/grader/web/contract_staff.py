"""The contract app's course-staff routes (docs/course-api.md "Course administration" and "dashboard")."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse

from tests.grader.web import contract_data as data

BASE = "/api/v1/instructor"
COUNTING = ("sub-ada-1", "sub-ada-4", "sub-bob-1", "sub-cy-1")


def staff_routes(r: APIRouter, term: Any, who: Callable, staff: Callable, own: Callable, summary: Callable) -> None:
    async def teacher(request: Request) -> str:
        email = await who(request)
        staff(email)
        return email

    def assignment_rows() -> list[dict[str, Any]]:
        student_only = ("course", "course_name", "your_due_at")
        return [{k: v for k, v in a.items() if k not in student_only} for a in term.assignments]

    @r.get(BASE + "/courses")
    async def courses(request: Request) -> list[dict[str, Any]]:
        await teacher(request)
        return [c | {"assignments": assignment_rows() if c["slug"] == "cs1" else []} for c in term.courses]

    @r.post(BASE + "/courses", status_code=201)
    async def create_course(request: Request) -> dict[str, Any]:
        await teacher(request)
        body = await request.json()
        if any(c["slug"] == body["slug"] for c in term.courses):
            raise HTTPException(409, f"course {body['slug']!r} already exists")
        course = {"slug": body["slug"], "name": body["name"], "role": "instructor", "archived": False}
        term.courses.append(course)
        return course

    @r.post(BASE + "/courses/{course}/assignments", status_code=201)
    async def create_assignment(course: str, request: Request) -> dict[str, Any]:
        await teacher(request)
        body = await request.json()
        row = {"course": course, "course_name": "", "your_due_at": None, "opens_at": None, "due_at": None,
               "due_time_zone": None, "late_policy": {"penalty_per_day": 0, "max_late_days": None},
               "score_policy": "best", "max_submissions_per_hour": None, "archived": False} | body
        term.assignments.append(row)
        return row

    @r.patch(BASE + "/courses/{course}/assignments/{slug}")
    async def edit_assignment(course: str, slug: str, request: Request) -> dict[str, Any]:
        await teacher(request)
        row = next(a for a in term.assignments if a["slug"] == slug)
        row.update(await request.json())
        return row

    @r.get(BASE + "/courses/{course}/roster")
    async def roster(course: str, request: Request) -> dict[str, Any]:
        await teacher(request)
        return {"members": term.roster}

    @r.post(BASE + "/courses/{course}/roster", status_code=201)
    async def add(course: str, request: Request) -> dict[str, Any]:
        await teacher(request)
        body = await request.json()
        member = {"user_id": 100 + len(term.roster), "email": body["email"], "name": body.get("name"),
                  "role": body.get("role", "student"), "section": body.get("section"), "sis_id": None,
                  "dropped": False, "last_submission_at": None}
        term.roster.append(member)
        return member

    @r.patch(BASE + "/courses/{course}/roster/{user_id}")
    async def change(course: str, user_id: int, request: Request) -> dict[str, Any]:
        await teacher(request)
        member = next(m for m in term.roster if m["user_id"] == user_id)
        member.update(await request.json())
        return member

    @r.post(BASE + "/courses/{course}/roster/import")
    async def import_roster(course: str, request: Request) -> dict[str, Any]:
        await teacher(request)
        form = await request.form()
        text = (await form["file"].read()).decode()  # type: ignore[union-attr]
        term.requests.append(("POST", "import", {"format": form.get("format")}))
        added, skipped = 0, []
        for line, row in enumerate(io.StringIO(text).read().splitlines()[1:], start=2):
            email = row.split(",")[0].strip()
            if "@" not in email:
                skipped.append({"line": line, "reason": f"no email address in {email!r}"})
            else:
                added += 1
        return {"added": added, "updated": 1, "skipped": skipped}

    @r.post(BASE + "/courses/{course}/roster/{user_id}/sign-in-link", status_code=201)
    async def link(course: str, user_id: int, request: Request) -> dict[str, str]:
        await teacher(request)
        return {"url": f"http://testserver/sign-in/link?token=link-{user_id}",
                "expires_at": "2027-01-14T12:30:00+00:00"}

    @r.get(BASE + "/courses/{course}/assignments/{slug}/extensions")
    async def extensions(course: str, slug: str, request: Request) -> list[dict[str, Any]]:
        await teacher(request)
        return term.extensions.get(slug, [])

    @r.put(BASE + "/courses/{course}/assignments/{slug}/extensions/{user_id}")
    async def extend(course: str, slug: str, user_id: int, request: Request) -> dict[str, Any]:
        await teacher(request)
        body = await request.json()
        email = next(m["email"] for m in term.roster if m["user_id"] == user_id)
        row = {"user_id": user_id, "email": email, "due_at": body["due_at"], "reason": body.get("reason")}
        term.extensions.setdefault(slug, []).append(row)
        return row

    @r.delete(BASE + "/courses/{course}/assignments/{slug}/extensions/{user_id}")
    async def unextend(course: str, slug: str, user_id: int, request: Request) -> dict[str, str]:
        await teacher(request)
        term.extensions[slug] = [x for x in term.extensions.get(slug, []) if x["user_id"] != user_id]
        return {"detail": "removed"}

    def grade(s: dict[str, Any] | None) -> dict[str, Any] | None:
        if s is None:
            return None
        failed = [f"{t['suite']}::{t['name']}" for t in s["tests"] if t["outcome"] in ("failed", "error")]
        override = s["override"]["score"] if s["override"] else None
        counted = override if override is not None else (s["late"]["adjusted_score"] if s["late"] else s["score"])
        return {"submission_id": s["id"], "score": counted, "raw_score": s["score"], "override_score": override,
                "override_comment": s["override"]["comment"] if s["override"] else None, "late": s["late"],
                "max_score": s["max_score"], "status": s["status"], "graded_at": s["graded_at"], "submissions": 1,
                "failed_tests": failed, "failed_modules": []}

    @r.get(BASE + "/courses/{course}/grades")
    async def grades(course: str, request: Request) -> dict[str, Any]:
        await teacher(request)
        rows = []
        for m in term.roster:
            if m["role"] != "student" or m["dropped"]:
                continue
            counted = {s["assignment"]: s for s in term.submissions.values()
                       if s["email"] == m["email"] and (s["id"] in COUNTING or s["id"].startswith("sub-new"))}
            rows.append({"user_id": m["user_id"], "email": m["email"], "name": m["name"], "section": m["section"],
                         "grades": {a["slug"]: grade(counted.get(a["slug"])) for a in term.assignments}})
        return {"course": course, "assignments": assignment_rows(), "rows": rows}

    @r.get(BASE + "/courses/{course}/grades.csv")
    async def grades_csv(course: str, request: Request) -> PlainTextResponse:
        await teacher(request)
        return PlainTextResponse("email,capstone\nada@example.edu,50\n", media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{course}-grades.csv"'})

    @r.get(BASE + "/courses/{course}/students/{user_id}/submissions")
    async def student(course: str, user_id: int, request: Request) -> dict[str, Any]:
        await teacher(request)
        member = next(m for m in term.roster if m["user_id"] == user_id)
        subs = sorted((s for s in term.submissions.values() if s["email"] == member["email"]),
                      key=lambda s: s["created_at"], reverse=True)
        return {"user": member, "submissions": [summary(s) | {
            "counted_score": (grade(s) or {}).get("score"), "override_score": (grade(s) or {}).get("override_score"),
            "late": s["late"]} for s in subs]}

    @r.get(BASE + "/courses/{course}/assignments/{slug}/modules")
    async def modules(course: str, slug: str, request: Request) -> dict[str, Any]:
        await teacher(request)
        return data.MODULES

    @r.get(BASE + "/submissions/{sid}")
    async def report(sid: str, request: Request) -> dict[str, Any]:
        email = await teacher(request)
        return {k: v for k, v in own(email, sid).items() if k != "upload"}

    @r.put(BASE + "/submissions/{sid}/override")
    async def override(sid: str, request: Request) -> dict[str, Any]:
        email = await teacher(request)
        body = await request.json()
        s = own(email, sid)
        s["override"] = {"score": body["score"], "comment": body["comment"], "by": email,
                         "at": "2027-01-20T09:00:00+00:00"}
        return s

    @r.delete(BASE + "/submissions/{sid}/override")
    async def unoverride(sid: str, request: Request) -> dict[str, Any]:
        email = await teacher(request)
        s = own(email, sid)
        s["override"] = None
        return s

    @r.post(BASE + "/submissions/{sid}/regrade", status_code=202)
    async def regrade(sid: str, request: Request) -> dict[str, Any]:
        await teacher(request)
        return {"batch": "batch-1", "regrades": [{"submission_id": sid}]}

    @r.post(BASE + "/courses/{course}/assignments/{slug}/regrade", status_code=202)
    async def regrade_all(course: str, slug: str, request: Request) -> dict[str, Any]:
        await teacher(request)
        return {"batch": "batch-1", "regrades": [{"submission_id": "sub-cy-1"}]}

    @r.get(BASE + "/regrades/{batch}")
    async def batch(batch: str, request: Request) -> dict[str, Any]:
        await teacher(request)
        return {"batch": batch, "total": 1, "finished": 1, "changed": 1, "regrades": [
            {"submission_id": "sub-cy-1", "user_id": 13, "email": "cy@example.edu", "name": None, "old_score": 20.0,
             "new_score": 35.0, "delta": 15.0, "finished_at": "2027-01-20T09:00:00+00:00",
             "old_suite_version": "suite-7", "new_suite_version": "suite-8", "old_sandbox_image": "bwrap:3",
             "new_sandbox_image": "bwrap:3"}]}

    @r.get(BASE + "/status")
    async def status(request: Request) -> dict[str, Any]:
        await teacher(request)
        return {"stuck_gradings": 2, "oldest_queued_s": 5400, "grading": "delayed",
                "detail": "bwrap sandbox check failing on grader-2"}
