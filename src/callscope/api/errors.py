"""RingCentral error bodies (spec §1.3) and JSON helpers shared by every router.

Domain errors (:class:`callscope.errors.Refused`) are answered through one table,
:data:`REFUSAL_ANSWERS`: their kind picks the HTTP status and RingCentral error code.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from callscope.errors import ErrorKind, Refused

__all__ = [
    "GENESYS_STATUS",
    "REFUSAL_ANSWERS",
    "ApiError",
    "error_middleware",
    "genesys_error",
    "json_response",
    "not_found",
    "param_value",
    "read_json",
    "refusal",
]

#: a refused request's kind → (HTTP status, RingCentral error code) (spec §1.3)
REFUSAL_ANSWERS: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.NOT_FOUND: (404, "CMN-102"),
    ErrorKind.UNKNOWN_REFERENCE: (400, "CMN-102"),
    ErrorKind.INVALID: (400, "CMN-101"),
    ErrorKind.FORBIDDEN: (403, "CMN-404"),
    ErrorKind.PERMISSION: (403, "CMN-408"),
    ErrorKind.CONFLICT: (409, "CMN-409"),
}
#: Genesys ``statusCode`` by HTTP status: 1 a missing or invalid parameter, 2 not
#: permitted, 3 not found, 4 a conflict (0 is success)
GENESYS_STATUS: dict[int, int] = {400: 1, 403: 2, 404: 3, 409: 4}


def param_value(value: object) -> str | None:
    """A ``parameterValue`` as the body shows it: at most 64 characters, never ``"None"``."""
    return None if value is None else str(value)[:64]


class ApiError(Exception):
    """A request that must be answered with a RingCentral-style error body.

    Body: ``{"errorCode", "message", "errors": [{"errorCode", "message", ...extra}]}`` —
    both the top-level legacy keys and ``errors[]`` (spec §1.3 recommendation).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def body(self) -> dict[str, Any]:
        item = {"errorCode": self.code, "message": self.message, **self.extra}
        return {"errorCode": self.code, "message": self.message, "errors": [item]}

    def response(self) -> web.Response:
        return json_response(self.body(), status=self.status, headers=self.headers)


def not_found(parameter: str, value: object, *, status: int = 404) -> ApiError:
    """``CMN-102 Resource for parameter [x] is not found`` (spec §1.3), naming the value."""
    return ApiError(
        status,
        "CMN-102",
        f"Resource for parameter [{parameter}] is not found",
        parameterName=parameter,
        parameterValue=param_value(value),
    )


def refusal(exc: Refused) -> ApiError:
    """The RingCentral error answer of a refused request (one table: its kind)."""
    status, code = REFUSAL_ANSWERS[exc.kind]
    return ApiError(
        status,
        code,
        exc.message,
        parameterName=exc.parameter,
        parameterValue=param_value(exc.value) if exc.parameter else None,
        permissionName=exc.permission,
    )


def genesys_error(status: int, message: str) -> web.Response:
    """A Genesys error body: ``{"statusCode": n, "statusMessage": "..."}``."""
    return json_response(
        {"statusCode": GENESYS_STATUS.get(status, 1), "statusMessage": message}, status=status
    )


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


async def read_json(
    request: web.Request, *, max_bytes: int = 64 * 1024, allow_empty: bool = False
) -> dict[str, Any]:
    """The request's JSON object, or a CMN-103/CMN-101 error (``allow_empty``: no body
    reads as ``{}``)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "CMN-101", f"Request body larger than {max_bytes} bytes")
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ApiError(413, "CMN-101", f"Request body larger than {max_bytes} bytes")
    if not raw.strip():
        if allow_empty:
            return {}
        raise ApiError(400, "CMN-103", "Request body is empty; a JSON object is required")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "CMN-103", f"JSON can't be parsed: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "CMN-104", "Cannot parse request: a JSON object is required")
    return data


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure leaves as a RingCentral error body with a JSON content type."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as exc:
        return exc.response()
    except Refused as exc:
        return refusal(exc).response()
    except web.HTTPNotFound:
        return ApiError(
            404, "CMN-102", f"Resource for path [{request.path}] is not found"
        ).response()
    except web.HTTPMethodNotAllowed as exc:
        return ApiError(
            405,
            "CMN-101",
            f"Method {request.method} is not allowed here; use {sorted(exc.allowed_methods)}",
        ).response()
