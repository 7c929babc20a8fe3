"""The contract app's LMS routes (docs/lms.md "Webhooks" and "LTI 1.3"), for the LMS panel's page tests: in-memory
endpoints, deliveries and platforms shaped as the real routes answer, refused with the real checks' own words
(grader.lms.webhooks.endpoints, grader.lms.lti.platforms, the real request models), and the real /lti/config.
Some stored values are hostile (a URL and a receiver's answer carrying markup): the page must show them as text.
The reader's role in the course is the course listing's (`term.courses[...]["role"]`): a "ta" reads only."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from grader.errors import BadRequest, Conflict
from grader.lms.lti.platforms import _text, _url  # the real refusals, in the real words
from grader.lms.lti.routes import PlatformIn
from grader.lms.lti.tool_config import tool_config
from grader.lms.webhooks.endpoints import checked_events, checked_url
from grader.lms.webhooks.routes import EndpointIn

BASE = "/api/v1/instructor"
HOSTILE_EXCERPT = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
HOSTILE_URL = 'https://evil.example/"><img/src=x/onerror=window.__pwned=3>'
GONE = "the receiver answered 410 Gone"


def _attempt(at: str, code: int | None, ms: int | None, excerpt: str | None, error: str | None) -> dict[str, Any]:
    return {"at": at, "status_code": code, "latency_ms": ms, "response_excerpt": excerpt, "error": error}


def _delivery(did: int, kind: str, state: str, attempts: list[dict[str, Any]], created: str) -> dict[str, Any]:
    return {"id": did, "event_id": f"0000-{did}", "event": kind, "submission_id": f"sub-{did}", "state": state,
            "tries": len(attempts), "next_attempt_at": "2027-01-20T10:05:00+00:00" if state == "pending" else None,
            "delivered_at": created if state == "delivered" else None, "created_at": created, "attempts": attempts}


def endpoints() -> list[dict[str, Any]]:
    return [
        {"id": 1, "url": "https://lms.example.edu/hooks/grades", "events": ["submission.graded", "grade.changed"],
         "status": "active", "disabled_at": None, "disabled_reason": None, "created_at": "2027-01-10T09:00:00+00:00"},
        {"id": 2, "url": HOSTILE_URL, "events": ["submission.graded", "submission.failed", "grade.changed"],
         "status": "disabled", "disabled_at": "2027-01-19T08:00:00+00:00", "disabled_reason": GONE,
         "created_at": "2027-01-11T09:00:00+00:00"}]


def deliveries() -> dict[int, list[dict[str, Any]]]:
    first = [_delivery(103, "grade.changed", "pending", [
        _attempt("2027-01-20T10:00:00+00:00", None, 10002, None, "ReadTimeout: no answer within 10 s")],
        "2027-01-20T10:00:00+00:00"),
        _delivery(102, "submission.graded", "failed", [
            _attempt("2027-01-19T12:00:00+00:00", 500, 87, HOSTILE_EXCERPT, None)], "2027-01-19T12:00:00+00:00"),
        _delivery(101, "submission.graded", "delivered", [
            _attempt("2027-01-18T12:00:00+00:00", 503, 41, "busy, try later", None),
            _attempt("2027-01-18T12:00:30+00:00", 200, 35, '{"ok": true}', None)], "2027-01-18T12:00:00+00:00")]
    first += [_delivery(200 + n, "submission.graded", "delivered", [
        _attempt("2027-01-17T12:00:00+00:00", 204, 20, None, None)], "2027-01-17T12:00:00+00:00") for n in range(25)]
    gone = [_delivery(301, "submission.failed", "failed", [
        _attempt("2027-01-19T08:00:00+00:00", 410, 12, "gone", None)], "2027-01-19T08:00:00+00:00")]
    return {1: first, 2: gone}


def platforms() -> list[dict[str, Any]]:
    return [{"id": 1, "issuer": "https://canvas.example.edu", "client_id": "10000000000042",
             "deployment_ids": ["1:abc", "2:def"], "jwks_url": "https://canvas.example.edu/api/lti/security/jwks",
             "auth_url": "https://canvas.example.edu/api/lti/authorize_redirect",
             "token_url": "https://canvas.example.edu/login/oauth2/token?x=<img/src=x/onerror=window.__pwned=4>",
             "course": "cs1"}]


SYNC = {"enrolled": 3, "dropped": 1,
        "skipped": ["Sam Noemail: the LMS shares no email address for this person",
                    "<b>Root</b>: ada@root.example is site staff here: a course's own registration may not sign "
                    "them in"]}


class LmsState:
    def __init__(self) -> None:
        self.endpoints = endpoints()
        self.deliveries = deliveries()
        self.platforms = platforms()
        self.next_id = 10


def lms_routes(r: APIRouter, term: Any, who: Callable) -> None:
    term.lms = state = LmsState()

    async def reader(course: str, request: Request) -> str:
        """The course's staff: its role from the course listing; 404 for a course not listed."""
        await who(request)
        found = next((c for c in term.courses if c["slug"] == course), None)
        if found is None:
            raise HTTPException(404, f"no course {course!r}")
        return str(found["role"])

    async def changer(course: str, request: Request) -> None:
        if await reader(course, request) != "instructor":
            raise HTTPException(403, f"only an instructor of course {course} may change it, its assignments or "
                                     "its staff")

    def endpoint(eid: int) -> dict[str, Any]:
        found = next((e for e in state.endpoints if e["id"] == eid), None)
        if found is None:
            raise HTTPException(404, f"no webhook endpoint {eid}")
        return found

    @r.get(BASE + "/courses/{course}/webhooks")
    async def list_hooks(course: str, request: Request) -> list[dict[str, Any]]:
        await reader(course, request)
        return copy.deepcopy(state.endpoints)

    @r.post(BASE + "/courses/{course}/webhooks", status_code=201)
    async def add_hook(course: str, body: EndpointIn, request: Request) -> dict[str, Any]:
        await changer(course, request)
        state.next_id += 1
        made = {"id": state.next_id, "url": checked_url(body.url), "events": checked_events(body.events),
                "status": "active", "disabled_at": None, "disabled_reason": None,
                "created_at": "2027-01-20T11:00:00+00:00"}
        state.endpoints.append(made)
        state.deliveries[made["id"]] = []
        return made | {"secret": f"whsec_c3RhbmQtaW4gc2VjcmV0IG51bWJlciB{state.next_id}"}

    @r.delete(BASE + "/courses/{course}/webhooks/{eid}", status_code=204)
    async def remove_hook(course: str, eid: int, request: Request) -> Response:
        await changer(course, request)
        state.endpoints.remove(endpoint(eid))
        return Response(status_code=204)

    @r.get(BASE + "/courses/{course}/webhooks/{eid}/deliveries")
    async def hook_deliveries(course: str, eid: int, request: Request) -> list[dict[str, Any]]:
        await reader(course, request)
        endpoint(eid)
        return copy.deepcopy(state.deliveries.get(eid, []))

    @r.post(BASE + "/webhook-deliveries/{did}/redeliver", status_code=202)
    async def redeliver(did: int, request: Request) -> dict[str, Any]:
        await changer("cs1", request)
        for eid, rows in state.deliveries.items():
            for d in rows:
                if d["id"] == did:
                    hook = endpoint(eid)
                    if hook["status"] != "active":
                        raise Conflict(f"webhook endpoint {eid} is disabled ({hook['disabled_reason']}): add the "
                                       "receiver's URL again to send to it")
                    d.update(state="pending", tries=0, next_attempt_at="2027-01-20T11:00:00+00:00")
                    return {"id": did, "state": "pending", "event_id": d["event_id"]}
        raise HTTPException(404, f"no webhook delivery {did}")

    @r.get("/lti/config")
    async def config(request: Request) -> dict[str, Any]:
        return tool_config(str(request.base_url))

    @r.get(BASE + "/courses/{course}/lti/platforms")
    async def list_platforms(course: str, request: Request) -> dict[str, Any]:
        await reader(course, request)
        return {"platforms": copy.deepcopy(state.platforms)}

    @r.post(BASE + "/courses/{course}/lti/platforms", status_code=201)
    async def add_platform(course: str, body: PlatformIn, request: Request) -> dict[str, Any]:
        await changer(course, request)
        deployments = [_text(d, "a deployment id", 255) for d in body.deployment_ids]
        if not deployments:
            raise BadRequest("a registration needs at least one deployment id (the LMS shows it on the tool's page)")
        row = {"issuer": _text(body.issuer, "the issuer", 500),
               "client_id": _text(body.client_id, "the client id", 255),
               "deployment_ids": sorted(set(deployments)), "jwks_url": _url(body.jwks_url, "the JWKS URL"),
               "auth_url": _url(body.auth_url, "the auth (OIDC) URL"),
               "token_url": _url(body.token_url, "the token URL")}
        key = (row["issuer"], row["client_id"])
        clash = next((p for p in state.platforms if (p["issuer"], p["client_id"]) == key), None)
        if clash is not None:
            raise Conflict(f"issuer {row['issuer']!r} with client id {row['client_id']!r} is registered already "
                           f"(registration {clash['id']})")
        state.next_id += 1
        made = {"id": state.next_id, **row, "course": course}
        state.platforms.append(made)
        return made

    @r.post(BASE + "/courses/{course}/lti/roster-sync")
    async def roster_sync(course: str, request: Request) -> dict[str, Any]:
        await changer(course, request)
        return copy.deepcopy(SYNC)
