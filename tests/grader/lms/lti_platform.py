"""An LMS for the LTI tests: the PyPI package lti1p3platform as the platform side, served by uvicorn on loopback
(a real HTTP server in a thread). It signs launches with its own RSA key, publishes that key at /jwks, runs the
OIDC auth endpoint the tool redirects to, issues client-credentials tokens at /token (lti1p3platform checks the
tool's client assertion against the tool's JWKS), and, the package having none, an AGS scores endpoint
(IMS AGS 2.0, 3.4: POST application/vnd.ims.lis.v1.score+json to {lineitem}/scores) that records what arrives.

    platform = LtiPlatformServer(tool_base="http://testserver").start()
    platform.person = Person(sub="u-1", email="ada@example.org", roles=[LEARNER])
    platform.custom = {"assignment": "capstone"}
"""

from __future__ import annotations

import html
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.registration import Registration

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
LEARNER = f"{MEMBERSHIP}#Learner"
INSTRUCTOR = f"{MEMBERSHIP}#Instructor"
TEACHING_ASSISTANT = f"{MEMBERSHIP}/Instructor#TeachingAssistant"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"


def rsa_pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Person:
    sub: str
    email: str | None
    roles: list[str]
    name: str | None = None


class _Config(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._registration  # type: ignore[return-value]


class _Launch(LTIAdvantageMessageLaunchAbstract):
    def __init__(self, request: Any, platform_config: Any) -> None:
        super().__init__(request, platform_config)
        self._dl = None

    def get_preflight_response(self) -> dict[str, Any]:
        return dict(self._request.query_params)  # type: ignore[union-attr]

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> HTMLResponse:
        # What a platform sends the browser: a form that posts itself to the tool's redirect_uri.
        fields = "".join(f'<input type="hidden" name="{name}" value="{html.escape(str(launch_data[name]))}">'
                         for name in ("id_token", "state"))
        return HTMLResponse(f'<form id="launch" method="post" action="{html.escape(launch_data["launch_url"])}">'
                            f"{fields}</form><script>document.getElementById('launch').submit()</script>")


@dataclass
class LtiPlatformServer:
    tool_base: str
    client_id: str = "grader-tool"
    deployment_id: str = "deployment-1"
    person: Person = field(default_factory=lambda: Person("user-1", "ada@example.org", [LEARNER], "Ada"))
    context_id: str = "course-ctx-1"
    custom: dict[str, Any] = field(default_factory=dict)
    ags: bool = True
    # False: the launch names only the line items container (the tool finds or creates its own line item).
    ags_lineitem: bool = True
    line_items: list[dict[str, Any]] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    scores: list[dict[str, Any]] = field(default_factory=list)
    # The LMS course's roster, as its NRPS endpoint serves it (IMS NRPS 2.0 membership container).
    members: list[dict[str, Any]] = field(default_factory=list)
    nrps: bool = True
    # Launch a Deep Linking request instead of a resource link; the items the tool returns are kept here.
    deep_linking: bool = False
    content_items: list[dict[str, Any]] = field(default_factory=list)
    deep_link_jwts: list[str] = field(default_factory=list)
    token_requests: int = 0
    # The token endpoint answers 503 while this is set (an LMS that is down for a while).
    token_down: bool = False
    score_times: list[float] = field(default_factory=list)  # time.time() at each score's arrival, as `scores`

    def __post_init__(self) -> None:
        self.private_pem, self.public_pem = rsa_pem_pair()
        self.registration = (Registration().set_iss(self.issuer).set_client_id(self.client_id)
                             .set_deployment_id(self.deployment_id)
                             .set_oidc_login_url(f"{self.tool_base}/lti/login")
                             .set_launch_url(f"{self.tool_base}/lti/launch")
                             .set_platform_public_key(self.public_pem)
                             .set_platform_private_key(self.private_pem)
                             .set_deeplink_launch_url(f"{self.tool_base}/lti/launch"))
        self.config = _Config(registration=self.registration)
        self.app = self._app()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lineitem_url(self, item: str = "1") -> str:
        return f"{self.issuer}/lineitems/{item}/lineitem?type=graded"

    def registration_fields(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "client_id": self.client_id, "deployment_ids": [self.deployment_id],
                "jwks_url": f"{self.issuer}/jwks", "auth_url": f"{self.issuer}/auth",
                "token_url": f"{self.issuer}/token"}

    def trust_tool_keys(self, jwks: dict[str, Any]) -> None:
        self.registration.set_tool_key_set(jwks)  # type: ignore[arg-type]

    def login_params(self) -> dict[str, str]:
        """What the platform sends the tool's login URL (third-party initiated login)."""
        return {"iss": self.issuer, "login_hint": self.person.sub, "target_link_uri": f"{self.tool_base}/lti/launch",
                "lti_message_hint": "resource-link-1", "client_id": self.client_id,
                "lti_deployment_id": self.deployment_id}

    def sign(self, claims: dict[str, Any], expiration: int | None = 300, kid: bool = True) -> str:
        """Any payload signed with the platform's key (hostile tests build their own tokens with it)."""
        headers = {"kid": self.registration.get_kid()} if kid else None
        return Registration.encode_and_sign(dict(claims), self.private_pem, headers, expiration=expiration)

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return {"keys": self.registration.get_jwks()}

        @app.get("/auth")
        def auth(request: Request) -> Response:
            launch = _Launch(request, self.config)
            person = self.person
            launch.set_user_data(person.sub, person.roles, full_name=person.name, email_address=person.email)
            launch.set_launch_context_claim(self.context_id, context_title="Machine learning systems")
            launch.set_resource_link_claim("resource-link-1", title="Capstone")
            if self.custom:
                launch.set_custom_parameters_claim(self.custom)
            if self.ags:
                launch.set_ags(lineitems_url=f"{self.issuer}/lineitems",
                               lineitem_url=self.lineitem_url() if self.ags_lineitem else None)
            if self.deep_linking:
                launch.set_dl(f"{self.issuer}/deep-link-return", title="Add an activity",
                              extra_data={"opaque": "platform-data"})
            if self.nrps:
                launch.set_nrps(f"{self.issuer}/memberships")
            return launch.lti_launch()  # type: ignore[no-any-return]

        @app.post("/token")
        async def token(request: Request) -> Response:
            self.token_requests += 1
            if self.token_down:
                return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
            form = dict(await request.form())
            try:
                return JSONResponse(self.config.get_access_token(form))
            except Exception as error:  # the platform's refusal, as an OAuth2 error
                return JSONResponse({"error": "invalid_client", "error_description": str(error)}, status_code=400)

        @app.post("/deep-link-return")
        async def deep_link_return(request: Request) -> Response:
            form = dict(await request.form())
            try:
                items = self.config.validate_deeplinking_resp({"JWT": form["JWT"]})
            except Exception as error:
                return JSONResponse({"error": str(error)}, status_code=400)
            self.content_items.extend(items)
            self.deep_link_jwts.append(str(form["JWT"]))
            return HTMLResponse("<p>Activity added</p>")

        def _allowed(request: Request, scope: str) -> bool:
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            try:
                return bool(self.config.validate_token(bearer, allowed_scopes=[scope]))
            except Exception:
                return False

        # The line items service (AGS 2.0, 3.2): GET the container (filtered by resource_id), POST a new item.
        @app.get("/lineitems")
        def line_items(request: Request, resource_id: str | None = None) -> Response:
            if not _allowed(request, LINEITEM_SCOPE):
                return JSONResponse({"error": "invalid token or scope"}, status_code=401)
            items = [i for i in self.line_items if resource_id is None or i.get("resourceId") == resource_id]
            return JSONResponse(items, media_type="application/vnd.ims.lis.v2.lineitemcontainer+json")

        @app.post("/lineitems")
        async def new_line_item(request: Request) -> Response:
            if not _allowed(request, LINEITEM_SCOPE):
                return JSONResponse({"error": "invalid token or scope"}, status_code=401)
            item = {**(await request.json()), "id": f"{self.issuer}/lineitems/{len(self.line_items) + 2}/lineitem"}
            self.line_items.append(item)
            return JSONResponse(item, status_code=201, media_type="application/vnd.ims.lis.v2.lineitem+json")

        @app.get("/memberships")
        def memberships(request: Request, page: int = 0) -> Response:
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            try:
                allowed = self.config.validate_token(bearer, allowed_scopes=[NRPS_SCOPE])
            except Exception:
                allowed = False
            if not allowed:
                return JSONResponse({"error": "invalid token or scope"}, status_code=401)
            # Two members a page, so the tool must follow the Link header's rel="next".
            chunk = self.members[page * 2:page * 2 + 2]
            headers = {}
            if len(self.members) > page * 2 + 2:
                headers["Link"] = f'<{self.issuer}/memberships?page={page + 1}>; rel="next"'
            body = {"id": f"{self.issuer}/memberships", "context": {"id": self.context_id}, "members": chunk}
            return JSONResponse(body, headers=headers,
                                media_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json")

        @app.post("/lineitems/{item}/lineitem/scores")
        async def scores(item: str, request: Request) -> Response:
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            try:
                allowed = self.config.validate_token(bearer, allowed_scopes=[SCORE_SCOPE])
            except Exception:
                allowed = False
            if not allowed:
                return JSONResponse({"error": "invalid token or scope"}, status_code=401)
            if request.headers.get("content-type") != "application/vnd.ims.lis.v1.score+json":
                return JSONResponse({"error": "wrong media type"}, status_code=415)
            self.scores.append({"item": item, "query": dict(request.query_params), **(await request.json())})
            self.score_times.append(time.time())
            return Response(status_code=204)

        return app

    def start(self) -> LtiPlatformServer:
        server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._server = server
        self._thread = threading.Thread(target=server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the LTI platform server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def launch_form(page: str) -> tuple[str, dict[str, str]]:
    """The action and fields of the auto-posting form the platform's auth endpoint answers with."""
    action = re.search(r'action="([^"]+)"', page)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page))
    assert action is not None, page
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in fields.items()}
