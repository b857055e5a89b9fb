"""Supervision across the nodes of a cluster, and the no-op relay of a single node.

A call is supervised on the node that receives it; a web phone connected to another node (or
a SIP phone registered with another node's registrar) is reached through that node with
``dev.*`` cluster messages (audio and control one way, its microphone the other; a SIP
phone's hang-up and digits of one stream go to the node of that stream's call). Monitoring
orders are broadcast so that the agent's next call is picked up on whichever node it
arrives. The service always has a relay: a single node has :class:`LocalRelay`, whose every
operation does nothing, so the rules never ask whether there is a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import TYPE_CHECKING, Any, Final

import orjson

from callscope.calls.telephony import call_id_of
from callscope.errors import SupervisionRefused
from callscope.supervision.links import DEVICE_ID, DeviceLink
from callscope.supervision.model import MonitoringOrder, Operation, Supervision, SupervisionMode
from callscope.supervision.webphone import STREAM_EVENTS, MicFrame, parse_mic

if TYPE_CHECKING:
    from callscope.cluster.node import Cluster
    from callscope.store.models import Device, Extension
    from callscope.store.repo import CallRepository
    from callscope.supervision.service import SupervisionService

__all__ = ["ClusterRelay", "LocalRelay", "Relay", "RemoteDeviceLink"]

logger = logging.getLogger("callscope.supervision")

DEV_AUDIO: Final = "dev.audio"  # call node → device node: a listen frame
DEV_JSON: Final = "dev.json"  # call node → device node: a control message
DEV_MIC: Final = "dev.mic"  # device node → call node: a microphone frame
DEV_HOLD: Final = "dev.hold"  # call node → device node: send me its microphone
DEV_RELEASE: Final = "dev.release"  # call node → device node: no longer
DEV_GONE: Final = "dev.gone"  # either way: the device (or its link) is gone
DEV_END: Final = "dev.end"  # device node → call node: a SIP phone hung up one stream's call
DEV_MODE: Final = "dev.mode"  # device node → call node: a SIP phone's digit switched a mode
ORDER: Final = "order"  # broadcast: a monitoring order armed, changed or cancelled
ORDER_USED: Final = "order.used"  # broadcast: a NextCall order picked up its call


#: where an audio frame's header (``<BBHI`` kind, channel, stream, frame) has its stream id
STREAM_AT: Final = 2
STREAM_ID: Final = struct.Struct("<H")


def _renumbered(frame: bytes, stream: int) -> bytes:
    """An audio frame (listen or microphone) with another stream id in its header."""
    return frame[:STREAM_AT] + STREAM_ID.pack(stream) + frame[STREAM_AT + STREAM_ID.size :]


class RemoteDeviceLink(DeviceLink):
    """A web phone connected to another node, supervising a call of this one. What it is
    sent goes to that node, which writes it on the socket; its microphone comes back."""

    remote = True

    def __init__(
        self,
        device: Device,
        owner: Extension,
        node: str,
        cluster: Cluster,
        microphone: Callable[[DeviceLink, MicFrame], Awaitable[int]],
    ) -> None:
        super().__init__(device, owner, None, queue_frames=1)
        self.node = node
        self.cluster = cluster
        self.microphone = microphone
        self.mic: asyncio.Queue[MicFrame] = asyncio.Queue(maxsize=500)
        self._mic_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._mic_task = asyncio.create_task(
            self._mic_loop(), name=f"callscope-remote-device-{self.id}"
        )

    async def stop(self) -> None:
        self.online = False
        if self._mic_task is not None:
            self._mic_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._mic_task

    def send_audio(self, frame: bytes, arrived: float) -> None:
        if self.online:
            self.cluster.send(self.node, DEV_AUDIO, self.prefix + frame)

    def send_json(self, message: dict[str, Any]) -> None:
        if self.online:
            self.cluster.send(self.node, DEV_JSON, self.prefix + orjson.dumps(message))

    def take_mic(self, frame: MicFrame) -> None:
        if self.mic.full():
            self.mic.get_nowait()  # keep the newest speech
        self.mic.put_nowait(frame)

    async def _mic_loop(self) -> None:
        """In order, one frame at a time, as the device's own socket would."""
        while True:
            frame = await self.mic.get()
            try:
                await self.microphone(self, frame)
            except Exception:
                logger.exception("device %s: microphone frame from node %s", self.id, self.node)


class LocalRelay:
    """A single node: nothing to relay."""

    def hold(self, link: DeviceLink) -> None:
        """A device of another node started supervising a call here."""

    def release(self, link: DeviceLink) -> None:
        """…and supervises no call here any more."""

    def forward_mic(self, link: DeviceLink, raw: bytes) -> None:
        """A microphone frame to the nodes carrying calls the device supervises."""

    def device_gone(self, link: DeviceLink) -> None:
        """A device of this node went away."""

    def share_order(self, link: DeviceLink, order: MonitoringOrder | None) -> None:
        """The device's order as it is now (None: cancelled)."""

    def order_used(self, link: DeviceLink) -> None:
        """The device's NextCall order picked up its call here."""

    async def call_node(self, account_id: str, session_id: str) -> str | None:
        """The live node that carries a call this node does not (None: here, or nowhere)."""
        return None

    async def remote_link(self, device: Device) -> RemoteDeviceLink | None:
        """The device (web or SIP phone), Online on another live node, as a link of this one."""
        return None

    def end_stream(self, link: DeviceLink, stream: int, why: str, party_reason: str) -> None:
        """A device of this node dropped its stream of another node's call: that supervision
        ends there."""

    def set_mode(self, link: DeviceLink, stream: int, mode: SupervisionMode) -> None:
        """A device of this node switched the mode of its stream of another node's call."""

    def forget_node(self, link: DeviceLink, node: str) -> list[dict[str, Any]]:
        """``node`` died: the StreamStarted messages of the device's streams of its calls
        (the device is to be told they ended)."""
        return []


Relay = LocalRelay


class ClusterRelay(LocalRelay):
    """Relays supervision between the nodes of a cluster."""

    def __init__(
        self, service: SupervisionService, cluster: Cluster, calls: CallRepository
    ) -> None:
        self.service = service
        self.cluster = cluster
        self.calls = calls
        self._order_lock = asyncio.Lock()
        cluster.on(DEV_AUDIO, self._on_audio)
        cluster.on(DEV_JSON, self._on_json)
        cluster.on(DEV_MIC, self._on_mic)
        cluster.on(DEV_HOLD, self._on_hold)
        cluster.on(DEV_RELEASE, self._on_release)
        cluster.on(DEV_GONE, self._on_gone)
        cluster.on(DEV_END, self._on_end)
        cluster.on(DEV_MODE, self._on_mode)
        cluster.on(ORDER, lambda sender, data: service.spawn(self._on_order(data)))
        cluster.on(ORDER_USED, self._on_order_used)

    # -- what this node sends ------------------------------------------------------------------

    def hold(self, link: DeviceLink) -> None:
        if isinstance(link, RemoteDeviceLink):
            self.cluster.send(link.node, DEV_HOLD, link.prefix)

    def release(self, link: DeviceLink) -> None:
        if isinstance(link, RemoteDeviceLink):
            self.cluster.send(link.node, DEV_RELEASE, link.prefix)

    def forward_mic(self, link: DeviceLink, raw: bytes) -> None:
        (stream,) = STREAM_ID.unpack_from(raw, STREAM_AT)
        if stream == 0:  # into every call it coaches or barges into, on every node
            for node in link.remote_nodes:
                self.cluster.send(node, DEV_MIC, link.prefix + raw)
            return
        found = link.relayed.remote(stream)
        if found is not None:  # into that stream's call only, in that node's numbering
            node, theirs = found
            self.cluster.send(node, DEV_MIC, link.prefix + _renumbered(raw, theirs))

    def end_stream(self, link: DeviceLink, stream: int, why: str, party_reason: str) -> None:
        found = link.relayed.remote(stream)
        if found is not None:
            node, theirs = found
            message = {"stream": theirs, "why": why, "partyReason": party_reason}
            self.cluster.send(node, DEV_END, link.prefix + orjson.dumps(message))

    def set_mode(self, link: DeviceLink, stream: int, mode: SupervisionMode) -> None:
        found = link.relayed.remote(stream)
        if found is not None:
            node, theirs = found
            message = {"stream": theirs, "mode": str(mode)}
            self.cluster.send(node, DEV_MODE, link.prefix + orjson.dumps(message))

    def forget_node(self, link: DeviceLink, node: str) -> list[dict[str, Any]]:
        started = []
        for local in link.relayed.of_node(node):
            started.append(link.relayed.started.get(local) or {"stream": local})
            self._release(link, local)
        return started

    def _release(self, link: DeviceLink, local: int) -> None:
        link.relayed.remove(local)
        record = self.service.core.devices.get(link.id)
        if record is not None:
            record.relayed.discard(local)

    def _local_stream(self, link: DeviceLink, node: str, theirs: int) -> int | None:
        """The device's id for stream ``theirs`` of ``node``: a new one (from the device's
        own id space) the first time, None for a device the core does not know."""
        local = link.relayed.local(node, theirs)
        if local is not None:
            return local
        record = self.service.core.devices.get(link.id)
        if record is None:
            return None
        local = record.new_stream_id()
        record.relayed.add(local)
        link.relayed.add(node, theirs, local)
        return local

    def device_gone(self, link: DeviceLink) -> None:
        # every node: those carrying its supervisions and those holding its order
        self.cluster.broadcast(DEV_GONE, link.prefix)

    def share_order(self, link: DeviceLink, order: MonitoringOrder | None) -> None:
        message: dict[str, Any] = {"device": link.id, "account": link.device.account_id}
        if order is None:
            message["op"] = str(Operation.CANCEL)
        else:
            message |= {
                "op": str(order.mode.operation),
                "agent": order.agent_id,
                "repeat": str(order.repeat),
                "scope": str(order.scope),
                "target": order.target_device_uri,
                "used": order.used,
            }
        self.cluster.broadcast(ORDER, orjson.dumps(message))

    def order_used(self, link: DeviceLink) -> None:
        self.cluster.broadcast(ORDER_USED, link.prefix)

    async def call_node(self, account_id: str, session_id: str) -> str | None:
        call_id = call_id_of(session_id)
        if not call_id or call_id in self.service.live_calls:
            return None
        row = await self.calls.get(call_id)
        if row is None or row.status != "live" or row.account_ref != account_id:
            return None
        node = row.node_id
        if node is None or node == self.cluster.node_id or not await self.cluster.is_alive(node):
            return None
        return node

    async def remote_link(self, device: Device) -> RemoteDeviceLink | None:
        cluster = self.cluster
        if device.status != "Online":  # a web phone connected there, or a SIP phone registered
            return None
        node = device.node_id
        if node is None or node == cluster.node_id or not await cluster.is_alive(node):
            return None
        service = self.service
        link = service.remote.get(device.id)
        if link is not None and link.node == node:
            return link
        if link is not None:
            await service.disconnect(link)  # it reconnected elsewhere
        owner = await service.directory.get_extension(device.account_id, device.extension_id)
        if owner is None:
            return None
        link = RemoteDeviceLink(device, owner, node, cluster, service.microphone)
        service.adopt_remote(link)
        return link

    # -- what this node receives ---------------------------------------------------------------

    @staticmethod
    def _split(payload: bytes) -> tuple[int, bytes]:
        (device_id,) = DEVICE_ID.unpack_from(payload)
        return device_id, payload[DEVICE_ID.size :]

    def _on_audio(self, sender: str, payload: bytes) -> None:
        device_id, frame = self._split(payload)
        link = self.service.devices.get(device_id)
        if link is None:
            self.cluster.send(sender, DEV_GONE, DEVICE_ID.pack(device_id))
            return
        (theirs,) = STREAM_ID.unpack_from(frame, STREAM_AT)
        local = link.relayed.local(sender, theirs)
        if local is not None:  # (a stream never started here, or ended, is not the device's)
            link.send_audio(frame if local == theirs else _renumbered(frame, local), monotonic())

    def _on_json(self, sender: str, payload: bytes) -> None:
        device_id, data = self._split(payload)
        link = self.service.devices.get(device_id)
        if link is None:
            return
        message = orjson.loads(data)
        kind = message.get("type") if isinstance(message, dict) else None
        if kind in STREAM_EVENTS:
            # in the device's numbering; StreamStarted is kept: if the sender dies, the
            # device is told each of its streams ended
            theirs = int(message["stream"])
            if kind == "StreamStarted":
                local = self._local_stream(link, sender, theirs)
            else:
                local = link.relayed.local(sender, theirs)
            if local is None:
                return
            message = {**message, "stream": local}
            if kind == "StreamStarted":
                link.relayed.started[local] = message
            elif kind == "StreamEnded":
                self._release(link, local)
        elif kind == "ModeChanged":
            ids = (link.relayed.local(sender, int(n)) for n in message.get("streams", []))
            message = {**message, "streams": [n for n in ids if n is not None]}
        link.send_json(message)

    def _on_mic(self, sender: str, payload: bytes) -> None:
        device_id, data = self._split(payload)
        link = self.service.remote.get(device_id)
        if link is not None and link.node == sender:
            link.take_mic(parse_mic(data))

    def _on_hold(self, sender: str, payload: bytes) -> None:
        device_id, _ = self._split(payload)
        link = self.service.devices.get(device_id)
        if link is not None:
            link.remote_nodes.add(sender)
        else:
            self.cluster.send(sender, DEV_GONE, DEVICE_ID.pack(device_id))

    def _on_release(self, sender: str, payload: bytes) -> None:
        device_id, _ = self._split(payload)
        link = self.service.devices.get(device_id)
        if link is not None:
            link.remote_nodes.discard(sender)

    def _on_gone(self, sender: str, payload: bytes) -> None:
        device_id, _ = self._split(payload)
        link = self.service.remote.get(device_id)
        if link is not None and link.node == sender:
            self.service.spawn(self.service.disconnect(link))

    def _remote_supervision(
        self, sender: str, payload: bytes
    ) -> tuple[Supervision, dict[str, Any]] | None:
        """The supervision of the stream a device on ``sender`` names, with the message."""
        device_id, data = self._split(payload)
        link = self.service.remote.get(device_id)
        if link is None or link.node != sender:
            return None
        message = orjson.loads(data)
        record = self.service.core.devices.get(device_id)
        stream = record.streams.get(int(message["stream"])) if record is not None else None
        return (stream.supervision, message) if stream is not None else None

    def _on_end(self, sender: str, payload: bytes) -> None:
        found = self._remote_supervision(sender, payload)
        if found is not None:
            sup, message = found
            why, party_reason = str(message["why"]), str(message["partyReason"])
            self.service.run(self.service.core.end(sup.call_id, why, party_reason=party_reason))

    def _on_mode(self, sender: str, payload: bytes) -> None:
        found = self._remote_supervision(sender, payload)
        if found is None:
            return
        sup, message = found
        try:
            self.service.run(self.service.core.set_mode(sup, SupervisionMode(message["mode"])))
        except (SupervisionRefused, ValueError) as exc:
            logger.info(
                "call %s: mode %r from node %s refused: %s", sup.call_id, message, sender, exc
            )

    async def _on_order(self, payload: bytes) -> None:
        # one at a time, in arrival order (an arm and its cancel must not swap)
        async with self._order_lock:
            await self.service.apply_order(orjson.loads(payload))

    def _on_order_used(self, _sender: str, payload: bytes) -> None:
        device_id, _ = self._split(payload)
        self.service.order_used_elsewhere(device_id)
