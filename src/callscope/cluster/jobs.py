"""A job queue on a Redis stream with a consumer group: a job a dead node held is taken over.

Each job is an entry ``{"id": <job id>}`` in the stream ``<p>:jobs:<name>``, read by the
group ``<name>`` with one consumer per node. What a node has read stays in its pending list
until it acknowledges it; while the node works on (or waits for) a job it refreshes the
entry's idle time and the job's lease (``<p>:jobs:<name>:lock:<id>``) every third of
``node_dead_after_s``. When a node dies both lapse: another node's ``XAUTOCLAIM`` takes the
entry after ``node_dead_after_s`` idle and the job is done there.

A job id may be queued more than once (at start-up every pending job is queued again, in
case a node died between committing a job and queuing it); the lease makes sure only one
node holds it, and the holder acknowledges the duplicates. A job Redis refused while it was
away is queued again every keep-alive round until Redis answers. The database stays the record
of a job's state: the queue only says who works on what.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from redis.exceptions import ResponseError

from callscope.cluster.node import Cluster

__all__ = ["JobQueue"]

logger = logging.getLogger("callscope.cluster")

#: entries kept in a stream (acknowledged ones are deleted; this bounds a stuck group)
MAX_LEN = 100_000


class JobQueue:
    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster = cluster
        self.stream = cluster.key("jobs", name)
        self.group = name
        self.consumer = cluster.node_id
        self.idle_ms = int(cluster.dead_after_s * 1000)
        #: job id → the stream entry this node holds for it
        self.held: dict[str, str] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._adds: set[asyncio.Task[None]] = set()
        #: job ids whose queuing failed (Redis away): queued again every keep-alive round
        #: until it answers; a node that stops first leaves them to start-up's requeue
        self.unqueued: set[str] = set()
        self.started = False
        #: called when the stream had to be made again (queue what is pending again)
        self.on_reset: Callable[[], Awaitable[None]] | None = None

    def _lock(self, job_id: str) -> str:
        return f"{self.stream}:lock:{job_id}"

    async def _create_group(self) -> None:
        try:
            await self.cluster.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def start(self) -> None:
        await self._create_group()
        self._keeper = asyncio.create_task(self._keep(), name=f"callscope-jobs-{self.group}")
        self.started = True

    async def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        for task in list(self._adds):
            with contextlib.suppress(Exception):
                await task
        # Let go at once: another node need not wait for the entries to go idle.
        for job_id in list(self.held):
            await self.cluster.release(self._lock(job_id))
        self.held.clear()

    async def add(self, job_ids: Iterable[str]) -> None:
        pipe = self.cluster.redis.pipeline(transaction=False)
        n = 0
        for job_id in job_ids:
            pipe.xadd(self.stream, {"id": job_id}, maxlen=MAX_LEN, approximate=True)
            n += 1
        if n:
            await pipe.execute()

    def add_soon(self, job_ids: Iterable[str]) -> None:
        """Queue without waiting (from a synchronous commit hook)."""
        ids = list(job_ids)
        if ids:
            task = asyncio.ensure_future(self._add_logged(ids))
            self._adds.add(task)
            task.add_done_callback(self._adds.discard)

    async def _add_logged(self, ids: list[str]) -> None:
        try:
            await self.add(ids)
        except Exception as exc:
            self.unqueued.update(ids)
            logger.warning(
                "%s: %d job(s) not queued (%s: %s); trying again while Redis is away",
                self.group,
                len(ids),
                type(exc).__name__,
                exc,
            )

    async def _add_unqueued(self) -> None:
        """Queue what Redis refused earlier (it is back: the node heartbeats again)."""
        ids = sorted(self.unqueued)
        try:
            await self.add(ids)
        except Exception as exc:
            logger.debug("%s: %d job(s) still not queued: %s", self.group, len(ids), exc)
            return
        self.unqueued.difference_update(ids)
        logger.info("%s: %d job(s) queued now that Redis answers again", self.group, len(ids))

    async def take(self, block_s: float) -> list[str]:
        """Jobs newly held by this node: entries of dead nodes first, then new ones (waits up
        to ``block_s`` for one). Duplicates and jobs another node holds are acknowledged.

        If the stream is gone (Redis restarted: it need keep nothing on disk), the group is
        made again and ``on_reset`` queues again what the database says is pending."""
        try:
            return await self._take(block_s)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc) and "no longer exists" not in str(exc):
                raise
        logger.warning("%s: the job stream is gone from Redis; queuing again", self.group)
        await self._create_group()
        self.held.clear()
        if self.on_reset is not None:
            await self.on_reset()
        return []

    async def _take(self, block_s: float) -> list[str]:
        r = self.cluster.redis
        entries: list[tuple[bytes, dict[bytes, bytes]]] = []
        claimed: Any = await r.xautoclaim(
            self.stream, self.group, self.consumer, self.idle_ms, start_id="0-0", count=20
        )
        entries += claimed[1]
        read: Any = await r.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: ">"},
            count=20,
            block=None if entries else max(1, int(block_s * 1000)),
        )
        for _stream, got in read or []:
            entries += got
        taken = []
        for entry_id, fields in entries:
            eid = entry_id.decode()
            raw = fields.get(b"id") if fields else None
            job_id = raw.decode() if raw else ""
            if not job_id or job_id in self.held:
                await self._ack(eid)
            elif await self.cluster.acquire(self._lock(job_id), self.cluster.dead_after_s):
                self.held[job_id] = eid
                taken.append(job_id)
            else:
                await self._ack(eid)  # another node holds it
        return taken

    async def done(self, job_id: str) -> None:
        """The job is finished (or no longer this node's): acknowledge and let go."""
        eid = self.held.pop(job_id, None)
        if eid is not None:
            await self._ack(eid)
        await self.cluster.release(self._lock(job_id))

    async def _ack(self, entry_id: str) -> None:
        pipe = self.cluster.redis.pipeline(transaction=False)
        pipe.xack(self.stream, self.group, entry_id)
        pipe.xdel(self.stream, entry_id)
        await pipe.execute()

    async def _keep(self) -> None:
        """Refresh what this node holds, so nobody takes it over while it lives."""
        while True:
            await asyncio.sleep(self.cluster.dead_after_s / 3)
            if self.unqueued:
                await self._add_unqueued()
            held = dict(self.held)
            if not held:
                continue
            try:
                await self.cluster.redis.xclaim(
                    self.stream, self.group, self.consumer, 0, list(held.values()), justid=True
                )
                for job_id in held:
                    if not await self.cluster.renew(self._lock(job_id), self.cluster.dead_after_s):
                        logger.warning("%s: lost the lease of job %s", self.group, job_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s: refreshing held jobs failed", self.group)
