"""/openapi.json, /docs and /redoc of the real app (grader.api.app.create_app), and the generic rules of
grader.api.openapi on routes it has never seen. No database: these pages and the schema touch none."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import APIRouter, Cookie, FastAPI, Form, Header, UploadFile
from fastapi.testclient import TestClient
from pydantic import BaseModel

from grader.api.app import create_app
from grader.api.openapi import WRITES, install_contract

ERROR_REF = {"$ref": "#/components/schemas/ErrorDetail"}
CONTENT_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",), ".png": ("image/png",)}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())  # not entered: no lifespan, no sweeper


@pytest.fixture(scope="module")
def schema(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()  # type: ignore[no-any-return]


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, operation) for path, item in schema["paths"].items() for method, operation in item.items()]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_load_only_from_this_server(client: TestClient, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    # No absolute URL at all (a CDN, Google's fonts, Swagger's online validator), and none scheme-relative.
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", answer.text, re.IGNORECASE), answer.text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?'([^']+)'|spec-url=["']([^"']+)["']""", answer.text)
    urls = [next(part for part in found if part) for found in urls]
    assert "/openapi.json" in urls and len(urls) >= 3, urls
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        fetched = client.get(url)
        assert fetched.status_code == 200, url
        suffix = url[url.rfind("."):]
        if suffix in CONTENT_TYPES:
            assert fetched.headers["content-type"].split(";")[0] in CONTENT_TYPES[suffix], (url, fetched.headers)
            assert len(fetched.content) > 1000, url  # the real file, not an error page


def test_the_assets_folder_holds_no_way_out(client: TestClient) -> None:
    assert client.get("/docs/assets/../../../../etc/passwd").status_code == 404
    assert client.get("/docs/assets/%2e%2e/%2e%2e/__init__.py").status_code == 404
    assert client.get("/docs/assets/nothing.js").status_code == 404


def test_every_api_operation_says_how_to_authenticate(schema: dict[str, Any]) -> None:
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["session"] == {**schemes["session"], "type": "apiKey", "in": "cookie", "name": "tt_session"}
    assert schemes["csrf"] == {**schemes["csrf"], "type": "apiKey", "in": "header", "name": "X-CSRF-Token"}
    api = [(path, method, op) for path, method, op in operations(schema) if path.startswith("/api/")]
    assert api
    # The one public read under /api/: the pages' banner (grading ok, paused or delayed), which names no one.
    public = [(path, method) for path, method, op in api if op.get("security") == []]
    assert public == [("/api/v1/status", "get")]
    for path, method, operation in api:
        if (path, method) in public:
            continue
        session = {"session": [], "csrf": []} if method in WRITES else {"session": []}
        assert operation["security"] == [{"bearer": []}, session], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
        # The token is the scheme's: no Authorization header parameter beside it.
        assert not [p for p in operation.get("parameters", []) if p["name"].lower() == "authorization"], path


def test_every_error_is_the_one_error_body(schema: dict[str, Any]) -> None:
    assert schema["components"]["schemas"]["ErrorDetail"]["properties"] == {
        "detail": {"type": "string", "description": "What is wrong, in words."}}
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "ValidationError" not in schema["components"]["schemas"]
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and path != "/healthz":
                assert response["content"]["application/json"]["schema"] == ERROR_REF, (method, path, status)
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in operation["responses"], (method, path)


def test_the_upload_lists_what_it_can_answer(schema: dict[str, Any]) -> None:
    upload = schema["paths"]["/api/v1/submissions"]["post"]["responses"]
    assert set(upload) == {"202", "400", "401", "403", "409", "413", "422", "429", "503"}
    assert "Retry-After" in upload["429"]["headers"] and "Retry-After" in upload["503"]["headers"]
    assert set(schema["paths"]["/api/v1/submissions/{submission_id}"]["get"]["responses"]) == {
        "200", "400", "401", "403", "404", "422", "503"}
    assert set(schema["paths"]["/api/v1/submissions"]["get"]["responses"]) == {"200", "401", "403", "503"}


def test_metrics_declares_prometheus_text(client: TestClient, schema: dict[str, Any]) -> None:
    from prometheus_client import CONTENT_TYPE_LATEST

    assert set(schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {CONTENT_TYPE_LATEST}
    assert set(schema["paths"]["/healthz"]["get"]["responses"]) == {"200", "503"}


class Widget(BaseModel):
    name: str


def test_rules_cover_routes_never_seen() -> None:
    """A router added later (another engineer's) gets the same treatment with nothing written for it."""
    router = APIRouter()

    @router.post("/api/v1/widgets/{widget_id}", status_code=201)
    def make(widget_id: int, widget: Widget) -> dict[str, str]:
        return {"name": widget.name}

    @router.post("/api/v1/widgets/{widget_id}/file")
    def upload(widget_id: int, file: UploadFile, note: str = Form("")) -> None: ...

    @router.delete("/api/v1/widgets/{widget_id}")
    def remove(widget_id: int, tt_session: str | None = Cookie(None),
               x_csrf_token: str | None = Header(None), authorization: str | None = Header(None)) -> None: ...

    @router.get("/api/v1/public-news", openapi_extra={"security": []})
    def news() -> list[str]:
        return []

    @router.post("/auth/somewhere")
    def sign_in(widget: Widget) -> None: ...

    app = FastAPI()
    app.include_router(router)
    install_contract(app)
    paths = TestClient(app).get("/openapi.json").json()["paths"]
    make_op = paths["/api/v1/widgets/{widget_id}"]["post"]
    assert set(make_op["responses"]) == {"201", "400", "401", "403", "404", "409", "413", "422", "429", "503"}
    assert make_op["security"] == [{"bearer": []}, {"session": [], "csrf": []}]
    assert make_op["responses"]["422"]["content"]["application/json"]["schema"] == ERROR_REF
    assert "413" in paths["/api/v1/widgets/{widget_id}/file"]["post"]["responses"]
    # The credentials a dependency reads are the security schemes', not parameters of their own.
    remove_op = paths["/api/v1/widgets/{widget_id}"]["delete"]
    assert [p["name"] for p in remove_op["parameters"]] == ["widget_id"]
    assert set(remove_op["responses"]) == {"200", "400", "401", "403", "404", "422", "503"}
    news_op = paths["/api/v1/public-news"]["get"]
    assert news_op["security"] == [] and set(news_op["responses"]) == {"200", "503"}
    sign_in_op = paths["/auth/somewhere"]["post"]
    assert "security" not in sign_in_op
    assert set(sign_in_op["responses"]) == {"200", "400", "401", "403", "409", "413", "422", "429", "503"}
