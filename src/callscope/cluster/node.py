"""A node of a callscope cluster: identity, heartbeats, dead-node take-over, messages, leases.

Several ``callscope serve`` processes share one PostgreSQL database and one Redis (every key
and channel under ``redis_prefix``):

* **Identity and heartbeats.** Each node is listed in the hash ``<p>:nodes`` (id → its URL,
  pid, start time) and keeps ``<p>:alive:<id>`` alive, refreshed every ``node_heartbeat_s``
  and expiring after ``node_dead_after_s``.
* **Dead nodes.** Every heartbeat each node looks for listed nodes whose key has lapsed.
  The first to take the lease ``<p>:reap:<id>`` runs the dead-node handlers (the app marks
  that node's live calls interrupted and keeps their recordings, sets its web phones
  Offline, and re-queues what it held), then removes it from the list. A handler that fails
  leaves the node listed: the next heartbeat tries again. A restarting node takes the same
  lease to recover its own calls, so the two never run together. A node whose heartbeat
  could not reach Redis judges no other node for ``node_dead_after_s`` once it gets through
  again: in an outage of Redis every heartbeat lapses, and the others need a beat to return.
* **Fencing.** A node whose heartbeat has not got through for ``FENCE_FRACTION`` of
  ``node_dead_after_s`` (measured from when its last good beat was sent, so before its
  key can lapse in Redis) fences itself: the fence handlers stop what only a live member may
  hold (the app ends this node's calls as a crash would, closes its web phones and stops
  sending WebHook queues) before any other node can take it for dead and do the same. It
  stays fenced until a beat gets through again. A beat that hangs (Redis unreachable, not
  refusing) is given up after ``fence_after_s`` and tried again on a new connection.
* **Messages.** One pub/sub connection per node reads ``<p>:all`` (broadcast) and
  ``<p>:node:<id>`` (addressed to this node). A message is ``kind\\nsender\\npayload``;
  handlers are registered per kind and run on the event loop, never blocking. Sending is
  non-blocking too: messages wait in one ordered queue that a task pipelines to Redis.
  Consecutive messages to one channel go out as one ``pack`` message (each inner message
  ``kind\npayload`` after its 4-byte length): a node forwarding the listen audio of many
  calls publishes one message per 20 ms tick, not one per call.
* **Leases.** ``SET NX PX`` with a token unique to this process; renew and release are
  compare-and-set scripts, so a node never renews or frees a lease it lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from callscope.cluster.packing import PACK, PACK_BYTES, pack, unpack
from callscope.config import Settings
from callscope.errors import ConfigError
from callscope.logsafe import redacted_url
from callscope.metrics import Registry

__all__ = ["Cluster", "pack", "redacted_url", "unpack"]

logger = logging.getLogger("callscope.cluster")

Handler = Callable[[str, bytes], None]  # (sender node, payload)
DeadHandler = Callable[[str], Awaitable[None]]
FenceHandler = Callable[[str], Awaitable[None]]  # (why)
UnfenceHandler = Callable[[], Awaitable[None]]

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
#: messages waiting to be published before the oldest are dropped (≈ 20 s of 100 calls)
OUTBOX_LIMIT = 100_000
#: a node whose heartbeat failed for this part of node_dead_after_s fences itself: the rest
#: is its margin to end its calls before another node may take it for dead
FENCE_FRACTION = 0.5


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class Cluster:
    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.node_id = settings.effective_node_id
        self.url = settings.effective_advertise_url
        self.prefix = settings.redis_prefix
        self.heartbeat_s = settings.node_heartbeat_s
        self.dead_after_s = settings.node_dead_after_s
        self.fence_after_s = settings.node_dead_after_s * FENCE_FRACTION
        self._redis_url = settings.redis_url
        self.redis: aioredis.Redis = aioredis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=5.0, health_check_interval=30
        )
        #: this process's lease token: a restarted node with the same id holds none of the
        #: old process's leases
        self.token = f"{self.node_id}:{secrets.token_hex(8)}"
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)
        self._handlers: dict[str, Handler] = {}
        self.on_dead: list[DeadHandler] = []
        #: run (in order) when this node fences itself, and when it is back
        self.on_fence: list[FenceHandler] = []
        self.on_unfence: list[UnfenceHandler] = []
        #: cut off from Redis for fence_after_s: this node holds nothing a member holds
        self.fenced = False
        self._fence_lock = asyncio.Lock()
        #: when the last heartbeat that got through was sent (monotonic)
        self._beat_sent = time.monotonic()
        self._out: deque[tuple[str, bytes, bytes]] = deque()  # (channel, kind, payload)
        self._out_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub: Any = None
        self.nodes: dict[str, dict[str, Any]] = {}
        self.alive: set[str] = {self.node_id}
        self.started = False
        self.started_at = time.time()
        self._closing = False
        #: after this node lost Redis, it judges no other node before this (monotonic) time:
        #: their heartbeats lapsed in the same outage and need a beat to come back
        self._judge_after = 0.0
        self._unreachable = False
        registry.gauge("callscope_cluster_nodes", "Cluster nodes alive.", lambda: len(self.alive))
        registry.gauge(
            "callscope_cluster_fenced",
            "1 while this node is cut off from Redis and has fenced itself.",
            lambda: float(self.fenced),
        )
        self.fenced_total = registry.counter(
            "callscope_cluster_fenced_total", "Times this node fenced itself."
        )
        self.reaped_total = registry.counter(
            "callscope_cluster_nodes_reaped_total", "Dead nodes whose work this node took over."
        )
        self.messages_total = registry.counter(
            "callscope_cluster_messages_total", "Cluster messages, by direction."
        )
        self.dropped_total = registry.counter(
            "callscope_cluster_messages_dropped_total",
            "Messages dropped because Redis could not take them fast enough.",
        )

    def key(self, *parts: str | int) -> str:
        return ":".join((self.prefix, *map(str, parts)))

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Reach Redis, and wait (at most ``node_dead_after_s``) for a previous process with
        this node id to be declared gone: two live nodes must not share an id."""
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise ConfigError(
                f"redis_url {redacted_url(self._redis_url)}: cannot reach Redis ({exc})"
            ) from exc
        alive_key = self.key("alive", self.node_id)
        deadline = time.monotonic() + self.dead_after_s + self.heartbeat_s
        while await self.redis.exists(alive_key):
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"node_id {self.node_id!r} is in use by a running node: give every node "
                    "its own node_id"
                )
            logger.warning(
                "node %s: waiting for the previous process's heartbeat to lapse", self.node_id
            )
            await asyncio.sleep(self.heartbeat_s)

    async def start(self) -> None:
        """Join: heartbeat, read messages, watch the other nodes."""
        await self._beat()
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self.key("all"), self.key("node", self.node_id))
        await self.check_nodes()
        self._tasks = [
            asyncio.create_task(self._read_loop(), name="callscope-cluster-read"),
            asyncio.create_task(self._send_loop(), name="callscope-cluster-send"),
            asyncio.create_task(self._heartbeat_loop(), name="callscope-cluster-heartbeat"),
            asyncio.create_task(self._fence_loop(), name="callscope-cluster-fence"),
        ]
        self.started = True
        logger.info("node %s joined the cluster at %s (%s)", self.node_id, self.url, self.prefix)

    async def stop(self) -> None:
        """Leave cleanly: what this node held it has already closed, so nobody reaps it."""
        await self.flush(2.0)
        self._closing = True
        for task in self._tasks:
            task.cancel()
        # Bounded: a Redis client call may swallow one cancellation; the loops also check
        # _closing, and a task still running after this is left to the loop's shutdown.
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=3.0)
        self._tasks = []
        with contextlib.suppress(RedisError, OSError):
            if self.started:
                await self.redis.hdel(self.key("nodes"), self.node_id)
                await self.redis.delete(self.key("alive", self.node_id))
            if self._pubsub is not None:
                await self._pubsub.aclose()
        self.started = False
        await self.redis.aclose()

    # -- heartbeats and dead nodes ---------------------------------------------------------

    def _info(self) -> dict[str, Any]:
        """This node as the cluster lists it."""
        return {
            "url": self.url,
            "pid": os.getpid(),
            "startedAt": self.started_at,
            "token": self.token,
        }

    async def _beat(self) -> None:
        # one transaction: no node ever sees this one listed without its heartbeat
        sent = time.monotonic()  # the key's time to live starts no earlier than this
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.key("alive", self.node_id), self.token, px=int(self.dead_after_s * 1000))
        pipe.hset(self.key("nodes"), self.node_id, orjson.dumps(self._info()))
        await pipe.execute()
        self._beat_sent = max(self._beat_sent, sent)

    async def _heartbeat_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.heartbeat_s)
            try:
                # the listing too: a restarted Redis has none. Bounded: an unreachable
                # Redis may hang a request rather than refuse it
                await asyncio.wait_for(self._beat(), self.fence_after_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._unreachable:
                    logger.error(
                        "cluster heartbeat failed (%s); retrying", str(exc) or type(exc).__name__
                    )
                self._unreachable = True
                continue
            if self.fenced:
                if time.monotonic() - self._beat_sent > self.heartbeat_s:
                    continue  # sent before Redis came back, answered only now: beat again
                await self._unfence()
            if self._unreachable:
                self._unreachable = False
                self._judge_after = time.monotonic() + self.dead_after_s
                logger.warning(
                    "node %s: Redis is reachable again; judging other nodes in %.0f s",
                    self.node_id,
                    self.dead_after_s,
                )
            try:
                await self.check_nodes()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("cluster: checking the other nodes failed; retrying")

    async def _fence_loop(self) -> None:
        """Fence this node once its heartbeat has failed for ``fence_after_s``."""
        while not self._closing:
            await asyncio.sleep(min(self.heartbeat_s / 4, 0.25))
            silent_s = time.monotonic() - self._beat_sent
            if not self.fenced and silent_s >= self.fence_after_s:
                await self._fence(
                    f"node {self.node_id} was cut off from the cluster (no heartbeat through "
                    f"to Redis for {silent_s:.1f} s)"
                )

    async def _fence(self, why: str) -> None:
        async with self._fence_lock:
            if self.fenced:
                return
            self.fenced = True
            self.fenced_total.inc()
            logger.error(
                "%s: fencing itself before the others take it for dead (in %.1f s): its calls "
                "end, new streams are refused until Redis is back",
                why,
                max(0.0, self.dead_after_s - (time.monotonic() - self._beat_sent)),
            )
            for handler in self.on_fence:
                try:
                    await handler(why)
                except Exception:
                    logger.exception("cluster: a fence handler failed")

    async def _unfence(self) -> None:
        async with self._fence_lock:  # after the fence handlers are done
            if not self.fenced:
                return
            self.fenced = False
            logger.warning("node %s: Redis is reachable again; no longer fenced", self.node_id)
            for handler in self.on_unfence:
                try:
                    await handler()
                except Exception:
                    logger.exception("cluster: an unfence handler failed")

    async def check_nodes(self) -> list[str]:
        """Refresh the list of nodes and take over the dead ones. Returns those reaped."""
        listed = await self.redis.hgetall(self.key("nodes"))
        self.nodes = {_text(k): orjson.loads(v) for k, v in listed.items()}
        self.nodes.setdefault(self.node_id, self._info())
        others = [n for n in self.nodes if n != self.node_id]
        alive: set[str] = {self.node_id}
        if others:
            pipe = self.redis.pipeline(transaction=False)
            for n in others:
                pipe.exists(self.key("alive", n))
            alive.update(n for n, ok in zip(others, await pipe.execute(), strict=True) if ok)
        self.alive = alive
        reaped: list[str] = []
        if time.monotonic() < self._judge_after:
            return reaped  # after an outage of our own: the others get time to beat again
        for node in others:
            if node not in alive and await self.reap(node):
                reaped.append(node)
        return reaped

    async def is_alive(self, node: str) -> bool:
        """Whether ``node`` is alive now: in the last listing, or beating since (a node that
        just started sends messages before the next listing names it)."""
        if node in self.alive:
            return True
        return bool(await self.redis.exists(self.key("alive", node)))

    async def reap(self, node: str) -> bool:
        """Run the dead-node handlers for ``node`` unless another node is doing it."""
        lease = self.key("reap", node)
        if not await self.acquire(lease, 60.0):
            return False
        try:
            if await self.redis.exists(self.key("alive", node)):
                return False  # it came back
            if not await self.redis.hexists(self.key("nodes"), node):
                # another survivor reaped it between our listing and our lease: once only
                return False
            logger.warning("node %s is dead: taking over its calls and queues", node)
            for handler in self.on_dead:
                await handler(node)
            await self.redis.hdel(self.key("nodes"), node)
            self.nodes.pop(node, None)
            self.reaped_total.inc()
            return True
        finally:
            await self.release(lease)

    async def recover_own(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run this node's own start-up recovery under its reap lease (waits for a survivor
        that is reaping this node right now)."""
        lease = self.key("reap", self.node_id)
        deadline = time.monotonic() + 120.0
        while not await self.acquire(lease, 60.0):
            if time.monotonic() > deadline:
                raise ConfigError(f"node {self.node_id}: another node holds its recovery lease")
            await asyncio.sleep(0.5)
        try:
            return await fn()
        finally:
            await self.release(lease)

    def node_url(self, node: str) -> str | None:
        info = self.nodes.get(node)
        return str(info["url"]) if info else None

    # -- leases ----------------------------------------------------------------------------

    async def acquire(self, key: str, ttl_s: float) -> bool:
        return bool(await self.redis.set(key, self.token, nx=True, px=int(ttl_s * 1000)))

    async def renew(self, key: str, ttl_s: float) -> bool:
        return bool(await self._renew(keys=[key], args=[self.token, int(ttl_s * 1000)]))

    async def release(self, key: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._release(keys=[key], args=[self.token])

    # -- messages --------------------------------------------------------------------------

    def on(self, kind: str, handler: Handler) -> None:
        """Call ``handler(sender, payload)`` for every message of ``kind`` from another node
        (broadcast or addressed to this one)."""
        self._handlers[kind] = handler

    def broadcast(self, kind: str, payload: bytes) -> None:
        self._post(self.key("all"), kind, payload)

    def send(self, node: str, kind: str, payload: bytes) -> None:
        self._post(self.key("node", node), kind, payload)

    def _post(self, channel: str, kind: str, payload: bytes) -> None:
        if len(self._out) >= OUTBOX_LIMIT:
            self._out.popleft()
            self.dropped_total.inc()
        self._out.append((channel, kind.encode(), payload))
        self._out_wake.set()

    async def flush(self, timeout_s: float) -> None:
        """Wait (bounded) until what was sent so far is in Redis."""
        deadline = time.monotonic() + timeout_s
        while self._out and self._tasks and time.monotonic() < deadline:  # noqa: ASYNC110 - bounded, shutdown only
            await asyncio.sleep(0.01)

    async def _send_loop(self) -> None:
        while not self._closing:
            await self._out_wake.wait()
            self._out_wake.clear()
            while self._out:
                batch = [self._out.popleft() for _ in range(min(len(self._out), 500))]
                pipe = self.redis.pipeline(transaction=False)
                for channel, data in self._publishes(batch):
                    pipe.publish(channel, data)
                try:
                    await pipe.execute()
                    self.messages_total.inc(len(batch), direction="out")
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("cluster: %d message(s) not published; retrying", len(batch))
                    self._out.extendleft(reversed(batch))
                    await asyncio.sleep(0.5)

    def _publishes(self, batch: list[tuple[str, bytes, bytes]]) -> list[tuple[str, bytes]]:
        """The batch as Redis messages, in order: runs to one channel packed together."""
        sender = self.node_id.encode()
        out: list[tuple[str, bytes]] = []
        i = 0
        while i < len(batch):
            channel = batch[i][0]
            run: list[tuple[bytes, bytes]] = []
            size = 0
            while i < len(batch) and batch[i][0] == channel and size < PACK_BYTES:
                run.append((batch[i][1], batch[i][2]))
                size += len(batch[i][2])
                i += 1
            if len(run) == 1:
                kind, payload = run[0]
            else:
                kind, payload = PACK, pack(run)
            out.append((channel, b"%s\n%s\n%s" % (kind, sender, payload)))
        return out

    async def _read_loop(self) -> None:
        while not self._closing:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("cluster: reading messages failed; reconnecting")
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                kind, sender, payload = bytes(message["data"]).split(b"\n", 2)
                messages = unpack(payload) if kind == PACK else [(kind, payload)]
            except ValueError:
                logger.error("cluster: a malformed message on %s was ignored", message["channel"])
                continue
            node = sender.decode()
            if node == self.node_id:
                continue
            self.messages_total.inc(len(messages), direction="in")
            for kind, payload in messages:
                handler = self._handlers.get(kind.decode())
                if handler is None:
                    continue
                try:
                    handler(node, payload)
                except Exception:
                    logger.exception("cluster: handling a %s message from %s failed", kind, node)
