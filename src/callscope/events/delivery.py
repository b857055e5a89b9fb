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

The parts: :mod:`~callscope.events.routing` (filters, routing, reminders),
:mod:`~callscope.events.senders` (the queues), :mod:`~callscope.events.sending` (the WebHook
``POST``, backoff, stop signal); :class:`Dispatcher` runs the fan-out and holds them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from callscope.cluster.node import Cluster
from callscope.events.routing import Router
from callscope.events.senders import KICK, Senders, WsTransport
from callscope.events.sending import WebhookSender
from callscope.events.targets import TargetPolicy
from callscope.metrics import Registry
from callscope.store.events import EventRepository
from callscope.store.models import OutboxEvent
from callscope.store.repo import utcnow
from callscope.store.subscriptions import SubscriptionRepository

__all__ = ["Dispatcher", "DispatcherOptions", "Sweep"]

logger = logging.getLogger("callscope.events")

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


class Dispatcher:
    """The delivery of subscription notifications: the fan-out task (outbox → queues), the
    per-subscription queues (:attr:`queues`) and, in a cluster, their share of the work."""

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
        #: run with every expiry pass (the gateway's expired sessions)
        self.sweeps: list[Sweep] = []
        #: in a cluster: the fan-out tells the other nodes which queues got deliveries
        self.cluster: Cluster | None = None
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
        self.router = Router(repo, self.events_total)
        self.webhook = WebhookSender(
            options.webhook_targets,
            timeout_s=options.webhook_timeout_s,
            accept_no_reply=options.accept_no_reply,
            deliveries_total=self.deliveries_total,
        )
        self.queues = Senders(
            repo,
            subscriptions,
            options,
            webhook=self.webhook,
            delay=self.delay,
            forget_filters=self.router.forget,
        )
        registry.gauge("callscope_delivery_senders", "Subscriptions being delivered to.", self._n)

    def _n(self) -> float:
        return float(self.queues.running())

    def join(self, cluster: Cluster) -> None:
        """Deliver as one node of a cluster."""
        self.cluster = cluster
        self.router.cluster = cluster
        self.queues.join(cluster)

    async def start(self) -> None:
        self.queues.stopping = False
        self.webhook.start()
        self._task = asyncio.create_task(self._fan_out_loop(), name="callscope-events-fanout")
        for sub_id in await self.repo.with_pending():
            self.queues.kick(sub_id)

    async def stop(self) -> None:
        """Fan out what is committed, then stop sending (queues resume on the next start)."""
        self.queues.stopping = True
        with contextlib.suppress(Exception):
            await self._fan_out_all()
        tasks = [t for t in (self._task, *self.queues.tasks()) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await self.queues.close()
        await self.webhook.close()

    def fence(self) -> None:
        """Cut off from the cluster: see :meth:`Senders.fence`."""
        self.queues.fence()

    def unfence(self) -> None:
        """Back in the cluster: queues with nobody sending them are taken up again."""
        self.queues.fenced = False
        self._wake.set()

    def wake(self) -> None:
        """Fan out now (events were written outside the row writer)."""
        self._wake.set()

    def committed(self, rows: Sequence[Any]) -> None:
        """The row writer committed a batch: wake if it carried outbox events (most
        batches are audio counters and need no fan-out)."""
        if any(isinstance(row, OutboxEvent) for row in rows):
            self._wake.set()

    def attach(self, subscription_id: str, send: WsTransport) -> None:
        """A gateway connection takes the subscription's queue."""
        self.queues.attach(subscription_id, send)

    def detach(self, subscription_id: str, send: WsTransport | None = None) -> None:
        """The connection is gone (``send``: only if it is still the attached one)."""
        self.queues.detach(subscription_id, send)

    def forget(self, subscription_id: str) -> None:
        """The subscription was changed (filters, expiry): drop what is cached of it."""
        self.queues.forget(subscription_id)

    def kick(self, subscription_id: str) -> None:
        """Make sure the subscription's queue is being sent."""
        self.queues.kick(subscription_id)

    async def stop_sending(self, subscription_id: str) -> None:
        """The subscription was deleted, expired or blacklisted: see
        :meth:`Senders.stop_sending`."""
        await self.queues.stop_sending(subscription_id)

    async def remind(self, now: datetime) -> int:
        """Write the renewal reminders due (spec §8.1); returns how many."""
        return await self.router.remind(now)

    async def _fan_out_all(self) -> None:
        while True:
            n, touched = await self.repo.fan_out(
                self.router.route,
                utcnow(),
                self.options.fanout_batch,
                watchers=self.router.watchers,
            )
            for sub_id in touched:
                self.queues.kick(sub_id)
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
                    await self.router.remind(utcnow())
                await self._fan_out_all()
                cluster = self.cluster
                if (
                    cluster is not None
                    and not self.queues.fenced
                    and time.monotonic() - last_keep > cluster.dead_after_s / 3
                ):
                    last_keep = time.monotonic()
                    await self.queues.keep_leases(cluster)
                if time.monotonic() - last_expire > 10:
                    last_expire = time.monotonic()
                    for sub_id in await self.repo.expire(utcnow()):
                        await self.queues.stop_sending(sub_id)
                    for sweep in self.sweeps:
                        await sweep(utcnow())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("fan-out failed; retrying")
                await asyncio.sleep(self.options.poll_s)
