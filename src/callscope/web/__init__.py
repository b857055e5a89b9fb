"""The supervisor dashboard: static pages served by the app itself (no build step).

``/`` is the dashboard (a RingCX stream upgrading a WebSocket on ``/`` still reaches the
ingest), ``/static/…`` its scripts and styles, ``/client`` the embeddable per-call page
(callscope.api.clientlinks). The pages use the public REST and WebSocket APIs with the
built-in public OAuth client ``callscope-dashboard``; nothing here reads the database.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Final

from aiohttp import web

__all__ = ["STATIC_DIR", "page", "routes"]

STATIC_DIR: Final = Path(str(resources.files("callscope.web").joinpath("static")))
#: scripts and styles from this origin only; audio from blob: URLs (a fetched recording);
#: WebSockets back to this server
_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'"
)


def page(name: str, *, frame: bool = False) -> web.FileResponse:
    """A page of the dashboard with its security headers; ``frame`` lets other sites embed
    it (the per-call page lives in RingCX's agent script iFrame)."""
    csp = _CSP if frame else _CSP + "; frame-ancestors 'none'"
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
        "Permissions-Policy": "microphone=(self)",
    }
    if not frame:
        headers["X-Frame-Options"] = "DENY"
    return web.FileResponse(STATIC_DIR / name, headers=headers)


def routes() -> list[web.RouteDef]:
    return [web.static("/static", STATIC_DIR)]  # type: ignore[list-item]
