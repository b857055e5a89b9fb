"""Behind a proxy: requests seen with the client's scheme, host and address.

:func:`proxy_middleware` runs first (outermost). For a request whose TCP peer is in
``trusted_proxies`` it hands the rest of the application ``request.clone(scheme=…, host=…,
remote=…)`` from :func:`callscope.forwarded.resolve`, so ``request.url``, ``request.secure``,
``request.host`` and ``request.remote`` are the public ones everywhere: every absolute URL an
answer carries (:func:`public_origin`, :func:`ws_origin`, paging links) and every per-address
limit (login throttle, ingest). From any other peer the forwarding headers are not read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from callscope.forwarded import FIELDS, TrustedProxies, resolve

__all__ = ["proxy_middleware", "public_origin", "ws_origin"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def proxy_middleware(trusted: TrustedProxies) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware that applies what ``trusted`` proxies say about each request."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = {name: request.headers.getall(name) for name in FIELDS if name in request.headers}
        view = resolve(
            peer=request.remote,
            scheme=request.scheme,
            host=request.host,
            headers=headers,
            trusted=trusted,
        )
        if view is not None and (view.scheme, view.host, view.remote) != (
            request.scheme,
            request.host,
            request.remote,
        ):
            request = request.clone(scheme=view.scheme, host=view.host, remote=view.remote)
        return await handler(request)

    return middleware


def public_origin(request: web.Request) -> str:
    """``scheme://host[:port]`` the client used (the proxy's, behind a trusted one): the base
    of every absolute URL in an answer."""
    return str(request.url.origin())


def ws_origin(request: web.Request) -> str:
    """:func:`public_origin` with the WebSocket scheme: ``wss://`` when the client used TLS."""
    return f"{'wss' if request.secure else 'ws'}://{request.host}"
