"""Builds the aiohttp application and wires the components together."""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from callscope import __version__
from callscope.api.calls import CallsApi
from callscope.api.errors import error_middleware, json_response
from callscope.api.ingest import INGEST_PATHS, IngestHandler
from callscope.api.profiles import ProfilesApi
from callscope.config import Settings
from callscope.errors import ConfigError
from callscope.ingest import IngestService
from callscope.metrics import Registry
from callscope.store.db import create_engine, sessionmaker, upgrade
from callscope.store.repo import CallRepository, ProfileRepository

__all__ = ["Components", "build_app"]

logger = logging.getLogger("callscope.app")

COMPONENTS: web.AppKey[Components] = web.AppKey("components")


class AccessLogger(AbstractAccessLogger):
    """Method, path, status, time. Never the query string: it can carry secrets and numbers."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1f ms", request.method, request.path, response.status, time * 1000
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


@dataclass
class Components:
    settings: Settings
    engine: AsyncEngine
    registry: Registry
    calls: CallRepository
    profiles: ProfileRepository
    ingest: IngestService


async def _health(request: web.Request) -> web.Response:
    c = request.app[COMPONENTS]
    db_ok = True
    try:
        async with c.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        logger.exception("health check: database unreachable")
        db_ok = False
    body = {
        "status": "ok" if db_ok else "degraded",
        "version": __version__,
        "database": "ok" if db_ok else "unreachable",
        "liveCalls": len(c.ingest.live),
    }
    return json_response(body, status=200 if db_ok else 503)


async def _metrics(request: web.Request) -> web.Response:
    c = request.app[COMPONENTS]
    return web.Response(
        text=c.registry.render(), content_type="text/plain", headers={"X-Format": "0.0.4"}
    )


def build_app(settings: Settings) -> web.Application:
    """The whole server as one aiohttp application (start-up does migrations and recovery)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.effective_database_url)
    sessions = sessionmaker(engine)
    registry = Registry()
    calls = CallRepository(sessions)
    profiles = ProfileRepository(sessions)
    ingest = IngestService(settings, calls, registry)
    components = Components(settings, engine, registry, calls, profiles, ingest)

    app = web.Application(middlewares=[error_middleware], client_max_size=1 << 20)
    app[COMPONENTS] = components
    handler = IngestHandler(ingest, profiles, require_profile=settings.ingest_require_profile)
    app.add_routes([web.get(path, handler.handle) for path in INGEST_PATHS])
    app.add_routes([web.get("/health", _health), web.get("/metrics", _metrics)])
    app.add_routes(CallsApi(calls).routes())
    app.add_routes(ProfilesApi(profiles).routes())

    async def on_startup(_app: web.Application) -> None:
        await upgrade(engine)
        await ingest.start()
        if settings.gc_freeze:
            # Full collections of a large heap set the ingest p99; start-up objects never die.
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 50, 100)

    async def on_shutdown(_app: web.Application) -> None:
        await ingest.stop()

    async def on_cleanup(_app: web.Application) -> None:
        await engine.dispose()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """The event loop ``event_loop`` asks for; uvloop roughly halves the per-message overhead
    of the socket and WebSocket layers (see bench/ingest.py)."""
    if kind in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError as exc:
            if kind == "uvloop":
                raise ConfigError(
                    "event_loop=uvloop but uvloop is not installed: pip install uvloop "
                    "(Linux and macOS), or use event_loop=asyncio"
                ) from exc
        else:
            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop
    return asyncio.new_event_loop()


def run(settings: Settings, **kwargs: Any) -> None:
    """Serve until SIGINT/SIGTERM."""
    loop = new_event_loop(settings.event_loop)
    logger.info("event loop: %s", type(loop).__module__.split(".")[0])
    web.run_app(
        build_app(settings),
        host=settings.host,
        port=settings.port,
        access_log_class=AccessLogger,
        print=None,
        handle_signals=True,
        shutdown_timeout=5.0,
        loop=loop,
        **kwargs,
    )
