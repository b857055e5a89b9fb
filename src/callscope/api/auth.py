"""Bearer authentication and account scoping for every protected route (spec §1.1, §1.4).

* ``Authorization: Bearer <token>``; the scheme is compared case-insensitively (the Python
  SDK sends ``bearer``). Missing/garbled → 401 OAU-123, unknown or revoked → 401 OAU-213,
  expired → 401 OAU-128.
* ``{accountId}`` may be ``~`` or the caller's own account id; any other account is 404, so a
  token never learns whether another account's ids exist.
* ``{extensionId}`` may be ``~`` (the token owner) or an extension of the caller's account.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from callscope.api.errors import ApiError, not_found
from callscope.digits import is_digits
from callscope.identity.model import AuthContext, AuthError
from callscope.identity.service import IdentityService
from callscope.store.directory import DirectoryRepository

__all__ = [
    "AUTH",
    "PROTECTED_PREFIXES",
    "account_param",
    "auth_middleware",
    "bearer_token",
    "caller",
    "extension_id_param",
    "may_watch",
    "require_admin",
]

AUTH = "callscope.auth"
#: Everything under these prefixes needs a bearer token. OAuth's own token and revoke
#: endpoints authenticate the client instead.
PROTECTED_PREFIXES = (
    "/restapi/v1.0/",
    "/restapi/oauth/wstoken",
    "/calls",
    "/platform/api/media",
    "/media-distributor",
    "/api/v2/",
    "/ai/",
    "/supervision/",
    "/admin/",
)


def bearer_token(request: web.BaseRequest) -> str:
    header = request.headers.get("Authorization", "")
    if not header and request.headers.get("Upgrade", "").lower() == "websocket":
        # A browser cannot set headers on a WebSocket: it passes the token in the query
        # (never logged: the access log omits query strings).
        token = request.query.get("access_token", "")
        if token:
            return token
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(
            401,
            "OAU-123",
            "Invalid Authorization header: send 'Authorization: Bearer <access token>'",
        )
    return value.strip()


def auth_middleware(identity: IdentityService) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith(PROTECTED_PREFIXES):
            try:
                request[AUTH] = await identity.resolve(bearer_token(request))
            except AuthError as exc:
                raise ApiError(401, exc.code, exc.message) from exc
        return await handler(request)

    return middleware


def caller(request: web.Request) -> AuthContext:
    auth: AuthContext = request[AUTH]
    return auth


def account_param(request: web.Request) -> str:
    """The ``{accountId}`` path segment resolved against the caller."""
    auth = caller(request)
    raw = request.match_info.get("accountId", "~")
    if raw in ("~", auth.account_id):
        return auth.account_id
    raise not_found("accountId", raw)


def extension_id_param(request: web.Request, name: str = "extensionId") -> int:
    """``~`` or digits; existence in the account is the caller's check."""
    raw = request.match_info[name]
    if raw == "~":
        return caller(request).extension_id
    if not is_digits(raw) or len(raw) > 18:
        raise not_found(name, raw)
    return int(raw)


def require_admin(request: web.Request, permission: str) -> AuthContext:
    """403 CMN-408 ``[permission] permission required`` unless the caller is an admin."""
    auth = caller(request)
    if not auth.admin:
        raise ApiError(
            403,
            "CMN-408",
            f"[{permission}] permission required",
            permissionName=permission,
        )
    return auth


async def may_watch(
    directory: DirectoryRepository, auth: AuthContext, extension_ids: Iterable[int | None]
) -> bool:
    """Whether the caller may see calls and events of any of these extensions: an admin
    may, an extension may see its own, a supervisor those its monitoring groups let it
    monitor (spec §7.5) — the rule of ``/calls`` and the active-call reads, used by every
    path (telephony sessions, subscriptions)."""
    if auth.admin:
        return True
    ids = {i for i in extension_ids if i is not None}
    if auth.extension_id in ids:
        return True
    for ext in ids:
        if await directory.may_monitor(auth.extension_id, ext):
            return True
    return False
