"""Finding or creating an assignment's line item through the platform's line items service (AGS 2.0, 3.2), for a
link whose launch names only the container (`lineitems`): the gradebook column is then the tool's own, found
again by its resourceId `course/assignment`, created with the assignment's maximum the first time."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...db.models import Assignment, Course, LtiPlatform, Submission
from ...errors import BadRequest
from .service_token import access_token

LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
DEFAULT_MAXIMUM = 100.0


def assignment_maximum(session: Session, assignment: Assignment) -> float:
    """No fixed maximum is stored: the rubric's total shows on graded work; 100 before any is graded."""
    top = session.scalar(select(func.max(Submission.max_score)).where(Submission.assignment_id == assignment.id))
    return float(top) if top else DEFAULT_MAXIMUM


def _with_query(url: str, extra: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def find_or_create_line_item(session: Session, platform: LtiPlatform, lineitems_url: str, course: Course,
                             assignment: Assignment, http: httpx.Client | None = None) -> str:
    """The URL of the line item whose resourceId is `course/assignment` in the container, made if missing."""
    resource_id = f"{course.slug}/{assignment.slug}"
    client = http or httpx.Client(timeout=10.0)
    try:
        token = access_token(session, platform, [LINEITEM_SCOPE], client)
        auth = {"Authorization": f"Bearer {token}"}
        found = client.get(_with_query(lineitems_url, str(httpx.QueryParams({"resource_id": resource_id}))),
                           headers={**auth, "Accept": CONTAINER_TYPE})
        if found.status_code == 200:
            for item in found.json():
                if isinstance(item, dict) and item.get("resourceId") == resource_id and isinstance(item.get("id"), str):
                    return str(item["id"])
        body: dict[str, Any] = {"scoreMaximum": assignment_maximum(session, assignment), "label": assignment.title,
                                "resourceId": resource_id, "tag": "grader"}
        made = client.post(lineitems_url, json=body, headers={**auth, "Content-Type": LINEITEM_TYPE,
                                                                "Accept": LINEITEM_TYPE})
        if made.status_code not in (200, 201) or not isinstance(made.json().get("id"), str):
            raise BadRequest(f"the LMS did not create the gradebook column (HTTP {made.status_code})")
        return str(made.json()["id"])
    except (httpx.HTTPError, ValueError) as error:
        raise BadRequest(f"could not reach the LMS's line items service ({type(error).__name__})") from None
    finally:
        if http is None:
            client.close()
