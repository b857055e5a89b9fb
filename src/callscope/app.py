"""Builds the aiohttp application and wires the components together."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

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
from callscope.calls.telephony import TelephonyService
from callscope.calls.wallboard import WallboardFeed
from callscope.cluster.bus import ClusterBus
from callscope.cluster.jobs import JobQueue
from callscope.cluster.node import Cluster
from callscope.config import Settings
from callscope.errors import ConfigError
from callscope.events.bus import Bus
from callscope.events.delivery import Dispatcher, DispatcherOptions
from callscope.events.targets import TargetPolicy
from callscope.identity.crypto import new_secret
from callscope.identity.passwords import PasswordPool
from callscope.identity.service import IdentityService
from callscope.identity.throttle import LoginThrottle, ThrottleLimits
from callscope.ingest import IngestService
from callscope.ingest.auth import IngestAuth, SecretHasher
from callscope.insights.analyzers import Embedder
from callscope.insights.llm import LlmClient
from callscope.insights.service import InsightsService
from callscope.lifecycle import Lifecycle, drain
from callscope.logsafe import clean
from callscope.metrics import Registry
from callscope.sip.accounts import SipAccounts
from callscope.sip.agent import SipAgent
from callscope.store.audit import AuditRepository
from callscope.store.calllog import CallLogRepository
from callscope.store.db import (
    SEED_LOCK,
    check_database,
    create_engine,
    exclusive,
    sessionmaker,
    upgrade,
)
from callscope.store.directory import DirectoryRepository, MemberChange
from callscope.store.events import EventRepository
from callscope.store.files import check_data_dir, private_dir, warn_if_exposed
from callscope.store.models import StreamingProfile, TranscriptStatus
from callscope.store.repo import CallRepository, ProfileRepository, utcnow
from callscope.store.retention import RetentionJob
from callscope.store.subscriptions import SubscriptionRepository
from callscope.store.ws_sessions import WsSessionRepository
from callscope.supervision.audit import SupervisionAudit
from callscope.supervision.service import SupervisionService
from callscope.tls import server_ssl_context, sip_ssl_context
from callscope.transcription.assist import load_rules
from callscope.transcription.live import TranscriptHub, topic_for
from callscope.transcription.pool import PoolOptions, WorkerPool

__all__ = ["Components", "build_app", "preflight", "run", "serve"]

logger = logging.getLogger("callscope.app")

COMPONENTS: web.AppKey[Components] = web.AppKey("components")
#: the demo account's monitoring group (the supervisor monitoring the agents)
DEMO_TEAM = "Demo team"
#: the demo account's streaming profile: the simulator's default product
DEMO_PROFILE: dict[str, Any] = {
    "productType": "QUEUE",
    "productId": 4401,
    "subAccountId": "88800012",
    "mainAccountId": "88800010",
}


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


@dataclass
class Components:
    settings: Settings
    engine: AsyncEngine
    registry: Registry
    calls: CallRepository
    profiles: ProfileRepository
    ingest: IngestService
    identity: IdentityService
    directory: DirectoryRepository
    telephony: TelephonyService
    bus: Bus
    transcripts: TranscriptHub | None
    dispatcher: Dispatcher
    supervision: SupervisionService
    insights: InsightsService
    cluster: Cluster | None = None
    grpc: GrpcIngest | None = None
    sip: SipAgent | None = None
    lifecycle: Lifecycle = field(default_factory=Lifecycle)


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


async def ensure_demo_team(
    directory: DirectoryRepository, account_id: str, supervisor: int, agents: list[int]
) -> bool:
    """The demo's "Demo team" monitoring group: the demo supervisor Monitoring the demo
    agents, so that the dashboard shows their calls at once. Idempotent: nothing is done if
    the account has a group of that name already. Returns whether it was created."""
    groups, _ = await directory.list_groups(account_id, limit=1000)
    if any(g.name.casefold() == DEMO_TEAM.casefold() for g in groups):
        return False
    group = await directory.create_group(account_id, DEMO_TEAM)
    await directory.bulk_assign(
        group.id,
        [MemberChange(supervisor, monitoring=True, monitored=False)]
        + [MemberChange(a, monitoring=False, monitored=True) for a in agents],
        [],
    )
    return True


async def _seed_demo(
    identity: IdentityService,
    directory: DirectoryRepository,
    profiles: ProfileRepository,
    hasher: SecretHasher,
    settings: Settings,
) -> None:
    """First start on an empty database: one demo account, its logins, its "Demo team"
    monitoring group and its streaming profile's secret printed once and kept in
    ``<data_dir>/demo-credentials.json`` (mode 0600), where ``callscope simulate`` and
    ``demo`` find the secret."""
    creds = await identity.seed_demo()
    account = creds["accountId"]
    await ensure_demo_team(
        directory,
        account,
        int(creds["supervisor"]["extensionId"]),
        [int(a["extensionId"]) for a in creds["agents"]],
    )
    secret = new_secret(24)
    now = utcnow()
    await profiles.create(
        StreamingProfile(
            product_type=DEMO_PROFILE["productType"],
            product_id=DEMO_PROFILE["productId"],
            sub_account_id=DEMO_PROFILE["subAccountId"],
            main_account_id=DEMO_PROFILE["mainAccountId"],
            rc_account_id=account,
            streaming_url="",
            secret_hash=await hasher.hash(secret),
            created_at=now,
            updated_at=now,
        )
    )
    creds["streaming"] = {**DEMO_PROFILE, "rcAccountId": account, "secret": secret}
    path = settings.data_dir / "demo-credentials.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask, and a file left from before included
    with os.fdopen(fd, "w") as f:
        json.dump(creds, f, indent=1)
    logger.warning(
        "created the demo account %s (supervisor ext 101 monitoring agents 102-104 = RingCX "
        "agents 5501-5503 in the Demo team group, QUEUE %s streaming profile). Log in with "
        "client id %s and the client secret, username %s and the password, or a JWT "
        "(supervisor's or an agent's); the "
        "supervisor's web phone device is supervisor.deviceId (Online once the dashboard "
        "connects it); streams present the profile's secret: all in %s",
        account,
        DEMO_PROFILE["productId"],
        creds["clientId"],
        creds["username"],
        path.resolve(),
    )


def build_app(settings: Settings) -> web.Application:
    """The whole server as one aiohttp application (start-up does migrations and recovery)."""
    if not private_dir(settings.data_dir):
        warn_if_exposed(settings.data_dir)
    private_dir(settings.recordings_dir)
    engine = create_engine(settings.effective_database_url)
    sessions = sessionmaker(engine)
    registry = Registry()
    calls = CallRepository(sessions)
    profiles = ProfileRepository(sessions)
    ingest = IngestService(settings, calls, registry)
    identity = IdentityService(
        sessions,
        passwords=PasswordPool(
            threads=settings.login_hash_threads, max_queued=settings.login_max_queued_checks
        ),
    )
    directory = DirectoryRepository(sessions)
    telephony = TelephonyService(
        sessions, directory, ingest.rows, default_account=settings.ingest_default_account
    )
    ingest.telephony = telephony
    cluster = Cluster(settings, registry) if settings.redis_url else None
    bus: Bus = ClusterBus(cluster) if cluster is not None else Bus()
    subscriptions = SubscriptionRepository(sessions)
    webhook_targets = TargetPolicy(
        allow_private=settings.events_webhook_allow_private,
        own_port=settings.port,
        own_host=settings.host,
    )
    dispatcher = Dispatcher(
        EventRepository(sessions),
        subscriptions,
        registry,
        DispatcherOptions(
            retry_initial_s=settings.events_retry_initial_s,
            retry_max_s=settings.events_retry_max_s,
            webhook_timeout_s=settings.events_webhook_timeout_s,
            max_failures=settings.events_max_failures,
            accept_no_reply=settings.events_webhook_accept_no_reply,
            webhook_targets=webhook_targets,
        ),
    )
    ingest.rows.after_commit.append(dispatcher.committed)
    if cluster is not None:
        dispatcher.join(cluster)
        ingest.recover_at_start = False  # under the node's recovery lease, below
    transcripts: TranscriptHub | None = None
    if settings.effective_asr_workers:
        pool = WorkerPool(asr_pool_options(settings), registry)
        transcripts = TranscriptHub(
            pool,
            ingest.rows,
            bus,
            registry,
            calls=calls,
            send_ms=settings.asr_send_ms,
            assist=(
                load_rules(Path(settings.assist_rules) if settings.assist_rules else None)
                if settings.assist_enabled
                else None
            ),
        )
        ingest.transcripts = transcripts
    supervision = SupervisionService(
        directory=directory,
        identity=identity,
        telephony=telephony,
        rows=ingest.rows,
        registry=registry,
        live_calls=ingest.live,
        transcripts=transcripts,
        queue_frames=settings.supervision_queue_frames,
    )
    ingest.supervision = supervision
    if cluster is not None:
        supervision.join(cluster, calls)
    feed = WallboardFeed(
        bus,
        calls,
        ingest.rows,
        lambda call_id: transcripts is not None and transcripts.get(call_id) is not None,
    )
    # the audit trail: told by the supervision service of every supervision's start, mode
    # and end
    supervision.audit = SupervisionAudit(ingest.rows, feed.monitoring_changed)
    insights = InsightsService(
        sessions,
        registry,
        embedder=(lambda: load_embedder(settings)),
        transcript_wait_s=settings.insights_transcript_wait_s,
        committed=dispatcher.committed,
        llm=(
            LlmClient(
                settings.insights_llm_url,
                settings.insights_llm_model,
                settings.insights_llm_key,
                deadline_s=settings.insights_llm_deadline_s,
            )
            if settings.insights_llm_url
            else None
        ),
    )
    ingest.insights = settings.insights_enabled
    if cluster is not None:
        insights.queue = JobQueue(cluster, "insights")
    retention = RetentionJob(
        sessions, registry, days=settings.retention_days, sweep_s=settings.retention_sweep_s
    )
    ingest.rows.after_commit.append(insights.committed)
    components = Components(
        settings,
        engine,
        registry,
        calls,
        profiles,
        ingest,
        identity,
        directory,
        telephony,
        bus,
        transcripts,
        dispatcher,
        supervision,
        insights,
        cluster,
    )

    middlewares = [error_middleware, auth_middleware(identity)]
    if settings.trusted_proxies:  # first: every later step sees the public request
        middlewares.insert(0, proxy_middleware(settings.trusted_proxy_networks))
    app = web.Application(middlewares=middlewares, client_max_size=1 << 20)
    app[COMPONENTS] = components
    ingest.lifecycle = components.lifecycle  # a drain closes ingest to new streams
    hasher = SecretHasher()
    ingest_auth = IngestAuth(
        profiles,
        hasher,
        allow_unauthenticated=settings.ingest_allow_unauthenticated,
        throttle=LoginThrottle(
            ThrottleLimits(max_failures_per_ip=settings.ingest_auth_max_failures, ip_window_s=60.0)
        ),
    )
    handler = IngestHandler(ingest, ingest_auth)
    grpc_ingest = GrpcIngest(ingest, ingest_auth, settings) if settings.grpc_port else None
    components.grpc = grpc_ingest
    sip_agent = (
        SipAgent(
            supervision,
            SipAccounts(sessions),
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
    components.sip = sip_agent

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
            components.lifecycle,
            engine,
            ingest,
            cluster,
            drain_timeout_s=settings.drain_timeout_s,
        ).routes()
    )
    access = CallAccess(calls, directory)
    sockets = OpenSockets(identity.session_ended)
    transcripts_api = TranscriptsApi(access, bus, transcripts, sockets)
    app.add_routes(ClientLinks(identity, access, transcripts_api, dashboard.page).routes())
    audit = AuditRepository(sessions)
    wallboard = WallboardApi(access, audit, feed, telephony, bus, sockets)
    app.add_routes(wallboard.routes())  # before /calls/{id}
    app.add_routes(CallsApi(access, audit).routes())
    app.add_routes(transcripts_api.routes())
    app.add_routes(dashboard.routes())
    app.add_routes(ProfilesApi(profiles, hasher).routes())
    app.add_routes(OAuthApi(identity, login_throttle(settings), registry).routes())
    app.add_routes(DirectoryApi(directory).routes())
    app.add_routes(TelephonyApi(telephony, directory).routes())
    app.add_routes(CallLogApi(CallLogRepository(sessions), directory, access).routes())
    app.add_routes(PresenceApi(telephony, directory).routes())
    app.add_routes(InfoApi(identity).routes())
    app.add_routes(InsightsApi(insights, directory).routes())
    supervision_api = SupervisionApi(
        supervision, directory, heartbeat_s=settings.supervision_heartbeat_s, sockets=sockets
    )
    app.add_routes(supervision_api.routes())
    subscriptions_api = SubscriptionsApi(
        subscriptions, directory, dispatcher, targets=webhook_targets
    )
    app.add_routes(subscriptions_api.routes())
    gateway = WsGateway(
        identity,
        subscriptions_api,
        dispatcher,
        sockets,
        WsSessionRepository(sessions),
        recovery_s=settings.events_ws_recovery_s,
    )
    app.add_routes(gateway.routes())
    app.add_routes(OpenApiRoutes().routes())  # describes every route above (and below)
    revocations = RevocationWatcher(identity, sockets, subscriptions_api.stop_all)

    async def node_died(node: str) -> None:
        """Cluster: take over what a dead node held."""
        why = f"node {node} stopped mid-call"
        rows = await ingest.recover(node, reason=why)
        await directory.webphones_offline(node)
        if sip_agent is not None:
            await sip_agent.accounts.all_offline(node)  # its SIP phones' registrations
        await supervision.node_died(node)
        for row in rows:
            if row.transcript_status in (TranscriptStatus.LIVE, TranscriptStatus.PENDING):
                if transcripts is not None:  # made again from the recording, here
                    await transcripts.requeue(row.id, row.account_ref, Path(row.recording_path))
                bus.publish(
                    topic_for(row.account_ref, row.id),
                    {
                        "event": "transcript.completed",
                        "callId": row.id,
                        "status": TranscriptStatus.INCOMPLETE.value,
                        "reason": why,
                    },
                )
        if settings.insights_enabled:
            await insights.queue_missing(call_ids=[row.id for row in rows])
            await insights.requeue()
        dispatcher.wake()
        if rows:
            logger.warning("node %s died: %d live call(s) marked interrupted", node, len(rows))

    async def fence(why: str) -> None:
        """Cluster: this node is cut off from Redis and will soon be taken for dead. Before
        that, it stops what a survivor would take over (see :mod:`callscope.cluster.node`):
        its calls end as a crash would end them, its web phones close, its WebHook queues
        are left to the others; new streams and web phones are refused until it is back."""
        dispatcher.fence()
        await ingest.fence(why)
        await supervision.fence(why)

    async def unfence() -> None:
        ingest.unfence()
        supervision.unfence()
        dispatcher.unfence()

    async def on_startup(_app: web.Application) -> None:
        await upgrade(engine)
        hasher.salt = await profiles.ingest_salt()
        if cluster is not None:
            await cluster.connect()
        async with exclusive(engine, SEED_LOCK):  # nodes starting together seed once
            if await identity.is_empty():
                await _seed_demo(identity, directory, profiles, hasher, settings)
        if transcripts is not None:
            await transcripts.pool.start()  # fails start-up with a clear engine/model error
        if cluster is None:
            await directory.webphones_offline()  # a crash left some Online
        else:
            node = cluster.node_id
            await directory.webphones_offline(node)
            await cluster.recover_own(
                lambda: ingest.recover(node, reason=f"node {node} stopped mid-call")
            )
        feed.start()  # before the calls: it follows their transcripts
        await ingest.start()  # recovery marks what a crash interrupted
        if grpc_ingest is not None:
            await grpc_ingest.start()  # RingCX gRPC dialogs, once recovery is done
        if sip_agent is not None:
            await sip_agent.start()  # supervisors' SIP phones register from here on
        await dispatcher.start()  # resumes the queues a stop or crash left
        if transcripts is not None:
            await transcripts.start_backfills()  # first: their insights wait for them
        if settings.insights_enabled:
            await insights.start()  # and the insight jobs
        retention.start()
        await revocations.start()
        if cluster is not None:
            cluster.on_dead.append(node_died)
            cluster.on_fence.append(fence)
            cluster.on_unfence.append(unfence)
            await cluster.start()  # heartbeats; dead nodes are taken over from here on
        if settings.gc_freeze:
            # Full collections of a large heap set the ingest p99; start-up objects never die.
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 50, 100)

    async def on_shutdown(_app: web.Application) -> None:
        await revocations.stop()
        if sip_agent is not None:
            await sip_agent.stop()  # registered phones are told BYE and go Offline
        await supervision.stop()
        await ingest.stop()  # ends every call, gRPC dialogs too
        if grpc_ingest is not None:
            await grpc_ingest.stop()
        await insights.stop()
        await retention.stop()
        await gateway.close()  # gateway sessions stay recoverable (by another node too)
        await dispatcher.stop()
        await feed.stop()

    async def on_cleanup(_app: web.Application) -> None:
        await subscriptions_api.close()
        await supervision_api.close()
        if cluster is not None:
            await cluster.stop()
        identity.close()
        hasher.close()
        await engine.dispose()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app


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


def load_embedder(settings: Settings) -> Embedder | None:
    """The packaged sentence-embedding model, or None (rules alone) with a warning."""
    if not settings.insights_embeddings:
        return None
    from callscope.insights.embeddings import MiniLM

    try:
        return MiniLM()
    except ConfigError as exc:
        logger.warning("insights: next steps by rules only: %s", exc)
        return None


def asr_pool_options(settings: Settings) -> PoolOptions:
    return PoolOptions(
        workers=settings.effective_asr_workers,
        engine=settings.asr_engine,
        model_dir=Path(settings.asr_model_dir) if settings.asr_model_dir else None,
        threads=settings.asr_threads,
        partial_interval_ms=settings.asr_partial_interval_ms,
        max_segment_ms=settings.asr_max_segment_ms,
        hangover_ms=settings.asr_vad_hangover_ms,
        pack=settings.asr_pack,
        log_level=settings.log_level,
    )


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
