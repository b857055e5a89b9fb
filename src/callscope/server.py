"""Runs the application: the event loop, checks before start, signals, drain and stop."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from callscope.app import COMPONENTS, build_app
from callscope.config import Settings
from callscope.errors import ConfigError
from callscope.lifecycle import drain
from callscope.logsafe import clean
from callscope.store.db import check_database
from callscope.store.files import check_data_dir
from callscope.tls import server_ssl_context

__all__ = ["AccessLogger", "new_event_loop", "preflight", "run", "serve"]

logger = logging.getLogger("callscope.app")


class AccessLogger(AbstractAccessLogger):
    """Method, path, status, time. Never the query string: it can carry secrets and numbers.
    The path is the client's (decoded: ``%0A`` is a newline), so it is escaped."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1f ms",
            clean(request.method, 16),
            clean(request.path, 200),
            response.status,
            time * 1000,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


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


async def preflight(settings: Settings, *, timeout_s: float = 5.0) -> None:
    """What the server needs before anything is built or listens: a data directory it can
    write and a database that answers. Fails in one line naming the setting.

    Raises:
        ConfigError: the setting, its value (a database password masked) and why.
    """
    try:
        check_data_dir(settings.data_dir)
    except ConfigError as exc:
        raise ConfigError(
            f"data_dir {exc}: set --data-dir or CALLSCOPE_DATA_DIR to a directory this "
            "server may write"
        ) from exc
    try:
        await check_database(settings.effective_database_url, timeout_s=timeout_s)
    except ConfigError as exc:
        raise ConfigError(
            f"database_url {exc}: start the database or create it, or set --database-url or "
            "CALLSCOPE_DATABASE_URL"
        ) from exc


async def serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT or a drain request (``POST /admin/drain``); then
    drain (callscope.lifecycle) and shut down.

    The first signal starts the drain; a second one cuts its wait short. A signal during
    start-up stops the start. aiohttp's own signal handling (``run_app``) would shut down at
    once, so the runner and its site are driven here.
    """
    app = build_app(settings)
    components = app[COMPONENTS]
    lifecycle = components.lifecycle
    ssl_context = server_ssl_context(settings)
    runner = web.AppRunner(app, access_log_class=AccessLogger, shutdown_timeout=5.0)
    loop = asyncio.get_running_loop()
    setup = asyncio.ensure_future(runner.setup())

    def on_signal(sig: signal.Signals) -> None:
        if not setup.done():
            logger.warning("%s during start-up: stopping", sig.name)
            setup.cancel()
        elif lifecycle.request_drain(sig.name):
            pass  # drain() says so, with the count of live calls
        elif not lifecycle.cut.is_set():  # draining already (a signal or a request)
            logger.warning("%s while draining: ending the live calls now", sig.name)
            lifecycle.cut_short()

    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        try:
            await setup
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if setup.cancelled() and task is not None and not task.cancelling():
                return  # stopped by a signal during start-up: the finally cleans up
            raise
        site = web.TCPSite(runner, settings.host, settings.port, ssl_context=ssl_context)
        await site.start()
        if not lifecycle.draining:
            lifecycle.serving()
        await lifecycle.drain_requested.wait()
        await drain(lifecycle, components.ingest, settings.drain_timeout_s)
    finally:
        lifecycle.stopping()
        try:
            await runner.cleanup()  # on_shutdown ends the calls left (interrupted)
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)


def run(settings: Settings) -> None:
    """Serve (:func:`serve`) on the event loop ``event_loop`` asks for."""
    with asyncio.Runner(loop_factory=lambda: new_event_loop(settings.event_loop)) as runner:
        logger.info("event loop: %s", type(runner.get_loop()).__module__.split(".")[0])
        runner.run(serve(settings))
