"""Deep Linking (an instructor picks which of our assignments a new LMS activity is): not built yet, so a
deep-linking launch is refused with a clear reason after the sign-in checks."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ...errors import BadRequest
from .launch import SignedIn


def deep_linking_page(session: Session, request: Request, signed_in: SignedIn) -> Response:
    raise BadRequest("Deep Linking is not supported yet: add the tool link by hand with the custom parameters "
                     "course=SLUG and assignment=SLUG (see GET /lti/config)")
