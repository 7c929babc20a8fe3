"""The webhook routes (docs/lms.md, "Webhooks"): one call of grader.lms.webhooks.admin each."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from ...api.deps import CurrentUser, DbSession
from . import admin

router = APIRouter(prefix="/api/v1/instructor", tags=["webhooks"])
HOOKS = "/courses/{course}/webhooks"


class EndpointIn(BaseModel):
    url: str
    events: list[str] | None = None  # None: every event kind



@router.post(HOOKS, status_code=201)
def add_webhook(course: str, body: EndpointIn, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    return admin.add(session, user, course, body.url, body.events)


@router.get(HOOKS)
def list_webhooks(course: str, session: DbSession, user: CurrentUser) -> list[dict[str, Any]]:
    return admin.listing(session, user, course)


@router.delete(HOOKS + "/{endpoint_id}", status_code=204)
def remove_webhook(course: str, endpoint_id: int, session: DbSession, user: CurrentUser) -> Response:
    admin.remove(session, user, course, endpoint_id)
    return Response(status_code=204)


@router.get(HOOKS + "/{endpoint_id}/deliveries")
def webhook_deliveries(course: str, endpoint_id: int, session: DbSession, user: CurrentUser) -> list[dict[str, Any]]:
    return admin.deliveries(session, user, course, endpoint_id)


@router.post("/webhook-deliveries/{delivery_id}/redeliver", status_code=202)
def redeliver_webhook(delivery_id: int, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    return admin.redeliver(session, user, delivery_id)
