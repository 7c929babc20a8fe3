"""The published API contract: /openapi.json, and /docs and /redoc served from this machine.

FastAPI's generated schema knows each route's 200, and declares a 422 body (a list of validation problems) that the
app never sends. `contract(app)` post-processes it once, by rules that hold for every route, including routes added
after this module was written:

- who may call: every operation under /api/ is authenticated (an API token as `Authorization: Bearer tt_...`, or
  a signed-in browser's `tt_session` cookie, which on POST/PUT/PATCH/DELETE also needs `X-CSRF-Token`), unless
  the route declares its own `security` (`openapi_extra={"security": []}` for a public one);
- which errors it can answer, each with the one error body `{"detail": "<what is wrong>"}`
  (grader/api/error_responses.py): see `error_statuses`;
- the 422 is declared as the body it really is (the same `{"detail": string}`).

The docs pages load Swagger UI and ReDoc from the pinned `fastapi-offline` package's files (it ships both; the
`swagger-ui-bundle` package on PyPI holds Swagger UI 4, which cannot render OpenAPI 3.1), served here under
/docs/assets: no request leaves for a CDN, and the docs work on an offline machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_URL = "/docs/assets"
ERROR_SCHEMA = "ErrorDetail"
HEALTH_SCHEMA = "HealthReport"
WRITES = frozenset({"post", "put", "patch", "delete"})
METHODS = (*WRITES, "get", "head", "options")
# Operations that touch nothing that can be out (they never answer 503 of their own).
NO_OUTAGE = frozenset({"/metrics"})
# Routes that sign people in (our own, and an LMS's LTI launch): they read their input from the request themselves
# (a form a platform posts, a query), so OpenAPI sees no parameters, yet a bad one is a 400, 401 or 403.
SIGN_IN = ("/auth/", "/lti/")

REASONS = {
    "400": "A field is wrong (the detail names it), or the upload is not a valid submission.",
    "401": "No valid API token (`Authorization: Bearer tt_...`) or signed-in session (`tt_session` cookie).",
    "403": "Signed in, but not allowed: not staff of the course, or a cookie-authenticated change without its "
           "`X-CSRF-Token`.",
    "404": "No such thing, or not yours to see.",
    "409": "It already exists, or conflicts with what does.",
    "413": "The upload is over the size limit.",
    "422": "The request is malformed: a parameter or the body does not have the declared type; the detail names "
           "each problem (`where: what`).",
    "429": "Too many requests; `Retry-After` says how many seconds to wait.",
    "503": "The grader's own outage (its database, a full disk, too many connections); nothing was done. "
           "`Retry-After` says when to try again.",
}
# (where, lower-cased name) of what the security schemes carry.
CREDENTIALS = frozenset({("header", "authorization"), ("cookie", "tt_session"), ("header", "x-csrf-token")})
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.",
                               "schema": {"type": "integer", "minimum": 1}}}

DESCRIPTION = """The TinyTorch grader's API (docs/course-api.md, docs/architecture.md "Public interface").

Authenticate with an API token (`Authorization: Bearer tt_...`) or, from a signed-in browser, the `tt_session`
cookie, plus the session's `X-CSRF-Token` header on POST, PUT, PATCH and DELETE. Every error answers
`{"detail": "<what is wrong>"}`; 429 and 503 say when to try again in `Retry-After`."""

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "tt_...",
               "description": "An API token (`grader users add`, or `POST /api/v1/me/token`): "
                              "`Authorization: Bearer tt_...`."},
    "session": {"type": "apiKey", "in": "cookie", "name": "tt_session",
                "description": "A signed-in browser's session cookie (set by the sign-in routes under /auth)."},
    "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
             "description": "The session's CSRF token (`csrf_token` of `GET /api/v1/me`): required with the "
                            "session cookie on POST, PUT, PATCH and DELETE. Bearer requests need none."},
}


def install_contract(app: FastAPI) -> None:
    """Serve the post-processed schema at /openapi.json, and the offline /docs and /redoc pages."""
    app.openapi = lambda: _cached_contract(app)  # type: ignore[method-assign]
    app.mount(ASSETS_URL, StaticFiles(directory=assets_folder()), name="docs-assets")
    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        # validatorUrl null: Swagger UI would otherwise send the schema to an online validator for its badge.
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=title,
                                   swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
                                   swagger_ui_parameters={"validatorUrl": None})

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title=title,
                              redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{ASSETS_URL}/favicon.png", with_google_fonts=False)


def assets_folder() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def _cached_contract(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, openapi_version=app.openapi_version,
                             description=app.description, routes=app.routes, tags=app.openapi_tags,
                             servers=app.servers)
        app.openapi_schema = contract(schema)
    return app.openapi_schema


def contract(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's generated schema with the security, the errors and the real 422 of every operation (in place)."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas[ERROR_SCHEMA] = {"type": "object", "title": ERROR_SCHEMA, "required": ["detail"],
                             "properties": {"detail": {"type": "string", "description": "What is wrong, in words."}}}
    schemas[HEALTH_SCHEMA] = _health_schema()
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if "security" not in operation and path.startswith("/api/"):
                operation["security"] = security_for(method)
            if operation.get("security"):
                _drop_credential_parameters(operation)
            _declare_errors(path, method, operation)
    if path_item := schema.get("paths", {}).get("/healthz", {}).get("get"):
        _declare_health(path_item)
    _drop_unused(schema, ("HTTPValidationError", "ValidationError"))
    return schema


def _drop_credential_parameters(operation: dict[str, Any]) -> None:
    """A dependency that reads the token, the cookie or the CSRF header shows them as parameters; the security
    schemes say how to send them (and /docs' Authorize fills them in), so they are not listed twice."""
    kept = [p for p in operation.get("parameters", []) if (p.get("in"), p.get("name", "").lower()) not in CREDENTIALS]
    if kept:
        operation["parameters"] = kept
    else:
        operation.pop("parameters", None)


def security_for(method: str) -> list[dict[str, list[str]]]:
    """Either the Bearer token, or the session cookie (with the CSRF header when the request changes something)."""
    session: dict[str, list[str]] = {"session": [], "csrf": []} if method in WRITES else {"session": []}
    return [{"bearer": []}, session]


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer, from what it is (not from a list of routes):

    400 when it takes input (parameters or a body), 401 and 403 when it is authenticated (`security` non-empty) or
    signs in (under /auth/ or /lti/: a bad token is a 401, a cookie's change without its CSRF token a 403; these
    read their own input, so they count as taking it),
    404 when its path names something, 409 on POST/PUT/PATCH, 413 when it takes a body (every body has a size
    cap), 422 when it takes input, 429 on POST (uploads and sign-in attempts are rate-limited), 503 unless it
    touches nothing that can be out."""
    parameters = operation.get("parameters", [])
    body = operation.get("requestBody")
    signs_in = path.startswith(SIGN_IN)
    takes_input = bool(parameters or body) or signs_in
    statuses = []
    if takes_input:
        statuses.append("400")
    if operation.get("security") or signs_in:
        statuses += ["401", "403"]
    if "{" in path:
        statuses.append("404")
    if method in ("post", "put", "patch"):
        statuses.append("409")
    if body or (signs_in and method == "post"):  # an upload over its limit, a sign-in or roster body over its cap
        statuses.append("413")
    if takes_input:
        statuses.append("422")
    if method == "post":
        statuses.append("429")
    if path not in NO_OUTAGE:
        statuses.append("503")
    return statuses


def _declare_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    # FastAPI's 422 names a body this app never sends; it is replaced, not kept.
    if (responses.get("422") or {}).get("content", {}).get("application/json", {}).get("schema", {}).get(
            "$ref", "").endswith("/HTTPValidationError"):
        del responses["422"]
    for status in error_statuses(path, method, operation):
        if status in responses:
            continue  # the route said it itself
        response: dict[str, Any] = {"description": REASONS[status], "content": _error_content()}
        if status in ("429", "503"):
            response["headers"] = RETRY_AFTER
        responses[status] = response


def _error_content() -> dict[str, Any]:
    # A browser that navigated to the URL (Accept: text/html without JSON) gets the same sentence as a small page.
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}},
            "text/html": {"schema": {"type": "string"}}}


def _health_schema() -> dict[str, Any]:
    check = {"type": "string", "description": "ok, or error: and why"}
    return {"type": "object", "title": HEALTH_SCHEMA, "required": ["status", "checks"],
            "properties": {"status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
                           "checks": {"type": "object", "additionalProperties": check,
                                      "properties": {name: check for name in
                                                     ("database", "broker", "workers", "sandbox")}}}}


def _declare_health(operation: dict[str, Any]) -> None:
    # /healthz answers its report with 200 and 503 alike: 503 when this process cannot reach its database or broker.
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{HEALTH_SCHEMA}"}}}
    operation["responses"]["200"] = {"description": "Reachable: `ok`, or `degraded` (nothing can grade).",
                                     "content": content}
    operation["responses"]["503"] = {"description": "The database or the broker does not answer.",
                                     "content": content}


def _drop_unused(schema: dict[str, Any], names: tuple[str, ...]) -> None:
    """Remove the named component schemas that nothing refers to any more (in order: a later one may have been
    referred to only by an earlier one)."""
    schemas = schema["components"]["schemas"]
    for name in names:
        rest = {**schema, "components": {**schema["components"],
                                         "schemas": {key: value for key, value in schemas.items() if key != name}}}
        if f'"#/components/schemas/{name}"' not in json.dumps(rest):
            schemas.pop(name, None)
