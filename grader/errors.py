"""The service's errors: one base class carrying its HTTP status and a detail meant for the user.

Services raise these and know nothing of HTTP; the API maps every GraderError to
`status_code` + `{"detail": detail}` (+ `headers`) in one exception handler (grader/api/error_responses.py), and
the CLI prints `detail`. `infrastructure_error` is the one place that says which other exceptions (a database
that does not answer, a full disk, no file descriptors left) are the grader's outage: a 503 with Retry-After
and a sentence, never a bare 500 and never a 4xx that blames the student.
"""

from __future__ import annotations

import errno
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


class RequestTimeout(GraderError):
    """The client sent its request too slowly (grader.api.http_guard cuts it off so its connection is freed)."""

    status_code = 408
    default_detail = "the request arrived too slowly; nothing was submitted. Check your connection and try again."


class ServiceUnavailable(GraderError):
    """Something of the grader's own is out (never the student's doing): 503 with Retry-After, and words that say
    nothing was submitted, so the student knows to simply send it again."""

    status_code = 503
    default_detail = "The grader is not able to take requests just now; nothing was submitted. Try again in a minute."
    # What the counter of refusals calls this reason (grader_http_unavailable_total{reason=...}).
    reason: ClassVar[str] = "unavailable"

    def __init__(self, detail: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(detail)
        # None: the operator's GRADER_UNAVAILABLE_RETRY_AFTER_S (read when the response is made).
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        from .settings import get_settings

        return {"Retry-After": str(self.retry_after or get_settings().unavailable_retry_after_s)}


class DatabaseUnavailable(ServiceUnavailable):
    default_detail = "The grader's database is not answering; nothing was submitted. Try again in a minute."
    reason = "database"


class DiskFull(ServiceUnavailable):
    default_detail = ("The grader's disk is full; nothing was submitted. Try again in a few minutes, and tell "
                      "your instructor if it lasts.")
    reason = "disk_full"


class TooManyOpenFiles(ServiceUnavailable):
    default_detail = "The grader has too many connections open right now; nothing was submitted. Try again in a minute."
    reason = "open_files"


class Overloaded(ServiceUnavailable):
    default_detail = "The grader is busy with too many connections; nothing was submitted. Try again in a minute."
    reason = "overloaded"


# OS errors that are the machine's state, not the request's: the disk (or the user's quota) is full, the process
# or the system is out of file descriptors.
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_NO_FILES_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE})


def infrastructure_error(error: BaseException) -> ServiceUnavailable | None:
    """The 503 an exception stands for when it is the grader's own outage, else None (a bug: let it be a 500).

    Follows `__cause__`/`__context__`, because frameworks wrap what they catch: FastAPI turns an OSError raised
    while it spools a multipart body into a 400 "error parsing the body", which would blame the student for a
    full disk. Only connection-class database errors count; an IntegrityError is a bug, not an outage."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _classify(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _classify(error: BaseException) -> ServiceUnavailable | None:
    # Imported here: `grader grade` imports this module and needs no SQLAlchemy (a quarter second to import).
    from sqlalchemy import exc as sqlalchemy_exc

    if isinstance(error, ServiceUnavailable):
        return error
    if isinstance(error, OSError) and error.errno in _DISK_FULL_ERRNOS:
        return DiskFull()
    if isinstance(error, OSError) and error.errno in _NO_FILES_ERRNOS:
        return TooManyOpenFiles()
    if isinstance(error, sqlalchemy_exc.OperationalError | sqlalchemy_exc.InterfaceError):
        text = str(error.orig or error).lower()
        sqlstate = getattr(error.orig, "sqlstate", None) or ""
        # SQLite says "database or disk is full"; PostgreSQL's class 53 is "insufficient resources": 53100 is
        # disk_full, 53300 too_many_connections (the latter is the database not answering, for the user).
        if "disk is full" in text or sqlstate == "53100":
            return DiskFull()
        if "too many open files" in text:
            return TooManyOpenFiles()
        return DatabaseUnavailable()
    # DisconnectionError: a pooled connection found dead; TimeoutError: no pooled connection free in time.
    if isinstance(error, sqlalchemy_exc.DisconnectionError | sqlalchemy_exc.TimeoutError):
        return DatabaseUnavailable()
    return None
