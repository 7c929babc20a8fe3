"""The one HTTP client a process uses to reach LMSs and webhook receivers.

Making an httpx.Client per request cost ~22 ms of each LMS task (its SSL context and pool; measured by
benchmarks/bench_lms.py), a quarter of a delivery; one client per process also keeps connections to a busy
receiver alive between deliveries. Per process, because a forked Celery child must not share its parent's
sockets. Callers give their own timeout per request; redirects are never followed (a receiver that moved is
registered again, and a redirect could point anywhere), and the environment's proxies are not used.
"""

from __future__ import annotations

import os
import threading

import httpx

_lock = threading.Lock()
_client: httpx.Client | None = None
_pid: int | None = None


def lms_http() -> httpx.Client:
    global _client, _pid
    with _lock:
        if _client is None or _pid != os.getpid():
            _client = httpx.Client(follow_redirects=False, trust_env=False, timeout=10.0,
                                   limits=httpx.Limits(max_connections=20, max_keepalive_connections=10))
            _pid = os.getpid()
        return _client
