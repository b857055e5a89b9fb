"""The OpenAPI document on a real server: every route the application registers is in the
document, and the document is valid OpenAPI 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.web_urldispatcher import StaticResource
from openapi_spec_validator import validate

from callscope.app import build_app
from callscope.config import Settings
from tests.conftest import Server
from tests.integration.cp_helpers import request

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


async def test_every_route_is_in_a_valid_openapi_document(server: Server, tmp_path: Path) -> None:
    got, doc = await request(server, "GET", "/restapi/openapi.json")  # no token needed
    assert got == 200, doc
    got, same = await request(server, "GET", "/openapi.json")
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
