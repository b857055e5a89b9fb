"""The event bus across nodes: what one node publishes, every node's subscribers get.

Live transcript events (partials, finals, assist items, completion) are made on the node
that receives the call; a viewer may be connected to any node. :class:`ClusterBus` delivers
each event to this node's subscribers at once, as :class:`~callscope.events.bus.Bus` does,
and broadcasts it; the other nodes deliver it to theirs. Order is kept per publishing node.
"""

from __future__ import annotations

import orjson

from callscope.cluster.node import Cluster
from callscope.events.bus import Bus, Event

__all__ = ["ClusterBus"]

KIND = "bus"


class ClusterBus(Bus):
    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster
        cluster.on(KIND, self._remote)

    def publish(self, topic: str, event: Event) -> None:
        super().publish(topic, event)
        self.cluster.broadcast(KIND, orjson.dumps([topic, event]))

    def _remote(self, _sender: str, payload: bytes) -> None:
        topic, event = orjson.loads(payload)
        super().publish(topic, event)
