"""In-process event bus: topics are dotted strings, subscriptions match by prefix.

``publish`` never blocks and never waits for a subscriber. Each subscription has a bounded
queue; when a slow subscriber's queue is full, a *partial* (an event whose name ends in
``.partial``) is the first thing dropped — the incoming one, or the oldest queued one. Only
when the queue holds nothing but events that must not be dropped is the subscription
closed as overflowed: its consumer gets :class:`BusOverflow` and can re-read the state from
REST, rather than silently miss an event.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["Bus", "BusOverflow", "Subscription"]

Event = dict[str, Any]


class BusOverflow(Exception):
    """The subscriber fell too far behind; events that must not be dropped were pending."""


def _droppable(event: Event) -> bool:
    return str(event.get("event", "")).endswith(".partial")


class Subscription:
    def __init__(self, bus: Bus, prefix: str, maxsize: int) -> None:
        self._bus = bus
        self.prefix = prefix
        self.maxsize = maxsize
        self._queue: deque[Event] = deque()
        self._wake = asyncio.Event()
        self.dropped = 0
        self.overflowed = False
        self.closed = False

    def _deliver(self, event: Event) -> None:
        if self.closed:
            return
        if len(self._queue) >= self.maxsize:
            if _droppable(event):
                self.dropped += 1
                return
            for i, queued in enumerate(self._queue):
                if _droppable(queued):
                    del self._queue[i]
                    self.dropped += 1
                    break
            else:
                self.overflowed = True
                self.close()
                self._wake.set()
                return
        self._queue.append(event)
        self._wake.set()

    async def get(self) -> Event:
        """The next event. Raises BusOverflow if this subscription overflowed, and
        StopAsyncIteration-style EOFError once closed and drained."""
        while not self._queue:
            if self.overflowed:
                raise BusOverflow(f"subscriber to {self.prefix!r} fell behind")
            if self.closed:
                raise EOFError
            self._wake.clear()
            await self._wake.wait()
        return self._queue.popleft()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event]:
        while True:
            try:
                yield await self.get()
            except EOFError:
                return

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._unsubscribe(self)
            self._wake.set()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self.published = 0

    def publish(self, topic: str, event: Event) -> None:
        self.published += 1
        for sub in tuple(self._subs):
            if topic.startswith(sub.prefix):
                sub._deliver(event)

    def subscribe(self, prefix: str, *, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, prefix, maxsize)
        self._subs.add(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def recent_finals(self, topic: str) -> list[Event]:
        """``transcript.final`` events of ``topic`` made on another node in the last moments
        (they may not be in the database yet). One node makes every final itself: none."""
        return []

    @property
    def subscribers(self) -> int:
        return len(self._subs)
