"""What an LMS administrator copies into the LMS to register this tool (GET /lti/config)."""

from __future__ import annotations

from typing import Any

from .ags import AGS_SCOPES
from .nrps_scope import NRPS_SCOPE


def tool_config(base_url: str) -> dict[str, Any]:
    base = base_url.rstrip("/")
    return {
        "title": "TinyTorch grader",
        "login_url": f"{base}/lti/login",
        "launch_url": f"{base}/lti/launch",
        "target_link_uri": f"{base}/lti/launch",
        "redirect_uris": [f"{base}/lti/launch"],
        "jwks_url": f"{base}/lti/jwks",
        "scopes": [*AGS_SCOPES, NRPS_SCOPE],
        "messages": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"],
        "custom_parameters": {
            "course": "our course's slug (needed when the registration is for the whole install)",
            "assignment": "our assignment's slug (scores go to the link's line item)"},
        "iframe": ("The session cookie is SameSite=None; Secure when served over https, so it works inside the "
                   "LMS's iframe. Over plain http, or in a browser that blocks third-party cookies, set the tool "
                   "link to open in a new window."),
    }
