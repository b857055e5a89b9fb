"""Renewal reminders (spec §8.1): which are written when, driven without a database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from callscope.events.delivery import Dispatcher, DispatcherOptions
from callscope.events.payloads import EventKind
from callscope.metrics import Registry
from callscope.store.models import OutboxEvent, Subscription

T0 = datetime(2026, 5, 4, 15, 0, 0, tzinfo=UTC)
REMIND = "/restapi/v1.0/subscription/~?threshold=60&interval=15"


class FakeEvents:
    """The two queries the reminder pass makes, over a list of subscriptions."""

    def __init__(self, *subs: Subscription) -> None:
        self.subs = list(subs)
        self.outbox: list[OutboxEvent] = []

    async def with_filter(self, now: datetime, fragment: str) -> list[Subscription]:
        return [
            s
            for s in self.subs
            if s.expires_at > now and any(fragment in f for f in s.event_filters)
        ]

    async def add(self, events: Sequence[OutboxEvent]) -> None:
        self.outbox += events


def subscription(expires_at: datetime, *filters: str) -> Subscription:
    return Subscription(
        id="sub-1",
        account_id="70000001",
        extension_id=101,
        client_id="c",
        event_filters=list(filters or (REMIND,)),
        transport="WebHook",
        status="Active",
        expires_in=3600,
        created_at=T0,
        expires_at=expires_at,
    )


def dispatcher(events: FakeEvents) -> Dispatcher:
    fake: Any = events
    return Dispatcher(fake, fake, Registry(), DispatcherOptions())


async def test_one_reminder_per_interval_once_the_expiry_is_within_the_threshold() -> None:
    sub = subscription(T0 + timedelta(seconds=100))
    events = FakeEvents(sub)
    d = dispatcher(events)

    async def at(seconds: float) -> int:
        return await d.remind(T0 + timedelta(seconds=seconds))

    assert await at(30) == 0  # 70 s left: not yet
    assert await at(40) == 1  # 60 s left: the first
    assert await at(50) == 0  # same interval
    assert await at(55) == 1  # 45 s left: the next
    assert await at(99) == 1  # 1 s left: the last slot, once (not one per slot missed)
    assert await at(99.5) == 0
    first = events.outbox[0]
    assert (first.kind, first.account_id, first.extension_id) == (
        EventKind.SUBSCRIPTION,
        "70000001",
        101,
    )
    assert first.payload == {
        "subscriptionId": "sub-1",
        "filter": REMIND,
        "expiresIn": 60,
        "expirationTime": "2026-05-04T15:01:40.000Z",
    }

    # renewed: the count starts again from the new expiry
    sub.expires_at = T0 + timedelta(seconds=400)
    assert await at(100) == 0
    assert await at(345) == 1


async def test_each_reminder_filter_counts_for_itself_and_others_get_none() -> None:
    other = "/restapi/v1.0/subscription/~?threshold=30&interval=10"
    events = FakeEvents(
        subscription(
            T0 + timedelta(seconds=25), REMIND, other, "/restapi/v1.0/account/~/telephony/sessions"
        )
    )
    d = dispatcher(events)
    assert await d.remind(T0) == 2
    assert [e.payload["filter"] for e in events.outbox] == [REMIND, other]
