"""The platforms' public keys, fetched from their JWKS URLs with httpx and kept for a while: a launch is verified
without a request to the LMS, and a kid we have not seen (the LMS rotated its key) fetches the set again."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from joserfc.jwk import KeySet

from ...errors import Unauthorized

CACHE_SECONDS = 600.0
_FETCH_TIMEOUT = 5.0
# A kid missing from a fresh set is refetched at most this often: a flood of forged kids must not become a flood
# of requests to the LMS.
_REFETCH_AFTER = 30.0
_cache: dict[str, tuple[float, KeySet]] = {}
_lock = threading.Lock()


def _fetch(url: str) -> KeySet:
    try:
        response = httpx.get(url, timeout=_FETCH_TIMEOUT, follow_redirects=False)
        response.raise_for_status()
        data: Any = response.json()
        return KeySet.import_key_set(data)
    except (httpx.HTTPError, ValueError, TypeError, KeyError) as error:
        raise Unauthorized(f"could not fetch the platform's keys from {url}: {error}") from None


def platform_key_set(url: str, kid: str | None) -> KeySet:
    """The key set at `url`, from the cache unless it is stale or lacks `kid`."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(url)
    if cached is not None:
        fetched_at, keys = cached
        has_kid = kid is None or any(k.kid == kid for k in keys.keys)
        if now - fetched_at < CACHE_SECONDS and (has_kid or now - fetched_at < _REFETCH_AFTER):
            return keys
    keys = _fetch(url)
    with _lock:
        _cache[url] = (now, keys)
    return keys


def clear_cache() -> None:
    with _lock:
        _cache.clear()
