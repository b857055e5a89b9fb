"""The OpenAPI 3.1 document of every route the server has, made from its route table.

``GET /restapi/openapi.json`` (and ``/openapi.json``) serve it; ``/docs`` shows it in Swagger
UI (:mod:`callscope.web`). Each route of ``app.router`` becomes an operation: its method and
path, the path's parameters, a summary from the handler's docstring (its first sentence; the
rest is the description) or, without one, from the handler's name, a tag by path prefix, the
security the auth middleware applies (bearer under :data:`~callscope.api.auth.
PROTECTED_PREFIXES`, Basic client authentication on the OAuth token and revoke endpoints,
the streaming secret on ingest), and the RingCentral error body (spec §1.3) as the default
response. A handler may say more with :func:`describe`: its query parameters, its JSON
response schema (a name in :data:`~callscope.api.schemas.SCHEMAS`) or its media type.

The document is made once, on the first request: the route table is frozen by then.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import orjson
from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute, StaticResource

from callscope import __version__
from callscope.api.auth import PROTECTED_PREFIXES
from callscope.api.ingest import INGEST_PATHS, TWO_WAY_PATH
from callscope.api.schemas import SCHEMAS

__all__ = ["OpenApiRoutes", "build_document", "describe", "operation_path", "query_param"]

H = TypeVar("H", bound=Callable[..., Any])

#: what :func:`describe` said about a handler (keyed by the function, not a bound method)
_DESCRIBED: dict[object, dict[str, Any]] = {}

_ERROR_RESPONSE = {
    "description": "RingCentral error body (spec §1.3)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
}
#: routes that upgrade to a WebSocket (the handler answers 101 Switching Protocols)
_WEBSOCKETS = frozenset(
    {*INGEST_PATHS, TWO_WAY_PATH, "/ws", "/client/ws", "/supervision/device"}
    | {"/calls/{id}/transcript/ws", "/calls/wallboard/ws"}
)
_BASIC_AUTH = ("/restapi/oauth/token", "/restapi/oauth/revoke")
#: the first tag whose pattern the path matches
_TAGS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (tag, re.compile(pattern))
    for tag, pattern in (
        ("OAuth", r"^/restapi/oauth/"),
        ("API Documentation", r"^(/restapi)?/openapi\.json$|^/docs(/|$)"),
        ("Call Control", r"^/restapi/v1\.0/account/[^/]+/telephony/"),
        (
            "Call Log and Recordings",
            r"^/restapi/v1\.0/account/[^/]+/(extension/[^/]+/)?(active-calls|call-log|recording)",
        ),
        ("Subscriptions", r"^/restapi/v1\.0/subscription"),
        ("Account and Directory", r"^/restapi/"),
        ("Insights", r"^/ai/"),
        ("Streaming Profiles", r"^/(platform/api/media|media-distributor)/"),
        ("Supervision", r"^/(api/v2|supervision)/"),
        ("Calls", r"^/(calls|client)(/|$)"),
        ("Operations", r"^/(health|metrics|admin)(/|$)"),
        ("Push Notifications", r"^/ws$"),
        ("Dashboard", r"^/(static/|$)"),
    )
)
#: the tags in the order the documentation shows them, with what they hold
_TAG_ORDER: tuple[tuple[str, str], ...] = (
    ("OAuth", "Tokens for the REST API (RingCentral OAuth, spec §2)"),
    ("Account and Directory", "Extensions, devices, call monitoring groups (spec §3-§5)"),
    ("Call Control", "Telephony sessions, their parties, supervision (spec §7)"),
    ("Call Log and Recordings", "Active calls (spec §6), the call log, call recordings"),
    ("Subscriptions", "Push notifications by WebHook or WebSocket (spec §8-§9)"),
    ("Push Notifications", "The WebSocket gateway (spec §8.3)"),
    ("Insights", "RingSense / ACE post-call insights (spec §10)"),
    ("Streaming Profiles", "RingCX call streaming profiles (spec §11.2)"),
    ("Ingest", "RingCX and two-way call streams (spec §11.3)"),
    ("Supervision", "Web phones and Genesys-style monitoring operations"),
    ("Calls", "callscope's recorded calls, transcripts and per-call pages"),
    ("Operations", "Health, readiness, metrics, drain"),
    ("Dashboard", "The supervisor dashboard"),
    ("API Documentation", "This document and its Swagger UI"),
    ("Other", "Routes of no other group"),
)
#: the order of an path's operations
_METHOD_ORDER = ("get", "post", "put", "patch", "delete", "head", "options")


def describe(
    *,
    response: str | None = None,
    query: Sequence[dict[str, Any]] = (),
    media: str | None = None,
) -> Callable[[H], H]:
    """Say more about a handler in the OpenAPI document.

    Args:
        response: the name of its 200 JSON body's schema in ``SCHEMAS``.
        query: its query parameters (:func:`query_param`).
        media: the media type of a binary 200 body (which then also answers Range: 206).
    """
    if response is not None and response not in SCHEMAS:
        raise ValueError(f"no schema {response!r} in callscope.api.schemas.SCHEMAS")

    def mark(handler: H) -> H:
        _DESCRIBED[handler] = {"response": response, "query": list(query), "media": media}
        return handler

    return mark


def query_param(
    name: str,
    description: str,
    *,
    kind: str = "string",
    fmt: str | None = None,
    enum: Sequence[str] | None = None,
    repeat: bool = False,
) -> dict[str, Any]:
    """An OpenAPI query Parameter Object (``repeat``: an array, the key given once per value)."""
    schema: dict[str, Any] = {"type": kind}
    if fmt:
        schema["format"] = fmt
    if enum:
        schema["enum"] = list(enum)
    if repeat:
        schema = {"type": "array", "items": schema}
    param: dict[str, Any] = {
        "name": name,
        "in": "query",
        "description": description,
        "required": False,
        "schema": schema,
    }
    if repeat:
        param.update(style="form", explode=True)
    return param


def operation_path(route: AbstractRoute) -> str:
    """The route's path as an OpenAPI path template (a static directory: ``/prefix/{filename}``)."""
    resource = route.resource
    if resource is None:
        raise ValueError(f"route {route!r} has no resource")
    if isinstance(resource, StaticResource):
        return resource.canonical.rstrip("/") + "/{filename}"
    return resource.canonical


def _tag(path: str) -> str:
    if path != "/" and path in (*INGEST_PATHS, TWO_WAY_PATH):
        return "Ingest"
    return next((tag for tag, pattern in _TAGS if pattern.search(path)), "Other")


def _docs(handler: Callable[..., Any]) -> tuple[str, str]:
    """``(summary, description)``: the docstring's first sentence and the rest, or a summary
    made from the handler's name and class (``InsightsApi.record`` → "Record (Insights)")."""
    doc = inspect.getdoc(handler) or ""
    if not doc:
        name = getattr(handler, "__name__", "handler").strip("_").replace("_", " ")
        summary = name[:1].upper() + name[1:]
        owner = getattr(handler, "__qualname__", "").rpartition(".")[0]
        if owner and "<" not in owner:
            summary += f" ({owner.removesuffix('Api')})"
        return summary, ""
    text = doc.replace("``", "`")
    first, _, rest = text.partition("\n\n")
    first = " ".join(first.split())
    match = re.match(r"(.+?)[.;](\s|$)", first)
    summary = match.group(1) if match else first
    description = " ".join([first[len(summary) :].strip(" .;"), rest]).strip()
    return summary[:200], description


def _security(path: str) -> list[dict[str, list[str]]]:
    if path in _BASIC_AUTH:
        return [{"basicAuth": []}]
    if path.startswith(PROTECTED_PREFIXES):
        return [{"bearerAuth": []}]
    if path == "/ws":
        return [{"wsToken": []}]
    if path in (*INGEST_PATHS, TWO_WAY_PATH) and path != "/":
        return [{"streamingSecret": []}, {}]  # a lab may accept streams without one
    return []


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "root"
    return f"{method.lower()}_{words}"


def _operation(method: str, path: str, route: AbstractRoute) -> dict[str, Any]:
    handler = route.handler
    if isinstance(route.resource, StaticResource):
        summary, description = "A file of the directory", "Served as it is on disk."
    else:
        summary, description = _docs(handler)
    said = _DESCRIBED.get(getattr(handler, "__func__", handler), {})
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{([^}:]+)", path)
    ]
    params += said.get("query", [])
    responses: dict[str, Any] = {}
    if path in _WEBSOCKETS and method == "GET":
        responses["101"] = {"description": "Switching Protocols: the WebSocket is open"}
    if said.get("response"):
        ref = {"$ref": f"#/components/schemas/{said['response']}"}
        responses["200"] = {"description": "OK", "content": {"application/json": {"schema": ref}}}
    elif said.get("media"):
        binary = {"schema": {"type": "string", "format": "binary"}}
        responses["200"] = {"description": "OK", "content": {said["media"]: binary}}
        responses["206"] = {"description": "Partial Content (Range)"}
    else:
        responses["2XX"] = {"description": "Success"}
    if method == "HEAD":
        responses = {code: {"description": r["description"]} for code, r in responses.items()}
    responses["default"] = _ERROR_RESPONSE
    op: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": summary,
        "tags": [_tag(path)],
        "responses": responses,
        "security": _security(path),
    }
    if description:
        op["description"] = description
    if params:
        op["parameters"] = params
    return op


def _rank(order: Sequence[str], value: str) -> int:
    return order.index(value) if value in order else len(order)


def build_document(routes: Iterable[AbstractRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these routes (an app's ``router.routes()``)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path = operation_path(route)
        methods = ["get", "put", "post", "delete", "patch"] if route.method == "*" else []
        for method in methods or [route.method.lower()]:
            paths.setdefault(path, {})[method] = _operation(method.upper(), path, route)
    used = {op["tags"][0] for ops in paths.values() for op in ops.values()}
    for ops in paths.values():
        ordered = sorted(ops.items(), key=lambda kv: _rank(_METHOD_ORDER, kv[0]))
        ops.clear()
        ops.update(ordered)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "callscope",
            "version": __version__,
            "description": (
                "Self-hosted call supervision and conversation intelligence. The "
                "`/restapi/v1.0/…`, `/restapi/oauth/…` and `/ai/…` routes follow RingCentral's "
                "REST API; the RingCX streaming profile routes follow RingCX's."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [{"name": t, "description": d} for t, d in _TAG_ORDER if t in used],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an access token from POST /restapi/oauth/token",
                },
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "the app's client id and client secret",
                },
                "wsToken": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "access_token",
                    "description": "a token from POST /restapi/oauth/wstoken",
                },
                "streamingSecret": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Streaming-Secret",
                    "description": "the streaming profile's secret (RingCX streams)",
                },
            },
        },
    }


class OpenApiRoutes:
    """``GET /restapi/openapi.json`` and ``GET /openapi.json`` (no token needed: the document
    says what routes exist, nothing of any account)."""

    PATHS = ("/restapi/openapi.json", "/openapi.json")

    def __init__(self) -> None:
        self._document: bytes | None = None

    def routes(self) -> list[web.RouteDef]:
        return [web.get(p, self.document) for p in self.PATHS]

    async def document(self, request: web.Request) -> web.Response:
        """This server's OpenAPI 3.1 document."""
        if self._document is None:
            self._document = orjson.dumps(build_document(request.app.router.routes()))
        return web.Response(body=self._document, content_type="application/json")
