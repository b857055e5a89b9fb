"""The OpenAPI document and the API documentation page on a real server: every route the
application registers is in the document, the document is valid OpenAPI 3, and ``/docs``
loads Swagger UI from this server alone."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp.web_urldispatcher import StaticResource
from openapi_spec_validator import validate
from yarl import URL

from callscope.app import build_app
from callscope.config import Settings
from tests.conftest import Server
from tests.helpers.login import request

pytestmark = pytest.mark.slow


def registered_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """``(method, path template)`` of every route the application registers (built here,
    not started: the same code as the server's)."""
    app = build_app(Settings(data_dir=tmp_path / "app"))
    routes = set()
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        info = resource.get_info()
        if isinstance(resource, StaticResource):
            path = info["prefix"].rstrip("/") + "/{filename}"
        else:
            path = info.get("formatter") or info["path"]
        methods = ["get", "post", "put", "patch", "delete"] if route.method == "*" else []
        routes |= {(m, path) for m in methods or [route.method.lower()]}
    return routes


async def test_every_route_is_in_a_valid_openapi_document(
    shared_server: Server, tmp_path: Path
) -> None:
    got, doc = await request(shared_server, "GET", "/restapi/openapi.json")  # no token needed
    assert got == 200, doc
    got, same = await request(shared_server, "GET", "/openapi.json")
    assert (got, same) == (200, doc)
    validate(doc)  # OpenAPI 3.1, raises on any error
    assert doc["openapi"].startswith("3.")

    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    routes = registered_routes(tmp_path)
    assert routes - documented == set()
    assert documented - routes == set()
    for method, path in [
        ("get", "/restapi/v1.0/account/{accountId}/call-log"),
        ("get", "/restapi/v1.0/account/{accountId}/recording/{recordingId}/content"),
        ("post", "/restapi/oauth/token"),
        ("get", "/docs"),
        ("get", "/restapi/openapi.json"),
    ]:
        assert (method, path) in documented

    ops = [op for ops in doc["paths"].values() for op in ops.values()]
    assert len({op["operationId"] for op in ops}) == len(ops)
    assert all(op["summary"] and op["tags"] for op in ops)
    assert all(op["responses"]["default"] == ops[0]["responses"]["default"] for op in ops)
    error = doc["components"]["schemas"]["ApiError"]
    assert error["required"] == ["errors"]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"

    log = doc["paths"]["/restapi/v1.0/account/{accountId}/extension/{extensionId}/call-log"]["get"]
    assert log["summary"] == "An extension's call log, newest first"  # the docstring
    assert log["tags"] == ["Call Log and Recordings"]
    assert log["security"] == [{"bearerAuth": []}]
    params = {(p["in"], p["name"]) for p in log["parameters"]}
    assert {("path", "accountId"), ("path", "extensionId"), ("query", "dateFrom")} <= params
    assert log["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CallLogResponse"
    }
    token = doc["paths"]["/restapi/oauth/token"]["post"]
    assert token["security"] == [{"basicAuth": []}]
    health = doc["paths"]["/health"]["get"]
    assert health["security"] == []
    content = doc["paths"]["/restapi/v1.0/account/{accountId}/recording/{recordingId}/content"]
    assert "audio/wav" in content["get"]["responses"]["200"]["content"]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


async def test_docs_load_from_this_server_only(shared_server: Server) -> None:
    got, html = await request(shared_server, "GET", "/docs")
    assert got == 200
    parser = _Links()
    parser.feed(html)
    # a data: URI (the empty favicon) loads nothing from anywhere
    assets = [URL(link) for link in parser.links if not link.startswith("data:")]
    assert {a.path for a in assets} >= {
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/docs/assets/docs.js",
    }
    for asset in assets:
        assert not asset.is_absolute(), f"{asset} is not on this server"
        got, body = await request(shared_server, "GET", str(asset))
        assert got == 200, asset
        assert body
    got, script = await request(shared_server, "GET", "/docs/assets/docs.js")
    assert 'url: "/restapi/openapi.json"' in script
    assert "validatorUrl: null" in script  # no badge from the online validator
    for name in ("LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"):
        got, _ = await request(shared_server, "GET", f"/docs/assets/{name}")
        assert got == 200


async def test_only_the_docs_page_relaxes_the_content_security_policy(
    shared_server: Server,
) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as s:
        async with s.get(shared_server.http + "/docs") as r:
            docs: dict[str, Any] = dict(r.headers)
        async with s.get(shared_server.http + "/") as r:
            dashboard: dict[str, Any] = dict(r.headers)
    docs_csp = dict(d.strip().split(" ", 1) for d in docs["Content-Security-Policy"].split(";"))
    assert docs_csp["script-src"] == "'self'"
    assert docs_csp["style-src"] == "'self' 'unsafe-inline'"  # Swagger UI's inline styles
    assert docs_csp["connect-src"] == "'self'"
    assert docs_csp["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in dashboard["Content-Security-Policy"]
    assert "unsafe-eval" not in docs["Content-Security-Policy"]


async def test_what_the_document_says_needs_a_token_does(shared_server: Server) -> None:
    _, doc = await request(shared_server, "GET", "/openapi.json")
    checked = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if op["security"] != [{"bearerAuth": []}] or method == "head":
                continue
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            got, body = await request(shared_server, method.upper(), concrete)
            assert got == 401, (method, path, body)
            assert body["errorCode"] == "OAU-123"
            checked += 1
    assert checked > 40
