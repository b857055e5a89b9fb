"""The per-subscription queues of the delivery (:class:`Senders`): each sent strictly in
order by a task of its own, to a WebHook target or a WebSocket connection, with retries,
blacklisting, batched deletion of what was delivered and, in a cluster, a lease per WebHook
queue. The whole picture is in :mod:`callscope.events.delivery`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

import orjson
from redis.exceptions import RedisError

from callscope.cluster.node import Cluster
from callscope.events.sending import Stopped, StopSignal, WebhookSender, backoff_s
from callscope.identity.model import aware as _aware
from callscope.metrics import Histogram
from callscope.store.events import EventRepository
from callscope.store.models import Delivery, Subscription
from callscope.store.repo import utcnow
from callscope.store.subscriptions import SubscriptionRepository

if TYPE_CHECKING:
    from callscope.events.delivery import DispatcherOptions

__all__ = ["KICK", "STOP", "Senders", "WsTransport"]

logger = logging.getLogger("callscope.events")

#: cluster message: subscriptions that got deliveries (whoever sends them, send them now)
KICK = "kick"
#: cluster message: subscriptions deleted, expired or blacklisted (send them nothing more)
STOP = "stop"
#: stopped subscriptions remembered, newest kept (the database says the rest)
MAX_STOPPED = 10_000


class WsTransport(Protocol):
    """A WebSocket gateway connection, as the sender of its subscription sees it."""

    async def deliver(self, batch: Sequence[Delivery]) -> int:
        """Take the first of ``batch`` (at least one; how many is the connection's choice)
        off the queue and send them; returns how many.

        Raises:
            ConnectionError: the connection is gone; nothing more was taken.
        """
        ...


class Senders:
    """The per-subscription queues: one task per subscription with deliveries waiting sends
    them in order, one at a time (a WebHook target's, or a WebSocket connection's)."""

    def __init__(
        self,
        repo: EventRepository,
        subscriptions: SubscriptionRepository,
        options: DispatcherOptions,
        *,
        webhook: WebhookSender,
        delay: Histogram,
        forget_filters: Callable[[str], None],
    ) -> None:
        self.repo = repo
        self.subscriptions = subscriptions
        self.options = options
        self.webhook = webhook
        #: from an event's commit to its delivery
        self.delay = delay
        #: drops the parsed filters of a changed subscription (the router's)
        self._forget_filters = forget_filters
        self._senders: dict[str, asyncio.Task[None]] = {}
        #: a sender re-reads its queue before it exits when this is set for it
        self._kicked: set[str] = set()
        #: subscriptions whose stored row changed: their sender reloads it
        self._stale: set[str] = set()
        #: subscriptions stopped for good (deleted, expired, blacklisted), newest last
        self._stopped: dict[str, None] = {}
        #: the stop signal of each running sender
        self._stops: dict[str, StopSignal] = {}
        self._acks: list[int] = []
        #: the last delivery sent per subscription: its deletion may still be buffered, so
        #: the next read starts after it (this process only; a restart resends, same uuid)
        self._sent: dict[str, int] = {}
        self._ack_task: asyncio.Task[None] | None = None
        #: one deletion at a time: a flush waits for one under way, so when it returns
        #: everything acknowledged before it is deleted (a lease is freed only then)
        self._ack_lock = asyncio.Lock()
        self._ws: dict[str, WsTransport] = {}
        #: set while the dispatcher stops: no sender starts
        self.stopping = False
        #: in a cluster: webhook queues are sent by one node at a time, the holder of the
        #: subscription's lease (WebSocket ones by the node holding the connection)
        self.cluster: Cluster | None = None
        self._leases: set[str] = set()
        #: cut off from the cluster: no WebHook queue is sent here (nor its lease renewed)
        self.fenced = False

    def running(self) -> int:
        """How many subscriptions are being sent to now."""
        return len(self._senders)

    def tasks(self) -> list[asyncio.Task[None]]:
        """The running senders."""
        return list(self._senders.values())

    def join(self, cluster: Cluster) -> None:
        """Send as one node of a cluster: queues kicked or stopped on another node are
        kicked or stopped here too."""
        self.cluster = cluster
        cluster.on(KICK, self._remote_kick)
        cluster.on(STOP, self._remote_stop)

    def _remote_kick(self, _sender: str, payload: bytes) -> None:
        for sub_id in orjson.loads(payload):
            if isinstance(sub_id, str):
                self.kick(sub_id)

    def _remote_stop(self, _sender: str, payload: bytes) -> None:
        for sub_id in orjson.loads(payload):
            if isinstance(sub_id, str):
                self.halt(sub_id)

    def lease_key(self, sub_id: str) -> str:
        assert self.cluster is not None
        return self.cluster.key("sender", sub_id)

    async def close(self) -> None:
        """After the senders were cancelled: delete what was delivered, free the leases."""
        self._senders.clear()
        if self._ack_task is not None:
            self._ack_task.cancel()
        await self.flush_acks()
        if self.cluster is not None:
            for sub_id in list(self._leases):
                await self.cluster.release(self.lease_key(sub_id))
            self._leases.clear()

    def fence(self) -> None:
        """This node was cut off from its cluster: its sender leases will lapse in Redis and
        another node will send those queues, so stop sending them here now (the last
        notification sent may come twice: at-least-once, same ``uuid``)."""
        self.fenced = True
        held, self._leases = self._leases, set()  # not released: Redis is out of reach
        for sub_id in held:
            task = self._senders.get(sub_id)
            if task is not None:
                task.cancel()

    def attach(self, subscription_id: str, send: WsTransport) -> None:
        self._ws[subscription_id] = send
        self.kick(subscription_id)

    def detach(self, subscription_id: str, send: WsTransport | None = None) -> None:
        if send is None or self._ws.get(subscription_id) is send:
            self._ws.pop(subscription_id, None)

    def forget(self, subscription_id: str) -> None:
        """The subscription was changed (filters, expiry): drop what is cached of it."""
        self._forget_filters(subscription_id)
        self._stale.add(subscription_id)
        self.kick(subscription_id)

    def halt(self, subscription_id: str) -> None:
        """Mark the subscription stopped and signal its sender (which then drops its queue)."""
        self._stopped[subscription_id] = None
        while len(self._stopped) > MAX_STOPPED:
            del self._stopped[next(iter(self._stopped))]
        stop = self._stops.get(subscription_id)
        if stop is not None:
            stop.event.set()
        self.forget(subscription_id)

    async def stop_sending(self, subscription_id: str) -> None:
        """The subscription was deleted, expired or blacklisted: returns once its sender
        here has stopped, so no request for it starts after this; other nodes are told."""
        self.halt(subscription_id)
        task = self._senders.get(subscription_id)
        if task is not None and task is not asyncio.current_task():
            await asyncio.wait((task,))
        if self.cluster is not None:
            self.cluster.broadcast(STOP, orjson.dumps([subscription_id]))

    async def keep_leases(self, cluster: Cluster) -> None:
        """Renew this node's sender leases; queues with nobody sending them (their node
        died: its leases lapsed) are taken over."""
        for sub_id in list(self._leases):
            if not await cluster.renew(self.lease_key(sub_id), cluster.dead_after_s):
                logger.warning("subscription %s: sender lease lost; stopping here", sub_id)
                self._leases.discard(sub_id)
                task = self._senders.get(sub_id)
                if task is not None:
                    task.cancel()
        for sub_id in await self.repo.with_pending():
            if sub_id not in self._senders:
                self.kick(sub_id)

    def kick(self, subscription_id: str) -> None:
        """Make sure the subscription's queue is being sent."""
        if self.stopping:
            return
        self._kicked.add(subscription_id)
        if subscription_id not in self._senders:
            self._senders[subscription_id] = asyncio.create_task(
                self._sender(subscription_id), name=f"callscope-deliver-{subscription_id}"
            )

    def _live(self, sub: Subscription | None) -> bool:
        return (
            sub is not None
            and sub.id not in self._stopped
            and sub.status == "Active"
            and _aware(sub.expires_at) > utcnow()
        )

    async def _current(self, sub: Subscription, stop: StopSignal) -> Subscription:
        """The subscription as it is now, checked before every attempt.

        Raises:
            Stopped: it was deleted, has expired or was blacklisted.
        """
        stop.check()
        if (
            sub.id in self._stale
            or self.cluster is not None  # a DELETE on another node: do not wait for its message
            or _aware(sub.expires_at) <= utcnow()  # unless it was renewed meanwhile
        ):
            self._stale.discard(sub.id)
            fresh = await self.subscriptions.get(sub.id)
            if fresh is None or not self._live(fresh):
                raise Stopped
            sub = fresh
        if not self._live(sub):
            raise Stopped
        stop.check()
        return sub

    async def _sender(self, sub_id: str) -> None:
        stop = self._stops.setdefault(sub_id, StopSignal())
        try:
            await self._send_queue(sub_id, stop)
        except asyncio.CancelledError:
            raise
        except RedisError as exc:  # the sender lease: the lease keeper kicks it again
            logger.warning(
                "subscription %s: delivery paused, Redis did not answer (%s: %s); it resumes "
                "when Redis answers",
                sub_id,
                type(exc).__name__,
                exc,
            )
        except Exception:
            logger.exception("subscription %s: delivery failed unexpectedly", sub_id)
        finally:
            await self._sender_ended(sub_id, stop)

    async def _send_queue(self, sub_id: str, stop: StopSignal) -> None:
        """Send the queue until it is empty (and not kicked meanwhile), the subscription is
        gone or stopped, or this node must not send it."""
        sub: Subscription | None = None
        while True:
            self._kicked.discard(sub_id)
            if sub is None or sub_id in self._stale:
                self._stale.discard(sub_id)
                sub = await self.subscriptions.get(sub_id)
            if not self._live(sub) or stop.event.is_set():
                await self._drop(sub_id)
                return
            assert sub is not None
            if not await self._may_send(sub):
                return
            batch = await self.repo.pending(sub_id, after=self._sent.get(sub_id, 0))
            if not batch:
                if sub_id in self._kicked:
                    continue
                return
            try:
                ok = await self._send_batch(sub, batch, stop)
            except Stopped:
                await self._drop(sub_id)
                return
            if not ok:
                return

    async def _may_send(self, sub: Subscription) -> bool:
        """Whether this node sends the queue now: a WebSocket one while its connection is
        here; in a cluster, a WebHook one while this node holds its lease (taken if free)."""
        if sub.transport == "WebSocket":
            return sub.id in self._ws  # else it waits for its connection to come back
        if self.cluster is None or sub.id in self._leases:
            return True
        if self.fenced:
            return False  # another node sends it, or this one once it is back
        if not await self.cluster.acquire(self.lease_key(sub.id), self.cluster.dead_after_s):
            return False  # another node sends this queue
        self._leases.add(sub.id)
        return True

    async def _sender_ended(self, sub_id: str, stop: StopSignal) -> None:
        """A sender's task ends: its lease is freed, and it starts again if kicked meanwhile."""
        if self._senders.get(sub_id) is asyncio.current_task():
            del self._senders[sub_id]
            if self._stops.get(sub_id) is stop:
                del self._stops[sub_id]
        if sub_id in self._leases and self.cluster is not None:
            self._leases.discard(sub_id)
            # the next holder reads the queue from the database: what this node sent
            # must be deleted there first, or it would be sent twice
            await self.flush_acks()
            await self.cluster.release(self.lease_key(sub_id))
        if sub_id in self._kicked and not self.stopping:
            self.kick(sub_id)

    async def _drop(self, sub_id: str) -> None:
        """Forget the queue of a subscription that is gone, expired or blacklisted."""
        await self.flush_acks()
        await self.repo.drop(sub_id)
        self._sent.pop(sub_id, None)

    def _ack(self, delivery_id: int) -> None:
        """Delete a delivered notification soon, in one transaction with its neighbours."""
        self._acks.append(delivery_id)
        if self._ack_task is None:
            self._ack_task = asyncio.create_task(self._flush_acks_soon())

    async def _flush_acks_soon(self) -> None:
        await asyncio.sleep(0.02)
        await asyncio.shield(self.flush_acks())  # a stop must not cut a deletion short

    async def flush_acks(self) -> None:
        """Delete what was delivered, after any deletion already under way."""
        async with self._ack_lock:
            ids, self._acks, self._ack_task = self._acks, [], None
            if ids:
                try:
                    await self.repo.delivered(ids)
                except Exception:
                    # they stay queued and go out again after a restart (at-least-once)
                    logger.exception("could not delete %d delivered notification(s)", len(ids))

    async def _send_batch(self, sub: Subscription, batch: list[Delivery], stop: StopSignal) -> bool:
        """Send in order; False when the sender must stop (connection gone).

        Raises:
            Stopped: the subscription was stopped (or blacklisted here) meanwhile.
        """
        if sub.transport == "WebSocket":
            return await self._send_ws(sub, batch, stop)
        for d in batch:
            while True:
                if d.next_attempt_at is not None:
                    wait = (_aware(d.next_attempt_at) - utcnow()).total_seconds()
                    # wake at the expiry too: an expired subscription gets no retry
                    until_expiry = (_aware(sub.expires_at) - utcnow()).total_seconds()
                    await stop.sleep(min(wait, max(until_expiry, 0.0)))
                    if until_expiry < wait:
                        sub = await self._current(sub, stop)
                        continue
                sub = await self._current(sub, stop)
                error = await stop.run(self.webhook.send(sub, d.envelope))
                if error is None:
                    self._ack(d.id)
                    self._sent[sub.id] = d.id
                    committed = d.envelope.get("committedAt")
                    if isinstance(committed, float):
                        self.delay.observe(max(0.0, time.time() - committed))
                    break
                d.attempts += 1
                if d.attempts >= self.options.max_failures:
                    logger.warning(
                        "subscription %s blacklisted after %d failed deliveries: %s",
                        sub.id,
                        d.attempts,
                        error,
                    )
                    await self.repo.blacklist(
                        sub.id,
                        f"{d.attempts} deliveries in a row failed: the target did not answer "
                        "them with HTTP 2xx",
                        utcnow(),
                    )
                    self.halt(sub.id)
                    raise Stopped
                opts = self.options
                delay = backoff_s(d.attempts, opts.retry_initial_s, opts.retry_max_s)
                d.next_attempt_at = utcnow() + timedelta(seconds=delay)
                await self.repo.failed(d.id, d.attempts, error, d.next_attempt_at)
                logger.info(
                    "subscription %s: delivery failed (%s); attempt %d in %.1f s",
                    sub.id,
                    error,
                    d.attempts + 1,
                    delay,
                )
        return True

    async def _send_ws(self, sub: Subscription, batch: list[Delivery], stop: StopSignal) -> bool:
        """Hand the batch to the subscription's connection, in order; False when it is gone
        (the queue waits for it to come back)."""
        while batch:
            sub = await self._current(sub, stop)
            transport = self._ws.get(sub.id)
            if transport is None:
                return False
            try:
                n = await stop.run(transport.deliver(batch))
            except ConnectionError:
                return False
            for d in batch[:n]:
                committed = d.envelope.get("committedAt")
                if isinstance(committed, float):
                    self.delay.observe(max(0.0, time.time() - committed))
            self._sent[sub.id] = batch[n - 1].id
            batch = batch[n:]
        return True
