"""The event bus across nodes: what one node publishes, every node's subscribers get.

Live transcript events (partials, finals, assist items, completion) are made on the node
that receives the call; a viewer may be connected to any node. :class:`ClusterBus` delivers
each event to this node's subscribers at once, as :class:`~callscope.events.bus.Bus` does,
and broadcasts it; the other nodes deliver it to theirs. Order is kept per publishing node.

The carrying node stores a final shortly after it publishes it (write-behind). So that a
transcript read on another node in between still has it, each node keeps the finals other
nodes published in the last ``RECENT_S`` seconds, per topic, until the transcript completes.
"""

from __future__ import annotations

import time
from collections import deque

import orjson

from callscope.cluster.node import Cluster
from callscope.events.bus import Bus, Event

__all__ = ["ClusterBus"]

KIND = "bus"
#: how long another node's final is kept in memory: far longer than its write-behind commit
RECENT_S = 30.0


class ClusterBus(Bus):
    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster
        cluster.on(KIND, self._remote)
        self._recent: dict[str, deque[tuple[float, Event]]] = {}
        self._swept = time.monotonic()

    def publish(self, topic: str, event: Event) -> None:
        super().publish(topic, event)
        self.cluster.broadcast(KIND, orjson.dumps([topic, event]))

    def _remote(self, _sender: str, payload: bytes) -> None:
        topic, event = orjson.loads(payload)
        kind = event.get("event") if isinstance(event, dict) else None
        if kind == "transcript.final":
            self._recent.setdefault(topic, deque()).append((time.monotonic(), event))
        elif kind == "transcript.completed":
            self._recent.pop(topic, None)
        self._sweep()
        super().publish(topic, event)

    def _sweep(self) -> None:
        """Forget finals older than RECENT_S (at most once a second: also the topics of
        calls whose node died before completing them)."""
        now = time.monotonic()
        if now - self._swept < 1.0:
            return
        self._swept = now
        for topic in list(self._recent):
            kept = self._recent[topic]
            while kept and now - kept[0][0] > RECENT_S:
                kept.popleft()
            if not kept:
                del self._recent[topic]

    def recent_finals(self, topic: str) -> list[Event]:
        now = time.monotonic()
        return [e for at, e in self._recent.get(topic, ()) if now - at <= RECENT_S]
