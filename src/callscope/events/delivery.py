"""Delivery of subscription notifications: outbox → per-subscription queues → targets.

* **Fan-out.** One task moves committed outbox events, oldest first, into one delivery per
  matching subscription filter (``store.events``). It wakes when the row writer commits
  outbox events and polls besides, so events written by a recovery transaction or another
  process go out too.
* **Per-subscription senders.** Each subscription with deliveries waiting has its own task
  that sends them strictly in order, one at a time: a slow or dead target holds back only
  its own queue. Delivered notifications are deleted in batches (every 20 ms); one sent
  just before a crash is sent again after it (at-least-once; its ``uuid`` does not change).
* **WebHook.** ``POST`` with the envelope (spec §9.1), ``Verification-Token`` when the
  subscription set one (never ``Validation-Token``, which receivers treat as a handshake).
  A 2xx answer delivers. A target that reads the request on a new connection and closes it
  without a status line has not said it got it: that is a failure, retried like any other,
  unless ``accept_no_reply`` (``events_webhook_accept_no_reply``) takes it for delivered, as
  RingCentral does for its own sample receiver, which never answers notifications (spec
  §8.2). Connections are kept alive; a kept-alive one the target had closed is retried at
  once on a new one.
  Requests go through ``webhook.WebhookClient``: every new connection is to an address the
  target policy allows (checked after DNS resolution, at each delivery: a name that now
  resolves to a private address is refused), redirects are not followed (a 3xx fails) and
  at most ``MAX_REPLY_BYTES`` of a reply are read. Anything else — refused, timed out,
  another status — is retried after ``retry_initial_s``·2ⁿ⁻¹ (capped at ``retry_max_s``,
  with jitter); after ``max_failures`` failures in a row the subscription is
  ``Blacklisted`` and its queue dropped (60 failures at the defaults: 27-55 minutes). The
  blacklist reason shown to the subscriber does not say what failed (that would map the
  network behind a rebinding name); the server log does.
* **Stopping is immediate.** When a subscription is deleted (REST, the gateway, a revoked
  user), expires or is blacklisted, :meth:`Dispatcher.stop_sending` returns only once its
  sender has stopped: a backoff wait or a request under way is cut short (the request's
  connection is closed), and every attempt — the next one of a batch already loaded too —
  first checks that the subscription is still live. So once ``DELETE`` has answered, not one
  more request reaches the target. In a cluster the other nodes hear it by a cluster
  message, and their senders also re-read the subscription before every attempt.
* **Renewal reminders** (``/restapi/v1.0/subscription/~?threshold=&interval=``, spec
  §8.1). The fan-out task looks every ``reminder_check_s`` for WebHook subscriptions
  whose expiry is within a reminder filter's ``threshold`` and writes one reminder to the
  outbox per ``interval`` (slot *k* once ``threshold − k·interval`` seconds or less are
  left), for that subscription alone; renewing moves the expiry and starts the count
  again. Each slot is written once per node (in a cluster, by the node that takes its
  Redis lease); a restart may write the current slot again (at-least-once, as deliveries).
  WebSocket subscriptions renew themselves while connected and get none.
* **WebSocket.** The gateway (``api/wsgateway.py``) attaches a connection to its
  subscription; the sender hands it the queue, and the connection moves what it sends into
  its session's recovery buffer (``events/wsg.py``): it is delivered once the client
  confirms it, and sent again if the session is recovered before that. While no
  connection is attached the queue waits (within the gateway's recovery time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import aiohttp
import orjson

from callscope.calls.views import iso
from callscope.cluster.node import Cluster
from callscope.errors import WebhookTargetRefused
from callscope.events.filters import EventFilter, FilterError, Unsupported, parse_filter
from callscope.events.payloads import EventKind, envelope, reminder_body, render
from callscope.events.targets import TargetPolicy
from callscope.events.webhook import USER_AGENT, WebhookClient, read_at_most
from callscope.identity.model import aware as _aware
from callscope.metrics import Registry
from callscope.store.events import EventRepository, Monitored
from callscope.store.models import Delivery, OutboxEvent, Subscription
from callscope.store.repo import utcnow
from callscope.store.subscriptions import SubscriptionRepository

__all__ = [
    "MAX_REPLY_BYTES",
    "Dispatcher",
    "DispatcherOptions",
    "Sweep",
    "WsTransport",
    "notification",
]

logger = logging.getLogger("callscope.events")

_T = TypeVar("_T")

#: cluster message: subscriptions that got deliveries (whoever sends them, send them now)
KICK = "kick"
#: cluster message: subscriptions deleted, expired or blacklisted (send them nothing more)
STOP = "stop"
#: stopped subscriptions remembered, newest kept (the database says the rest)
MAX_STOPPED = 10_000

#: most bytes of a WebHook reply read: the reply is not used, and a connection with more
#: left is closed rather than drained
MAX_REPLY_BYTES = 64 * 1024


class WsTransport(Protocol):
    """A WebSocket gateway connection, as the sender of its subscription sees it."""

    async def deliver(self, batch: Sequence[Delivery]) -> int:
        """Take the first of ``batch`` (at least one; how many is the connection's choice)
        off the queue and send them; returns how many.

        Raises:
            ConnectionError: the connection is gone; nothing more was taken.
        """
        ...


#: a periodic clean-up that runs with the expiry of subscriptions (given the time)
Sweep = Callable[[datetime], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class DispatcherOptions:
    retry_initial_s: float = 1.0
    retry_max_s: float = 60.0
    webhook_timeout_s: float = 10.0
    max_failures: int = 60
    #: a WebHook target that reads a notification and closes without answering delivered it
    accept_no_reply: bool = False
    poll_s: float = 1.0
    #: how often subscriptions are checked for a renewal reminder due
    reminder_check_s: float = 1.0
    fanout_batch: int = 500
    webhook_targets: TargetPolicy = field(default_factory=TargetPolicy)


def notification(env: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The envelope as sent: ``timestamp`` is the time of sending (spec §9.1)."""
    return {
        "uuid": env["uuid"],
        "event": env["event"],
        "timestamp": iso(at),
        "subscriptionId": env["subscriptionId"],
        "ownerId": env["ownerId"],
        "body": env["body"],
    }


async def _mark_reused(
    _session: aiohttp.ClientSession, ctx: Any, _params: aiohttp.TraceConnectionReuseconnParams
) -> None:
    if isinstance(ctx.trace_request_ctx, dict):
        ctx.trace_request_ctx["reused"] = True


class _Stopped(Exception):
    """The subscription was stopped (deleted, expired, blacklisted): send nothing more."""


@dataclass(slots=True)
class _Stop:
    """A sender's stop signal; its waits and requests end as soon as it is set."""

    event: asyncio.Event = field(default_factory=asyncio.Event)

    def check(self) -> None:
        if self.event.is_set():
            raise _Stopped

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or raise :class:`_Stopped` as soon as the signal is set."""
        if seconds > 0 and not self.event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), seconds)
        self.check()

    async def run(self, aw: Awaitable[_T]) -> _T:
        """``aw``'s result, unless the signal is set first: then ``aw`` is cancelled (a
        request under way has its connection closed) and :class:`_Stopped` raised."""
        self.check()
        task = asyncio.ensure_future(aw)
        stop = asyncio.ensure_future(self.event.wait())
        try:
            await asyncio.wait((task, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait((task,))
        if task.cancelled():
            raise _Stopped
        return task.result()


def backoff_s(attempts: int, initial_s: float, max_s: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random."""
    delay: float = min(max_s, initial_s * 2 ** min(attempts - 1, 30))
    return delay / 2 + random.uniform(0, delay / 2)


class Dispatcher:
    def __init__(
        self,
        repo: EventRepository,
        subscriptions: SubscriptionRepository,
        registry: Registry,
        options: DispatcherOptions,
    ):
        self.repo = repo
        self.subscriptions = subscriptions
        self.options = options
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._senders: dict[str, asyncio.Task[None]] = {}
        #: a sender re-reads its queue before it exits when this is set for it
        self._kicked: set[str] = set()
        #: subscriptions whose stored row changed: their sender reloads it
        self._stale: set[str] = set()
        #: subscriptions stopped for good (deleted, expired, blacklisted), newest last
        self._stopped: dict[str, None] = {}
        #: the stop signal of each running sender
        self._stops: dict[str, _Stop] = {}
        self._acks: list[int] = []
        #: the last delivery sent per subscription: its deletion may still be buffered, so
        #: the next read starts after it (this process only; a restart resends, same uuid)
        self._sent: dict[str, int] = {}
        self._ack_task: asyncio.Task[None] | None = None
        self._ws: dict[str, WsTransport] = {}
        #: run with every expiry pass (the gateway's expired sessions)
        self.sweeps: list[Sweep] = []
        self._filters: dict[tuple[str, str], EventFilter | None] = {}
        #: (subscription, its expiry, reminder filter) → the last reminder slot written
        self._reminded: dict[tuple[str, float, str], int] = {}
        self._http: WebhookClient | None = None
        self._stopping = False
        #: in a cluster: webhook queues are sent by one node at a time, the holder of the
        #: subscription's lease (WebSocket ones by the node holding the connection)
        self.cluster: Cluster | None = None
        self._leases: set[str] = set()
        #: cut off from the cluster: no WebHook queue is sent here (nor its lease renewed)
        self.fenced = False
        self.events_total = registry.counter(
            "callscope_events_total", "Events taken from the outbox and fanned out."
        )
        self.deliveries_total = registry.counter(
            "callscope_deliveries_total", "Notification attempts, by transport and result."
        )
        self.delay = registry.histogram(
            "callscope_delivery_delay_seconds",
            "From an event's commit to its delivery.",
            (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600),
        )
        registry.gauge("callscope_delivery_senders", "Subscriptions being delivered to.", self._n)

    def _n(self) -> float:
        return float(len(self._senders))

    def join(self, cluster: Cluster) -> None:
        """Deliver as one node of a cluster."""
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
                self._halt(sub_id)

    def _lease_key(self, sub_id: str) -> str:
        assert self.cluster is not None
        return self.cluster.key("sender", sub_id)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        trace = aiohttp.TraceConfig()
        trace.on_connection_reuseconn.append(_mark_reused)
        self._http = WebhookClient(
            self.options.webhook_targets, limit=0, keepalive_timeout_s=4.0, trace_configs=[trace]
        )
        self._task = asyncio.create_task(self._fan_out_loop(), name="callscope-events-fanout")
        for sub_id in await self.repo.with_pending():
            self.kick(sub_id)

    async def stop(self) -> None:
        """Fan out what is committed, then stop sending (queues resume on the next start)."""
        self._stopping = True
        with contextlib.suppress(Exception):
            await self._fan_out_all()
        tasks = [t for t in (self._task, *self._senders.values()) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._senders.clear()
        if self._ack_task is not None:
            self._ack_task.cancel()
        await self._flush_acks()
        if self.cluster is not None:
            for sub_id in list(self._leases):
                await self.cluster.release(self._lease_key(sub_id))
            self._leases.clear()
        if self._http is not None:
            await self._http.close()

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

    def unfence(self) -> None:
        """Back in the cluster: queues with nobody sending them are taken up again."""
        self.fenced = False
        self._wake.set()

    def wake(self) -> None:
        """Fan out now (events were written outside the row writer)."""
        self._wake.set()

    def committed(self, rows: Sequence[Any]) -> None:
        """The row writer committed a batch: wake if it carried outbox events (most
        batches are audio counters and need no fan-out)."""
        if any(isinstance(row, OutboxEvent) for row in rows):
            self._wake.set()

    # -- WebSocket connections -----------------------------------------------------------

    def attach(self, subscription_id: str, send: WsTransport) -> None:
        self._ws[subscription_id] = send
        self.kick(subscription_id)

    def detach(self, subscription_id: str, send: WsTransport | None = None) -> None:
        if send is None or self._ws.get(subscription_id) is send:
            self._ws.pop(subscription_id, None)

    def forget(self, subscription_id: str) -> None:
        """The subscription was changed (filters, expiry): drop what is cached of it."""
        for key in [k for k in self._filters if k[0] == subscription_id]:
            del self._filters[key]
        self._stale.add(subscription_id)
        self.kick(subscription_id)

    def _halt(self, subscription_id: str) -> None:
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
        self._halt(subscription_id)
        task = self._senders.get(subscription_id)
        if task is not None and task is not asyncio.current_task():
            await asyncio.wait((task,))
        if self.cluster is not None:
            self.cluster.broadcast(STOP, orjson.dumps([subscription_id]))

    # -- fan-out ---------------------------------------------------------------------------

    def _filter(self, sub: Subscription, text: str) -> EventFilter | None:
        """The stored filter parsed; None for a disabled one (``disabledFilters``)."""
        key = (sub.id, text)
        if key not in self._filters:
            try:
                self._filters[key] = parse_filter(
                    text, account_id=sub.account_id, owner_extension_id=sub.extension_id
                )
            except Unsupported:
                self._filters[key] = None
            except FilterError:
                logger.error("subscription %s: stored filter %r does not parse", sub.id, text)
                self._filters[key] = None
        return self._filters[key]

    def watchers(self, subs: Sequence[Subscription]) -> set[int]:
        """The owners of monitored-lines presence filters (``…/presence/line/presence``)."""
        out: set[int] = set()
        for sub in subs:
            for text in sub.event_filters:
                f = self._filter(sub, text)
                if f is not None and f.line and f.extension_id is not None:
                    out.add(f.extension_id)
        return out

    def route(
        self,
        events: Sequence[OutboxEvent],
        subs: Sequence[Subscription],
        monitored: Monitored | None = None,
    ) -> list[Delivery]:
        monitored = monitored or {}
        now = utcnow()
        by_account: dict[str, list[Subscription]] = {}
        for sub in subs:
            by_account.setdefault(sub.account_id, []).append(sub)
        out: list[Delivery] = []
        for ev in events:
            for sub in by_account.get(ev.account_id, ()):
                for text in sub.event_filters:
                    f = self._filter(sub, text)
                    if f is None:
                        continue
                    body = render(
                        f,
                        kind=ev.kind,
                        account_id=ev.account_id,
                        extension_id=ev.extension_id,
                        payload=ev.payload,
                        event_id=ev.id,
                        subscription_id=sub.id,
                        monitored=(
                            monitored.get(f.extension_id, frozenset())
                            if f.line and f.extension_id is not None
                            else frozenset()
                        ),
                    )
                    if body is None:
                        continue
                    env = envelope(
                        f, subscription_id=sub.id, owner_extension_id=sub.extension_id, body=body
                    )
                    env["committedAt"] = _aware(ev.created_at).timestamp()
                    out.append(Delivery(subscription_id=sub.id, envelope=env, created_at=now))
        self.events_total.inc(len(events))
        return out

    async def _fan_out_all(self) -> None:
        while True:
            n, touched = await self.repo.fan_out(
                self.route, utcnow(), self.options.fanout_batch, watchers=self.watchers
            )
            for sub_id in touched:
                self.kick(sub_id)
            if touched and self.cluster is not None:
                self.cluster.broadcast(KICK, orjson.dumps(sorted(touched)))
            if n < self.options.fanout_batch:
                return

    async def _fan_out_loop(self) -> None:
        last_expire = last_keep = last_remind = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.options.poll_s)
            self._wake.clear()
            try:
                if time.monotonic() - last_remind >= self.options.reminder_check_s:
                    last_remind = time.monotonic()
                    await self.remind(utcnow())
                await self._fan_out_all()
                cluster = self.cluster
                if (
                    cluster is not None
                    and not self.fenced
                    and time.monotonic() - last_keep > cluster.dead_after_s / 3
                ):
                    last_keep = time.monotonic()
                    await self._keep_leases(cluster)
                if time.monotonic() - last_expire > 10:
                    last_expire = time.monotonic()
                    for sub_id in await self.repo.expire(utcnow()):
                        await self.stop_sending(sub_id)
                    for sweep in self.sweeps:
                        await sweep(utcnow())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("fan-out failed; retrying")
                await asyncio.sleep(self.options.poll_s)

    async def remind(self, now: datetime) -> int:
        """Write the renewal reminders due (spec §8.1); returns how many."""
        rows: list[OutboxEvent] = []
        written: dict[tuple[str, float, str], int] = {}
        live: set[tuple[str, float, str]] = set()
        for sub in await self.repo.with_filter(now, "/restapi/v1.0/subscription/"):
            expires_at = _aware(sub.expires_at)
            left = (expires_at - now).total_seconds()
            for text in sub.event_filters:
                f = self._filter(sub, text)
                if f is None or f.kind != "reminder":
                    continue
                key = (sub.id, expires_at.timestamp(), text)
                live.add(key)
                if left > f.threshold_s:
                    continue
                slot = int((f.threshold_s - left) // f.interval_s)
                if self._reminded.get(key, -1) >= slot:
                    continue
                written[key] = slot
                if self.cluster is not None and not await self.cluster.acquire(
                    self.cluster.key("remind", sub.id, int(key[1]), slot, text),
                    max(left, 0.0) + 60,
                ):
                    continue  # another node wrote this one
                rows.append(
                    OutboxEvent(
                        account_id=sub.account_id,
                        kind=EventKind.SUBSCRIPTION,
                        extension_id=sub.extension_id,
                        payload=reminder_body(sub.id, text, expires_at, int(left)),
                        created_at=now,
                    )
                )
        # renewed, expired or deleted: their count starts again or is over
        for key in [k for k in self._reminded if k not in live]:
            del self._reminded[key]
        await self.repo.add(rows)
        self._reminded.update(written)  # only once written: a failed write is tried again
        return len(rows)

    async def _keep_leases(self, cluster: Cluster) -> None:
        """Renew this node's sender leases; queues with nobody sending them (their node
        died: its leases lapsed) are taken over."""
        for sub_id in list(self._leases):
            if not await cluster.renew(self._lease_key(sub_id), cluster.dead_after_s):
                logger.warning("subscription %s: sender lease lost; stopping here", sub_id)
                self._leases.discard(sub_id)
                task = self._senders.get(sub_id)
                if task is not None:
                    task.cancel()
        for sub_id in await self.repo.with_pending():
            if sub_id not in self._senders:
                self.kick(sub_id)

    # -- sending ---------------------------------------------------------------------------

    def kick(self, subscription_id: str) -> None:
        """Make sure the subscription's queue is being sent."""
        if self._stopping:
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

    async def _current(self, sub: Subscription, stop: _Stop) -> Subscription:
        """The subscription as it is now, checked before every attempt.

        Raises:
            _Stopped: it was deleted, has expired or was blacklisted.
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
                raise _Stopped
            sub = fresh
        if not self._live(sub):
            raise _Stopped
        stop.check()
        return sub

    async def _sender(self, sub_id: str) -> None:
        sub: Subscription | None = None
        stop = self._stops.setdefault(sub_id, _Stop())
        try:
            while True:
                self._kicked.discard(sub_id)
                if sub is None or sub_id in self._stale:
                    self._stale.discard(sub_id)
                    sub = await self.subscriptions.get(sub_id)
                if not self._live(sub) or stop.event.is_set():
                    await self._drop(sub_id)
                    return
                assert sub is not None
                if sub.transport == "WebSocket" and sub_id not in self._ws:
                    return  # waits for its connection to come back
                if (
                    self.cluster is not None
                    and sub.transport != "WebSocket"
                    and sub_id not in self._leases
                ):
                    if self.fenced:
                        return  # another node sends it, or this one once it is back
                    if not await self.cluster.acquire(
                        self._lease_key(sub_id), self.cluster.dead_after_s
                    ):
                        return  # another node sends this queue
                    self._leases.add(sub_id)
                batch = await self.repo.pending(sub_id, after=self._sent.get(sub_id, 0))
                if not batch:
                    if sub_id in self._kicked:
                        continue
                    return
                try:
                    ok = await self._send_batch(sub, batch, stop)
                except _Stopped:
                    await self._drop(sub_id)
                    return
                if not ok:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("subscription %s: delivery failed unexpectedly", sub_id)
        finally:
            if self._senders.get(sub_id) is asyncio.current_task():
                del self._senders[sub_id]
                if self._stops.get(sub_id) is stop:
                    del self._stops[sub_id]
            if sub_id in self._leases and self.cluster is not None:
                self._leases.discard(sub_id)
                # the next holder reads the queue from the database: what this node sent
                # must be deleted there first, or it would be sent twice
                await self._flush_acks()
                await self.cluster.release(self._lease_key(sub_id))
            if sub_id in self._kicked and not self._stopping:
                self.kick(sub_id)

    async def _drop(self, sub_id: str) -> None:
        """Forget the queue of a subscription that is gone, expired or blacklisted."""
        await self._flush_acks()
        await self.repo.drop(sub_id)
        self._sent.pop(sub_id, None)

    def _ack(self, delivery_id: int) -> None:
        """Delete a delivered notification soon, in one transaction with its neighbours."""
        self._acks.append(delivery_id)
        if self._ack_task is None:
            self._ack_task = asyncio.create_task(self._flush_acks_soon())

    async def _flush_acks_soon(self) -> None:
        await asyncio.sleep(0.02)
        await self._flush_acks()

    async def _flush_acks(self) -> None:
        ids, self._acks, self._ack_task = self._acks, [], None
        if ids:
            try:
                await self.repo.delivered(ids)
            except Exception:
                # they stay queued and go out again after a restart (at-least-once)
                logger.exception("could not delete %d delivered notification(s)", len(ids))

    async def _send_batch(self, sub: Subscription, batch: list[Delivery], stop: _Stop) -> bool:
        """Send in order; False when the sender must stop (connection gone).

        Raises:
            _Stopped: the subscription was stopped (or blacklisted here) meanwhile.
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
                error = await stop.run(self._send(sub, d.envelope))
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
                    self._halt(sub.id)
                    raise _Stopped
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

    async def _send_ws(self, sub: Subscription, batch: list[Delivery], stop: _Stop) -> bool:
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

    async def _send(self, sub: Subscription, env: dict[str, Any]) -> str | None:
        """None when delivered, else why not."""
        return await self._post(sub, notification(env, utcnow()))

    async def _post(self, sub: Subscription, body: dict[str, Any]) -> str | None:
        assert self._http is not None
        assert sub.address is not None
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if sub.verification_token:
            headers["Verification-Token"] = sub.verification_token
        result = "failed"
        data = orjson.dumps(body)
        try:
            for _ in range(2):
                ctx: dict[str, bool] = {"reused": False}
                try:
                    async with self._http.post(
                        sub.address,
                        data=data,
                        headers=headers,
                        timeout_s=self.options.webhook_timeout_s,
                        trace_request_ctx=ctx,
                    ) as r:
                        await read_at_most(r, MAX_REPLY_BYTES)
                        if 200 <= r.status < 300:
                            result = "delivered"
                            return None
                        return f"HTTP {r.status}"
                except aiohttp.ServerDisconnectedError:
                    if ctx["reused"]:
                        continue  # a kept-alive connection the target had closed: once more
                    # a new connection, closed without a status line: the vendor's sample
                    # receiver does that for every notification, and so does a receiver that
                    # crashed on it; only the operator can say which to expect
                    if self.options.accept_no_reply:
                        result = "delivered"
                        return None
                    return "the target closed the connection without an answer"
            return "the target closed the connection twice"
        except asyncio.CancelledError:
            result = "stopped"  # the subscription was stopped while it was under way
            raise
        except WebhookTargetRefused as exc:
            return f"refused: {exc.detail}"
        except TimeoutError:
            return f"no answer within {self.options.webhook_timeout_s:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            return f"unreachable ({type(exc).__name__})"
        finally:
            self.deliveries_total.inc(transport="WebHook", result=result)
