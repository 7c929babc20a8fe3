"""How often sign-in links may be asked for: a sliding window per key, in this process's memory.

There is no table for it (the schema is fixed) and none is needed for its purpose, which is to keep one
address from being flooded with mail and one client from sending mail to many: with several API replicas each
keeps its own count, so the effective limit is the limit times the replicas (docs/sign-in.md).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

from ..errors import TooManyRequests


class SlidingWindowLimit:
    """At most `limit` events per key in any `window_s` seconds. Memory is bounded: past `max_keys` keys, the
    least recently used is forgotten (an attacker cycling keys then resets old counts, never grows memory)."""

    def __init__(self, limit: int, window_s: float, max_keys: int = 50_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        self._events.move_to_end(key)
        while events and events[0] <= now - self.window_s:
            events.popleft()
        return events

    def wait_s(self, key: str, now: float) -> float:
        """0 if an event for `key` is allowed now, else the seconds until it is."""
        with self._lock:
            events = self._recent(key, now)
            return 0.0 if len(events) < self.limit else events[0] + self.window_s - now

    def record(self, key: str, now: float) -> None:
        with self._lock:
            self._recent(key, now).append(now)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


def check_and_record(limits: list[tuple[SlidingWindowLimit, str]], now: float, detail: str) -> None:
    """Count one event against every (limit, key), or none of them and TooManyRequests (with the longest wait)
    if any is used up: a refused request does not eat into the other budgets."""
    wait = max(limit.wait_s(key, now) for limit, key in limits)
    if wait > 0:
        raise TooManyRequests(detail, retry_after=wait)
    for limit, key in limits:
        limit.record(key, now)
