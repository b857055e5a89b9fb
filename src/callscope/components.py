"""The components of a server, each given those it works with (:func:`wire`).

:mod:`callscope.app` puts them behind its routes; :mod:`callscope.hooks` starts and stops them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callscope.api.grpc_ingest import GrpcIngest
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
from callscope.identity.passwords import PasswordPool
from callscope.identity.service import IdentityService
from callscope.ingest import IngestService
from callscope.ingest.auth import SecretHasher
from callscope.insights.analyzers import Embedder
from callscope.insights.llm import LlmClient
from callscope.insights.service import InsightsService
from callscope.lifecycle import Lifecycle
from callscope.metrics import Registry
from callscope.sip.agent import SipAgent
from callscope.store.db import create_engine, sessionmaker
from callscope.store.directory import DirectoryRepository
from callscope.store.events import EventRepository
from callscope.store.repo import CallRepository, ProfileRepository
from callscope.store.retention import RetentionJob
from callscope.store.subscriptions import SubscriptionRepository
from callscope.supervision.audit import SupervisionAudit
from callscope.supervision.service import SupervisionService
from callscope.transcription.assist import load_rules
from callscope.transcription.live import TranscriptHub
from callscope.transcription.pool import PoolOptions, WorkerPool

__all__ = ["Components", "Wiring", "asr_pool_options", "load_embedder", "wire"]

logger = logging.getLogger("callscope.app")


@dataclass
class Components:
    """The server's parts, as the routes, the hooks and the commands reach them."""

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


@dataclass(slots=True)
class Wiring:
    """What :func:`callscope.app.build_app` wires beside the :class:`Components`: the
    pieces its routes and hooks share."""

    components: Components
    sessions: async_sessionmaker[AsyncSession]
    subscriptions: SubscriptionRepository
    webhook_targets: TargetPolicy
    feed: WallboardFeed
    retention: RetentionJob
    #: stream secrets as stored (its salt is loaded at start-up)
    hasher: SecretHasher = field(default_factory=SecretHasher)


def wire(settings: Settings) -> Wiring:
    """The components, each given those it works with."""
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
        ingest.recover_at_start = False  # under the node's recovery lease (hooks)
    transcripts = _transcripts(settings, ingest, bus, registry, calls)
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
    insights = _insights(settings, sessions, registry, dispatcher)
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
    return Wiring(components, sessions, subscriptions, webhook_targets, feed, retention)


def _transcripts(
    settings: Settings,
    ingest: IngestService,
    bus: Bus,
    registry: Registry,
    calls: CallRepository,
) -> TranscriptHub | None:
    """Live transcription (and assist) of every call, unless ``asr_workers`` is 0."""
    if not settings.effective_asr_workers:
        return None
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
    return transcripts


def _insights(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    registry: Registry,
    dispatcher: Dispatcher,
) -> InsightsService:
    """The insights of ended calls: offline analyzers, and an LLM when one is set."""
    return InsightsService(
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
