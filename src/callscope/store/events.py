"""Outbox and deliveries: the only place that queries the ``outbox`` and ``deliveries`` tables.

Events enter the outbox with the state change that caused them (``store.writer`` batches,
or a recovery transaction). :meth:`EventRepository.fan_out` moves them, oldest first, into
per-subscription deliveries and deletes them, in one transaction: an event is either still
in the outbox or queued for every subscription it matched, never half of each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from callscope.store.batch import insert_in_order
from callscope.store.db import FANOUT_LOCK, advisory_xact_lock
from callscope.store.models import Delivery, GroupMember, OutboxEvent, Subscription

__all__ = ["EventRepository", "Monitored", "Router"]

#: extension → the extensions its call monitoring groups let it monitor
Monitored = Mapping[int, frozenset[int]]
#: (events oldest first, subscriptions that may receive them, what the owners of
#: monitored-lines filters monitor) → deliveries to queue
Router = Callable[[Sequence[OutboxEvent], Sequence[Subscription], Monitored], list[Delivery]]
#: the extensions whose monitored lines some of these subscriptions follow
Watchers = Callable[[Sequence[Subscription]], set[int]]


class EventRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def fan_out(
        self,
        route: Router,
        now: datetime,
        limit: int = 500,
        *,
        watchers: Watchers | None = None,
    ) -> tuple[int, set[str]]:
        """Move up to ``limit`` outbox events into deliveries. ``watchers`` names the
        extensions whose monitored extensions the router needs (read in the same
        transaction, so a group change applies from the next event on).

        Returns:
            (events taken, ids of the subscriptions that got a delivery)
        """
        async with self._sessions.begin() as s:
            # Nodes of a cluster take turns: two fan-outs at once could commit later events'
            # deliveries before earlier ones' and break their order.
            await advisory_xact_lock(s, FANOUT_LOCK)
            q = select(OutboxEvent).order_by(OutboxEvent.id).limit(limit)
            events = list((await s.execute(q)).scalars())
            if not events:
                return 0, set()
            subs = list(
                (
                    await s.execute(
                        select(Subscription).where(
                            Subscription.status == "Active", Subscription.expires_at > now
                        )
                    )
                ).scalars()
            )
            monitored = await _monitored(s, watchers(subs) if watchers else set())
            deliveries = route(events, subs, monitored)
            # in the order routed, in one statement: ids follow queue order (delivery
            # order is id order)
            await insert_in_order(s, deliveries)
            await s.execute(delete(OutboxEvent).where(OutboxEvent.id.in_([e.id for e in events])))
            return len(events), {d.subscription_id for d in deliveries}

    async def add(self, events: Sequence[OutboxEvent]) -> None:
        """Write events to the outbox outside the ingest row writer (renewal reminders)."""
        if events:
            async with self._sessions.begin() as s:
                s.add_all(events)

    async def with_filter(self, now: datetime, fragment: str) -> list[Subscription]:
        """Active WebHook subscriptions, not expired, with a filter containing ``fragment``
        (a coarse text match; the caller parses the filters)."""
        async with self._sessions() as s:
            q = select(Subscription).where(
                Subscription.status == "Active",
                Subscription.transport == "WebHook",
                Subscription.expires_at > now,
                cast(Subscription.event_filters, String).like(f"%{fragment}%"),
            )
            return list((await s.execute(q)).scalars())

    async def pending(
        self, subscription_id: str, *, after: int = 0, limit: int = 100
    ) -> list[Delivery]:
        """The next deliveries of a subscription, oldest first, after id ``after``."""
        async with self._sessions() as s:
            q = (
                select(Delivery)
                .where(Delivery.subscription_id == subscription_id, Delivery.id > after)
                .order_by(Delivery.id)
                .limit(limit)
            )
            return list((await s.execute(q)).scalars())

    async def with_pending(self) -> list[str]:
        """Subscriptions that have deliveries waiting (to resume them after a restart)."""
        async with self._sessions() as s:
            return list((await s.execute(select(Delivery.subscription_id).distinct())).scalars())

    async def delivered(self, ids: Sequence[int]) -> None:
        if ids:
            async with self._sessions.begin() as s:
                await s.execute(delete(Delivery).where(Delivery.id.in_(list(ids))))

    async def failed(self, delivery_id: int, attempts: int, error: str, retry_at: datetime) -> None:
        async with self._sessions.begin() as s:
            await s.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(attempts=attempts, last_error=error[:500], next_attempt_at=retry_at)
            )

    async def drop(self, subscription_id: str) -> int:
        """Forget what waits for a subscription that is gone, expired or blacklisted."""
        async with self._sessions.begin() as s:
            result: Any = await s.execute(
                delete(Delivery).where(Delivery.subscription_id == subscription_id)
            )
            return int(result.rowcount or 0)

    async def blacklist(self, subscription_id: str, reason: str, now: datetime) -> None:
        async with self._sessions.begin() as s:
            await s.execute(
                update(Subscription)
                .where(Subscription.id == subscription_id)
                .values(status="Blacklisted", blacklisted_at=now, blacklist_reason=reason[:500])
            )
            await s.execute(delete(Delivery).where(Delivery.subscription_id == subscription_id))

    async def expire(self, now: datetime) -> list[str]:
        """Delete expired WebSocket subscriptions (their session did not come back) and the
        deliveries of every expired subscription. Returns the ids whose deliveries went."""
        async with self._sessions.begin() as s:
            expired = list(
                (
                    await s.execute(select(Subscription).where(Subscription.expires_at <= now))
                ).scalars()
            )
            ids = [sub.id for sub in expired]
            if ids:
                await s.execute(delete(Delivery).where(Delivery.subscription_id.in_(ids)))
                await s.execute(
                    delete(Subscription).where(
                        Subscription.id.in_(
                            [sub.id for sub in expired if sub.transport == "WebSocket"]
                        )
                    )
                )
            return ids

    async def backlog(self) -> int:
        async with self._sessions() as s:
            return int((await s.execute(select(func.count()).select_from(Delivery))).scalar_one())


async def _monitored(s: AsyncSession, supervisors: set[int]) -> dict[int, frozenset[int]]:
    """Spec §7.5: a ``Monitoring`` member monitors the ``Monitored`` members of its groups."""
    if not supervisors:
        return {}
    sup, agent = aliased(GroupMember), aliased(GroupMember)
    q = (
        select(sup.extension_id, agent.extension_id)
        .join(agent, agent.group_id == sup.group_id)
        .where(
            sup.extension_id.in_(supervisors),
            sup.monitoring.is_(True),
            agent.monitored.is_(True),
        )
    )
    out: dict[int, set[int]] = {i: set() for i in supervisors}
    for watcher, watched in (await s.execute(q)).all():
        out[watcher].add(watched)
    return {k: frozenset(v) for k, v in out.items()}
