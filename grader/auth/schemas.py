"""The sign-in routes' bodies: JSON from scripts, or a plain form from the sign-in pages, read the same way."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs

from fastapi import Request
from pydantic import BaseModel, ValidationError

from ..errors import BadRequest, GraderError

# These bodies hold one short field; anything much bigger is not a sign-in.
MAX_BODY_BYTES = 16 * 1024


class PayloadTooLarge(GraderError):
    status_code = 413
    default_detail = f"the request body is too large (a sign-in request is under {MAX_BODY_BYTES} bytes)"


class MalformedBody(GraderError):
    status_code = 422
    default_detail = "malformed request body"


class EmailIn(BaseModel):
    email: str


class TokenIn(BaseModel):
    token: str


class SignOutIn(BaseModel):
    csrf_token: str | None = None


class Detail(BaseModel):
    detail: str


class NewToken(BaseModel):
    token: str
    prefix: str


class SignInLinkOut(BaseModel):
    url: str
    expires_at: datetime


Model = TypeVar("Model", bound=BaseModel)


def is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


async def read_body(request: Request, model: type[Model]) -> Model:
    """The body as `model`: JSON, or an application/x-www-form-urlencoded form (one value per field)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
    content_type = request.headers.get("content-type", "")
    fields: Any
    try:
        if is_form(request):
            fields = {name: values[0] for name, values in parse_qs(raw.decode(), max_num_fields=20).items()}
        elif content_type.startswith("application/json") or not content_type:
            fields = json.loads(raw or b"{}")
        else:
            raise BadRequest("send the fields as JSON (application/json) or as a form "
                             "(application/x-www-form-urlencoded)")
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedBody(f"malformed request body: {type(error).__name__}") from None
    if not isinstance(fields, dict):
        raise MalformedBody("the body must be a JSON object")
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise MalformedBody(problems) from None
