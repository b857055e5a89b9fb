"""Which subscriptions an event goes to (:meth:`Router.route`, the fan-out's step) and the
renewal reminders due (:meth:`Router.remind`, spec §8.1); see :mod:`callscope.events.delivery`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from callscope.cluster.node import Cluster
from callscope.events.filters import EventFilter, FilterError, Unsupported, parse_filter
from callscope.events.payloads import EventKind, envelope, reminder_body, render
from callscope.identity.model import aware as _aware
from callscope.metrics import Counter
from callscope.store.events import EventRepository, Monitored
from callscope.store.models import Delivery, OutboxEvent, Subscription
from callscope.store.repo import utcnow

__all__ = ["Router"]

logger = logging.getLogger("callscope.events")


class Router:
    """Subscriptions' filters, parsed once each, and the events and reminders they select."""

    def __init__(self, repo: EventRepository, events_total: Counter) -> None:
        self.repo = repo
        self.events_total = events_total
        self._filters: dict[tuple[str, str], EventFilter | None] = {}
        #: (subscription, its expiry, reminder filter) → the last reminder slot written
        self._reminded: dict[tuple[str, float, str], int] = {}
        #: in a cluster: each reminder slot is written by the node that takes its lease
        self.cluster: Cluster | None = None

    def filter(self, sub: Subscription, text: str) -> EventFilter | None:
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

    def forget(self, subscription_id: str) -> None:
        """The subscription was changed (filters, expiry): drop its parsed filters."""
        for key in [k for k in self._filters if k[0] == subscription_id]:
            del self._filters[key]

    def watchers(self, subs: Sequence[Subscription]) -> set[int]:
        """The owners of monitored-lines presence filters (``…/presence/line/presence``)."""
        out: set[int] = set()
        for sub in subs:
            for text in sub.event_filters:
                f = self.filter(sub, text)
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
                    f = self.filter(sub, text)
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

    async def remind(self, now: datetime) -> int:
        """Write the renewal reminders due (spec §8.1); returns how many."""
        rows: list[OutboxEvent] = []
        written: dict[tuple[str, float, str], int] = {}
        live: set[tuple[str, float, str]] = set()
        for sub in await self.repo.with_filter(now, "/restapi/v1.0/subscription/"):
            expires_at = _aware(sub.expires_at)
            left = (expires_at - now).total_seconds()
            for text in sub.event_filters:
                f = self.filter(sub, text)
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
