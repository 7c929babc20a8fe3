"""The HTTP server's guard against slow and surplus connections: each open connection holds a file descriptor,
and a process out of descriptors fails everything else it opens (an upload's temporary file, a database
connection) with "Too many open files".

uvicorn's h11 server has no read timeout of its own: a client trickling its headers or its body at one byte a
second holds its connection for as long as it likes, and uvicorn's `limit_concurrency` only counts a connection
once its headers are complete, then answers a bare "Service Unavailable". So `GuardedH11Protocol`:

- refuses a connection over the limit (uvicorn's `limit_concurrency`) as soon as it is accepted: 503, Retry-After
  and a sentence, then closed; a client it let in is never refused later for others' arrivals;
- gives the request line and headers `http_head_timeout_s` to arrive, else 408 and closed;
- gives a body `http_body_timeout_s` plus a second per `http_body_min_bytes_per_s` bytes received, else 408 and
  closed; the route sees a disconnect, so nothing of a cut-off upload is stored.

    uvicorn.run(app, host=..., port=..., **uvicorn_options(get_settings()))
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

from prometheus_client import Counter
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

from ..errors import GraderError, Overloaded, RequestTimeout
from ..settings import Settings

REFUSED = Counter("grader_http_refused", "Connections the HTTP server cut off or turned away, by reason", ["reason"])

# After a refusal the client's request may still be arriving; closing with unread bytes makes the kernel send
# a reset, which can destroy the answer before the client reads it. So the answer goes out with a FIN, what
# arrives is read and dropped, and the socket closes at the client's EOF or after this long.
LINGER_S = 2.0


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The arguments of uvicorn.run (or uvicorn.Config) that bound connections, from the one Settings."""
    budget = descriptor_budget(settings)
    return {"http": guarded_protocol(settings, budget), "limit_concurrency": budget.connections,
            "backlog": budget.accept_batch, "timeout_keep_alive": settings.http_keep_alive_s}


@dataclass(frozen=True)
class DescriptorBudget:
    """How the process's open-file limit is shared out, so that no burst of connections exhausts it.

    connections: connections served at once (uvicorn's limit_concurrency); lingering: refused connections kept
    open for LINGER_S to deliver their answer (past that many, the oldest is closed); accept_batch: the
    listen backlog, which is also how many connections asyncio accepts in one go before any is answered. What
    is left (at the defaults, a quarter) is for what requests open: the database pool, temporary files, the
    archive store, SQLite, the broker. Running out matters twice over: the requests fail with EMFILE, and
    asyncio's accept loop (Python 3.11) logs the error once per queued connection."""

    connections: int
    lingering: int
    accept_batch: int


def descriptor_budget(settings: Settings) -> DescriptorBudget:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = 65536 if soft == resource.RLIM_INFINITY else soft
    connections = settings.http_max_connections or max(16, limit // 2)
    # 511: what nginx and Linux's old somaxconn use; more only queues clients that would wait anyway.
    return DescriptorBudget(connections=connections, lingering=max(4, limit // 8),
                            accept_batch=max(8, min(511, limit // 8)))


def guarded_protocol(settings: Settings, budget: DescriptorBudget) -> type[GuardedH11Protocol]:
    """The protocol class with this Settings' timeouts (uvicorn builds one protocol per connection)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {
        "head_timeout_s": settings.http_head_timeout_s, "body_timeout_s": settings.http_body_timeout_s,
        "body_min_bytes_per_s": settings.http_body_min_bytes_per_s,
        "retry_after_s": settings.unavailable_retry_after_s, "max_lingering": budget.lingering})


class GuardedH11Protocol(H11Protocol):
    head_timeout_s: float = 15.0
    body_timeout_s: float = 30.0
    body_min_bytes_per_s: int = 4096
    retry_after_s: int = 60
    max_lingering: int = 64
    # Refused connections still delivering their answer (one server per process, so one set).
    # (A dict for its order: oldest first.)
    lingering: ClassVar[dict[GuardedH11Protocol, None]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The limit is enforced in connection_made (with words); uvicorn's own check after the headers would
        # answer a bare "Service Unavailable" to a client already let in.
        self.max_connections = self.limit_concurrency
        self.limit_concurrency = None
        self._refused = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._watched: RequestResponseCycle | None = None
        self._body_started = 0.0
        self._body_bytes = 0

    # --- connection ---------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        over = self.max_connections is not None and (
            len(self.connections) >= self.max_connections or len(self.tasks) >= self.max_connections)
        super().connection_made(transport)
        if over:
            self._refuse(Overloaded(retry_after=self.retry_after_s), "overloaded")
            return
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # answered already; dropped while the client finishes sending
        receiving_body = self.cycle is not None and self.cycle is self._watched and self.cycle.more_body
        if receiving_body:
            self._body_bytes += len(data)
        super().data_received(data)
        self._after_events()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        self.lingering.pop(self, None)
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request on a kept-alive connection has the same time for its headers.
        if not self.transport.is_closing() and not self._refused:
            self._arm_head_timer()
        self._after_events()

    # --- deadlines ----------------------------------------------------------------------------------------
    def _after_events(self) -> None:
        cycle = self.cycle
        if cycle is None or self._refused:
            return
        if cycle is not self._watched:  # a request's headers have arrived: its body's clock starts
            self._watched = cycle
            self._cancel(self._head_timer)
            self._head_timer = None
            self._body_started, self._body_bytes = time.monotonic(), 0
            if cycle.more_body:
                self._body_timer = self.loop.call_later(self.body_timeout_s, self._check_body)
        if not cycle.more_body:
            self._cancel(self._body_timer)
            self._body_timer = None

    def _arm_head_timer(self) -> None:
        self._cancel(self._head_timer)
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        # Only between requests: a request whose headers arrived is the body timer's (or the app's) business.
        if self.cycle is None or self.cycle.response_complete:
            self._refuse(RequestTimeout(
                f"The request's headers did not arrive within {self.head_timeout_s:g} s; nothing was submitted. "
                "Check your connection and try again."), "head_timeout")

    def _check_body(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if cycle is None or cycle is not self._watched or not cycle.more_body or self._refused:
            return
        allowed = self.body_timeout_s + self._body_bytes / self.body_min_bytes_per_s
        remaining = allowed - (time.monotonic() - self._body_started)
        if remaining > 0:
            self._body_timer = self.loop.call_later(remaining, self._check_body)
            return
        if cycle.response_started:
            self.transport.close()  # an app that answers before reading the body has nothing left to say
            REFUSED.labels(reason="body_timeout").inc()
            return
        # The route sees a disconnect (its form parsing stops), and whatever it answers goes nowhere.
        cycle.disconnected = True
        cycle.message_event.set()
        self._refuse(RequestTimeout(
            f"The upload arrived too slowly (under {self.body_min_bytes_per_s} bytes a second after the first "
            f"{self.body_timeout_s:g} s); nothing was submitted. Check your connection and try again."), "body_timeout")

    # --- refusing -----------------------------------------------------------------------------------------
    def _refuse(self, error: GraderError, reason: str) -> None:
        """Answer `error` on the raw connection, then close it (see LINGER_S)."""
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        self._cancel_timers()
        REFUSED.labels(reason=reason).inc()
        body = json.dumps({"detail": error.detail}).encode()
        head = [f"HTTP/1.1 {error.status_code} {HTTPStatus(error.status_code).phrase}",
                "content-type: application/json", f"content-length: {len(body)}", "connection: close",
                *(f"{name}: {value}" for name, value in error.headers.items())]
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        # A refused connection no longer counts as served: it does not hold a place another could have.
        self.connections.discard(self)
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        try:
            self.transport.write_eof()
        except OSError:  # the client has gone already
            self.transport.close()
            return
        # Past the lingering budget the oldest lingering connection is closed: an honest client reads its answer
        # within milliseconds and goes, so the oldest is a client that is not reading.
        while len(self.lingering) >= self.max_lingering:
            oldest = next(iter(self.lingering))
            del self.lingering[oldest]
            oldest.transport.close()
        self.lingering[self] = None
        self.loop.call_later(LINGER_S, self.transport.close)

    def _cancel_timers(self) -> None:
        self._cancel(self._head_timer)
        self._cancel(self._body_timer)
        self._head_timer = self._body_timer = None

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()
