"""The supervisor dashboard: static pages served by the app itself (no build step).

``/`` is the dashboard (a RingCX stream upgrading a WebSocket on ``/`` still reaches the
ingest), ``/static/…`` its scripts and styles, ``/client`` the embeddable per-call page
(callscope.api.clientlinks). The pages use the public REST and WebSocket APIs with the
built-in public OAuth client ``callscope-dashboard``; nothing here reads the database.

``/docs`` is Swagger UI over the server's OpenAPI document (``/restapi/openapi.json``,
callscope.api.openapi), its files vendored from the npm package ``swagger-ui-dist`` in
``docs/assets`` (Apache-2.0; see ``docs/assets/README.md``): nothing is loaded from elsewhere.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Final

from aiohttp import web

__all__ = ["DOCS_DIR", "STATIC_DIR", "docs_page", "page", "routes"]

STATIC_DIR: Final = Path(str(resources.files("callscope.web").joinpath("static")))
DOCS_DIR: Final = Path(str(resources.files("callscope.web").joinpath("docs")))
#: scripts and styles from this origin only; audio from blob: URLs (a fetched recording);
#: WebSockets back to this server
_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'"
)
#: ``/docs`` only: Swagger UI sets inline styles (React style attributes) and draws its icons
#: from data: URIs; scripts still come from this origin alone
_DOCS_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
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


async def docs_page(request: web.Request) -> web.FileResponse:
    """Swagger UI: the API documentation of this server, from its OpenAPI document."""
    return web.FileResponse(
        DOCS_DIR / "index.html",
        headers={
            "Content-Security-Policy": _DOCS_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
            "X-Frame-Options": "DENY",
        },
    )


def routes() -> list[web.RouteDef]:
    return [
        web.static("/static", STATIC_DIR),  # type: ignore[list-item]
        web.get("/docs", docs_page),
        web.static("/docs/assets", DOCS_DIR / "assets"),  # type: ignore[list-item]
    ]
