"""Builds the aiohttp application: middlewares, listeners and routes over the components.

The components and their wiring are :mod:`callscope.components`; starting and stopping them,
:mod:`callscope.hooks`; running the application, :mod:`callscope.server`; the demo account a
first start creates, :mod:`callscope.seed`.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy import text

from callscope import __version__
from callscope import web as dashboard
from callscope.api.auth import auth_middleware
from callscope.api.calllog import CallLogApi
from callscope.api.calls import CallAccess, CallsApi
from callscope.api.clientlinks import ClientLinks
from callscope.api.directory import DirectoryApi
from callscope.api.errors import error_middleware, json_response
from callscope.api.grpc_ingest import GrpcIngest
from callscope.api.info import InfoApi
from callscope.api.ingest import INGEST_PATHS, TWO_WAY_PATH, IngestHandler
from callscope.api.insights import InsightsApi
from callscope.api.lifecycle import LifecycleApi
from callscope.api.oauth import OAuthApi
from callscope.api.openapi import OpenApiRoutes
from callscope.api.presence import PresenceApi
from callscope.api.profiles import ProfilesApi
from callscope.api.proxy import proxy_middleware
from callscope.api.revocation import OpenSockets, RevocationWatcher
from callscope.api.subscriptions import SubscriptionsApi
from callscope.api.supervise import SupervisionApi
from callscope.api.telephony import TelephonyApi
from callscope.api.transcripts import TranscriptsApi
from callscope.api.wallboard import WallboardApi
from callscope.api.wsgateway import WsGateway
from callscope.components import Components, Wiring, wire
from callscope.config import Settings
from callscope.hooks import AppHooks
from callscope.identity.throttle import LoginThrottle, ThrottleLimits
from callscope.ingest.auth import IngestAuth
from callscope.sip.accounts import SipAccounts
from callscope.sip.agent import SipAgent
from callscope.store.audit import AuditRepository
from callscope.store.calllog import CallLogRepository
from callscope.store.files import private_dir, warn_if_exposed
from callscope.store.ws_sessions import WsSessionRepository
from callscope.tls import sip_ssl_context

__all__ = ["COMPONENTS", "build_app", "login_throttle"]

logger = logging.getLogger("callscope.app")

COMPONENTS: web.AppKey[Components] = web.AppKey("components")


async def _health(request: web.Request) -> web.Response:
    """Status, version, database and live calls; 503 if the database is unreachable."""
    c = request.app[COMPONENTS]
    db_ok = True
    try:
        async with c.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        logger.exception("health check: database unreachable")
        db_ok = False
    fenced = c.cluster is not None and c.cluster.fenced
    body: dict[str, Any] = {
        "status": "fenced" if fenced else "ok" if db_ok else "degraded",
        "version": __version__,
        "database": "ok" if db_ok else "unreachable",
        "liveCalls": len(c.ingest.live),
        "node": c.ingest.node_id,
    }
    if c.cluster is not None:
        body["cluster"] = {
            "prefix": c.cluster.prefix,
            "nodesAlive": sorted(c.cluster.alive),
            "fenced": c.cluster.fenced,
        }
    # 503 while fenced too: a balancer's health check sends the streams elsewhere
    return json_response(body, status=200 if db_ok and not fenced else 503)


async def _metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of the server's metrics."""
    c = request.app[COMPONENTS]
    return web.Response(
        text=c.registry.render(), content_type="text/plain", headers={"X-Format": "0.0.4"}
    )


def build_app(settings: Settings) -> web.Application:
    """The whole server as one aiohttp application (start-up does migrations and recovery)."""
    if not private_dir(settings.data_dir):
        warn_if_exposed(settings.data_dir)
    private_dir(settings.recordings_dir)
    w = wire(settings)
    c = w.components
    middlewares = [error_middleware, auth_middleware(c.identity)]
    if settings.trusted_proxies:  # first: every later step sees the public request
        middlewares.insert(0, proxy_middleware(settings.trusted_proxy_networks))
    app = web.Application(middlewares=middlewares, client_max_size=1 << 20)
    app[COMPONENTS] = c
    c.ingest.lifecycle = c.lifecycle  # a drain closes ingest to new streams
    handler = _listeners(w)
    _add_routes(app, w, handler).install(app)
    return app


def _listeners(w: Wiring) -> IngestHandler:
    """The ingest WebSocket handler; the gRPC and SIP listeners when their ports are set."""
    c, settings = w.components, w.components.settings
    ingest_auth = IngestAuth(
        c.profiles,
        w.hasher,
        allow_unauthenticated=settings.ingest_allow_unauthenticated,
        throttle=LoginThrottle(
            ThrottleLimits(max_failures_per_ip=settings.ingest_auth_max_failures, ip_window_s=60.0)
        ),
    )
    handler = IngestHandler(c.ingest, ingest_auth)
    c.grpc = GrpcIngest(c.ingest, ingest_auth, settings) if settings.grpc_port else None
    c.sip = (
        SipAgent(
            c.supervision,
            SipAccounts(w.sessions),
            settings.sip_bind_host,
            settings.sip_port,
            settings.sip_realm,
            tls=sip_ssl_context(settings),
            tls_port=settings.sip_tls_port,
            throttle=login_throttle(settings),  # the login budget, counted apart
            invite_timeout_s=settings.sip_invite_timeout_s,
        )
        if settings.sip_port
        else None
    )
    return handler


def _add_routes(app: web.Application, w: Wiring, handler: IngestHandler) -> AppHooks:
    """Every route, in the order they match; returns the hooks that start and stop them."""
    c, settings, sessions = w.components, w.components.settings, w.sessions

    async def root(request: web.Request) -> web.StreamResponse:
        """``/``: a RingCX stream upgrades a WebSocket here; a browser gets the dashboard."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler.handle(request)
        return dashboard.page("index.html")

    app.add_routes([web.get(p, root if p == "/" else handler.handle) for p in INGEST_PATHS])
    app.add_routes([web.get(TWO_WAY_PATH, handler.handle_two_way)])
    app.add_routes([web.get("/health", _health), web.get("/metrics", _metrics)])
    app.add_routes(
        LifecycleApi(
            c.lifecycle,
            c.engine,
            c.ingest,
            c.cluster,
            drain_timeout_s=settings.drain_timeout_s,
        ).routes()
    )
    access = CallAccess(c.calls, c.directory)
    sockets = OpenSockets(c.identity.session_ended)
    transcripts_api = TranscriptsApi(access, c.bus, c.transcripts, sockets)
    app.add_routes(ClientLinks(c.identity, access, transcripts_api, dashboard.page).routes())
    audit = AuditRepository(sessions)
    wallboard = WallboardApi(access, audit, w.feed, c.telephony, c.bus, sockets)
    app.add_routes(wallboard.routes())  # before /calls/{id}
    app.add_routes(CallsApi(access, audit).routes())
    app.add_routes(transcripts_api.routes())
    app.add_routes(dashboard.routes())
    app.add_routes(ProfilesApi(c.profiles, w.hasher).routes())
    app.add_routes(OAuthApi(c.identity, login_throttle(settings), c.registry).routes())
    app.add_routes(DirectoryApi(c.directory).routes())
    app.add_routes(TelephonyApi(c.telephony, c.directory).routes())
    app.add_routes(CallLogApi(CallLogRepository(sessions), c.directory, access).routes())
    app.add_routes(PresenceApi(c.telephony, c.directory).routes())
    app.add_routes(InfoApi(c.identity).routes())
    app.add_routes(InsightsApi(c.insights, c.directory).routes())
    supervision_api = SupervisionApi(
        c.supervision, c.directory, heartbeat_s=settings.supervision_heartbeat_s, sockets=sockets
    )
    app.add_routes(supervision_api.routes())
    subscriptions_api = SubscriptionsApi(
        w.subscriptions, c.directory, c.dispatcher, targets=w.webhook_targets
    )
    app.add_routes(subscriptions_api.routes())
    gateway = WsGateway(
        c.identity,
        subscriptions_api,
        c.dispatcher,
        sockets,
        WsSessionRepository(sessions),
        recovery_s=settings.events_ws_recovery_s,
    )
    app.add_routes(gateway.routes())
    app.add_routes(OpenApiRoutes().routes())  # describes every route above (and below)
    return AppHooks(
        c,
        w.hasher,
        w.feed,
        w.retention,
        RevocationWatcher(c.identity, sockets, subscriptions_api.stop_all),
        gateway,
        subscriptions_api,
        supervision_api,
    )


def login_throttle(settings: Settings) -> LoginThrottle:
    """This node's login rate limits (in memory: N nodes give a guesser N budgets)."""
    return LoginThrottle(
        ThrottleLimits(
            max_failures_per_user=settings.login_max_failures_per_user,
            user_window_s=settings.login_user_window_s,
            lockout_s=settings.login_lockout_s,
            lockout_max_s=settings.login_lockout_max_s,
            max_failures_per_ip=settings.login_max_failures_per_ip,
            ip_window_s=settings.login_ip_window_s,
        )
    )
