"""The service's errors: one base class carrying its HTTP status and a detail meant for the user.

Services raise these and know nothing of HTTP; the API maps every GraderError to
`status_code` + `{"detail": detail}` (+ `headers`) in one exception handler, and the CLI prints `detail`.
"""

from __future__ import annotations

import math
from typing import ClassVar


class GraderError(Exception):
    status_code: ClassVar[int] = 500
    default_detail: ClassVar[str] = "internal error"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers the API must send with this error."""
        return {}


class BadRequest(GraderError):
    status_code = 400
    default_detail = "bad request"


class BadUpload(BadRequest):
    """An upload refused by intake (or by size before intake); detail names the problem."""

    default_detail = "the upload is not a valid submission"

    def __init__(self, detail: str | None = None, status_code: int = 400) -> None:
        super().__init__(detail)
        # 413 for an upload over the size limit, 400 for everything else wrong with it.
        self.status_code = status_code  # type: ignore[misc]


class Unauthorized(GraderError):
    status_code = 401
    default_detail = "a valid API token is required"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(GraderError):
    status_code = 403
    default_detail = "not allowed"


class NotFound(GraderError):
    status_code = 404
    default_detail = "not found"


class Conflict(GraderError):
    status_code = 409
    default_detail = "conflict"


class TooManyRequests(GraderError):
    status_code = 429
    default_detail = "too many requests"

    def __init__(self, detail: str | None = None, retry_after: float = 60) -> None:
        super().__init__(detail)
        # Whole seconds, rounded up and at least one: Retry-After takes an integer, and rounding down would
        # invite a retry that is refused again.
        self.retry_after = max(1, math.ceil(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
