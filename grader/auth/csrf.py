"""Where a browser's request came from: Origin (or, without it, Referer) must name this site.

The CSRF token (grader.auth.sessions.require_csrf) is the defence; this is the second one, and the only one for
the sign-in posts themselves, which have no session yet: a cross-site form must not sign a victim's browser in
as the attacker (a "login CSRF"). Requests with neither header (curl, scripts) pass: browsers send Origin on
every cross-origin POST.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from ..errors import Forbidden


def _netloc(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.lower()


def require_same_origin(headers: Mapping[str, str], host: str, public_url: str | None) -> None:
    """Forbidden if the request's Origin (else Referer) names another site than `host` (the Host header) or the
    configured public URL. The host and port are compared, not the scheme: behind a TLS proxy the request
    arrives as http while the browser's Origin says https."""
    origin = headers.get("origin")
    source = origin if origin is not None else headers.get("referer")
    if source is None:
        return
    allowed = {host.lower()}
    if public_url:
        public = _netloc(public_url)
        if public:
            allowed.add(public)
    if _netloc(source) not in allowed:
        shown = source if len(source) <= 100 else source[:100] + "..."
        which = "Origin" if origin is not None else "Referer"
        raise Forbidden(f"cross-site request refused: its {which} ({shown!r}) is not this site")
