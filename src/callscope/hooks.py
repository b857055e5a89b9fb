"""The application's start-up, shutdown and clean-up, and a cluster node's part in the
cluster: taking over what a dead node held, fencing itself while cut off from Redis.

:func:`callscope.app.build_app` wires the components and registers these hooks.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from callscope.seed import seed_demo_account
from callscope.store.db import SEED_LOCK, exclusive, upgrade
from callscope.store.models import TranscriptStatus
from callscope.transcription.live import topic_for

if TYPE_CHECKING:
    from callscope.api.revocation import RevocationWatcher
    from callscope.api.subscriptions import SubscriptionsApi
    from callscope.api.supervise import SupervisionApi
    from callscope.api.wsgateway import WsGateway
    from callscope.calls.wallboard import WallboardFeed
    from callscope.components import Components
    from callscope.ingest.auth import SecretHasher
    from callscope.store.retention import RetentionJob

__all__ = ["AppHooks"]

logger = logging.getLogger("callscope.app")


@dataclass(slots=True)
class AppHooks:
    """What starts and stops with the application, beside its :class:`Components`."""

    components: Components
    hasher: SecretHasher
    feed: WallboardFeed
    retention: RetentionJob
    revocations: RevocationWatcher
    gateway: WsGateway
    subscriptions_api: SubscriptionsApi
    supervision_api: SupervisionApi

    def install(self, app: web.Application) -> None:
        """Run with ``app``'s start-up, shutdown and clean-up."""
        app.on_startup.append(self.on_startup)
        app.on_shutdown.append(self.on_shutdown)
        app.on_cleanup.append(self.on_cleanup)

    async def node_died(self, node: str) -> None:
        """Cluster: take over what a dead node held."""
        c = self.components
        why = f"node {node} stopped mid-call"
        rows = await c.ingest.recover(node, reason=why)
        await c.directory.webphones_offline(node)
        if c.sip is not None:
            await c.sip.accounts.all_offline(node)  # its SIP phones' registrations
        await c.supervision.node_died(node)
        for row in rows:
            if row.transcript_status in (TranscriptStatus.LIVE, TranscriptStatus.PENDING):
                if c.transcripts is not None:  # made again from the recording, here
                    await c.transcripts.requeue(row.id, row.account_ref, Path(row.recording_path))
                c.bus.publish(
                    topic_for(row.account_ref, row.id),
                    {
                        "event": "transcript.completed",
                        "callId": row.id,
                        "status": TranscriptStatus.INCOMPLETE.value,
                        "reason": why,
                    },
                )
        if c.settings.insights_enabled:
            await c.insights.queue_missing(call_ids=[row.id for row in rows])
            await c.insights.requeue()
        c.dispatcher.wake()
        if rows:
            logger.warning("node %s died: %d live call(s) marked interrupted", node, len(rows))

    async def fence(self, why: str) -> None:
        """Cluster: this node is cut off from Redis and will soon be taken for dead. Before
        that, it stops what a survivor would take over (see :mod:`callscope.cluster.node`):
        its calls end as a crash would end them, its web phones close, its WebHook queues
        are left to the others; new streams and web phones are refused until it is back."""
        c = self.components
        c.dispatcher.fence()
        await c.ingest.fence(why)
        await c.supervision.fence(why)

    async def unfence(self) -> None:
        c = self.components
        c.ingest.unfence()
        c.supervision.unfence()
        c.dispatcher.unfence()

    async def on_startup(self, _app: web.Application) -> None:
        c = self.components
        await upgrade(c.engine)
        self.hasher.salt = await c.profiles.ingest_salt()
        if c.cluster is not None:
            await c.cluster.connect()
        async with exclusive(c.engine, SEED_LOCK):  # nodes starting together seed once
            if await c.identity.is_empty():
                await seed_demo_account(
                    c.identity, c.directory, c.profiles, self.hasher, c.settings
                )
        if c.transcripts is not None:
            await c.transcripts.pool.start()  # fails start-up with a clear engine/model error
        await self._recover()
        self.feed.start()  # before the calls: it follows their transcripts
        await c.ingest.start()  # recovery marks what a crash interrupted
        if c.grpc is not None:
            await c.grpc.start()  # RingCX gRPC dialogs, once recovery is done
        if c.sip is not None:
            await c.sip.start()  # supervisors' SIP phones register from here on
        await c.dispatcher.start()  # resumes the queues a stop or crash left
        if c.transcripts is not None:
            await c.transcripts.start_backfills()  # first: their insights wait for them
        if c.settings.insights_enabled:
            await c.insights.start()  # and the insight jobs
        self.retention.start()
        await self.revocations.start()
        if c.cluster is not None:
            c.cluster.on_dead.append(self.node_died)
            c.cluster.on_fence.append(self.fence)
            c.cluster.on_unfence.append(self.unfence)
            await c.cluster.start()  # heartbeats; dead nodes are taken over from here on
        if c.settings.gc_freeze:
            # Full collections of a large heap set the ingest p99; start-up objects never die.
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 50, 100)

    async def _recover(self) -> None:
        """What a crash of this node left: its web phones Online, its calls (in a cluster,
        under the node's recovery lease)."""
        c = self.components
        if c.cluster is None:
            await c.directory.webphones_offline()  # a crash left some Online
            return
        node = c.cluster.node_id
        await c.directory.webphones_offline(node)
        await c.cluster.recover_own(
            lambda: c.ingest.recover(node, reason=f"node {node} stopped mid-call")
        )

    async def on_shutdown(self, _app: web.Application) -> None:
        c = self.components
        await self.revocations.stop()
        if c.sip is not None:
            await c.sip.stop()  # registered phones are told BYE and go Offline
        await c.supervision.stop()
        await c.ingest.stop()  # ends every call, gRPC dialogs too
        if c.grpc is not None:
            await c.grpc.stop()
        await c.insights.stop()
        await self.retention.stop()
        await self.gateway.close()  # gateway sessions stay recoverable (by another node too)
        await c.dispatcher.stop()
        await self.feed.stop()

    async def on_cleanup(self, _app: web.Application) -> None:
        c = self.components
        await self.subscriptions_api.close()
        await self.supervision_api.close()
        if c.cluster is not None:
            await c.cluster.stop()
        c.identity.close()
        self.hasher.close()
        await c.engine.dispose()
