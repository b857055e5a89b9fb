"""Supervisors on live calls: web-phone devices, supervise sessions, monitoring orders.

Rules (spec §7.5, seeds/ringcentral-call-supervision.md, seeds/genesys-coach-operation.txt):

* only a ``Monitoring`` member may supervise a ``Monitored`` member of a common call
  monitoring group, checked when supervision starts and again when a call it follows is
  transferred to another agent;
* one supervisor per call; that supervisor uses one device for it; a supervisor may hold many
  calls; the device must be Online (a connected web phone);
* a session-level supervision is one stream of both parties mixed; a party-level one is a
  stream of that party alone (call it once per party for two streams);
* Listen hears; Coach also talks to the agent only; Barge talks to both. Talking needs a
  two-way call stream; on a one-way (RingCX) stream Coach and Barge are refused.

Monitoring orders (Genesys ``ListenIn`` / ``Coach`` / ``BargeIn`` on a device) arm one device
on one agent: the agent's current call is picked up now if nobody supervises it, otherwise
the next. ``NextCall`` disarms after one call, ``AllCalls`` stays until cancelled. Scope
``Agent`` lets go of a call the agent transfers away; scope ``Call`` follows the call to the
new agent (if the supervisor may monitor that agent too).

Audio: a pipeline sink per supervised call turns each stereo block into 20 ms frames for the
device (mixed or one channel); the device's sender drains a bounded queue, so a device that
stops reading loses its own oldest audio and delays nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import struct
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import numpy as np
import orjson
from aiohttp import web

from callscope.calls.telephony import TelephonyService, call_id_of, party_ids
from callscope.cluster.node import Cluster
from callscope.events.payloads import EventKind
from callscope.identity.service import AuthContext, IdentityService
from callscope.media.g711 import lin2ulaw
from callscope.media.pipeline import StereoBlock
from callscope.metrics import Registry
from callscope.protocols.twilio import Track
from callscope.store.directory import DirectoryRepository
from callscope.store.models import Device, Extension, OutboxEvent
from callscope.store.repo import CallRepository, utcnow
from callscope.store.writer import CallRowWriter
from callscope.supervision.audio import (
    CHANNEL_AGENT,
    CHANNEL_CUSTOMER,
    CHANNEL_MIXED,
    FRAME_BYTES,
    HEADER,
    KIND_LISTEN,
    MicFrame,
    channel_pcm,
    parse_mic,
)

if TYPE_CHECKING:
    from callscope.ingest.service import LiveCall
    from callscope.transcription.live import PartyFeed, TranscriptHub

__all__ = [
    "DeviceLink",
    "Mode",
    "MonitoringOrder",
    "SupervisionRefused",
    "SupervisionService",
]

logger = logging.getLogger("callscope.supervision")

DEVICE_CHANNEL: Final = "/v2/me/devices"
#: cluster messages between the node holding a web phone and the node carrying its call
DEV_AUDIO: Final = "dev.audio"  # call node → device node: a listen frame
DEV_JSON: Final = "dev.json"  # call node → device node: a control message
DEV_MIC: Final = "dev.mic"  # device node → call node: a microphone frame
DEV_HOLD: Final = "dev.hold"  # call node → device node: send me its microphone
DEV_RELEASE: Final = "dev.release"  # call node → device node: no longer
DEV_GONE: Final = "dev.gone"  # either way: the device (or its link) is gone
ORDER: Final = "order"  # broadcast: a monitoring order armed, changed or cancelled
ORDER_USED: Final = "order.used"  # broadcast: a NextCall order picked up its call
DEVICE_ID: Final = struct.Struct("<Q")

#: audio held in a device socket's user-space write buffer before its queue takes over
#: (≈ 1 s of one stream)
WRITE_BUFFER_LIMIT: Final = 16 * 1024


class Mode(enum.StrEnum):
    LISTEN = "Listen"
    COACH = "Coach"
    BARGE = "Barge"


OPERATION_BY_MODE: Final = {Mode.LISTEN: "ListenIn", Mode.COACH: "Coach", Mode.BARGE: "BargeIn"}
MODE_BY_OPERATION: Final = {v: k for k, v in OPERATION_BY_MODE.items()}
#: which directions of a two-way stream a talking supervisor is heard in
TALK_TRACKS: Final = {
    Mode.LISTEN: (),
    Mode.COACH: (Track.INBOUND,),  # toward the agent only
    Mode.BARGE: (Track.INBOUND, Track.OUTBOUND),
}
CHANNEL_NAMES: Final = {
    CHANNEL_MIXED: "mixed",
    CHANNEL_AGENT: "agent",
    CHANNEL_CUSTOMER: "customer",
}


class SupervisionRefused(Exception):
    """A supervision request broke a rule: HTTP status, RingCentral error code, message."""

    def __init__(
        self, status: int, code: str, message: str, parameter: str | None = None, value: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter
        self.value = value


def _one_way(mode: Mode) -> SupervisionRefused:
    return SupervisionRefused(
        400,
        "CMN-101",
        f"{mode} needs a two-way call stream: this call streams one-way (RingCX call "
        "streaming), so the supervisor can only listen. Stream it to /twilio/stream to talk.",
        "mode",
        str(mode),
    )


def _no_party(party_id: str) -> SupervisionRefused:
    return SupervisionRefused(
        404, "CMN-102", "Resource for parameter [partyId] is not found", "partyId", party_id[:64]
    )


@dataclass(eq=False)
class Stream:
    id: int
    channel: int
    target_party: str | None
    supervisor_party: str
    supervision: Supervision
    #: the supervisor party's row and events, committed (await it to read your own write)
    committed: asyncio.Future[None] | None = None


@dataclass(eq=False)
class MonitoringOrder:
    """A device armed on an agent (Genesys supervisor monitoring)."""

    link: DeviceLink
    agent: Extension
    mode: Mode
    repeat: str  # NextCall | AllCalls
    scope: str  # Agent | Call
    target_device_uri: str | None
    attached: Supervision | None = None
    used: bool = False  # NextCall: a call was picked up


@dataclass(eq=False)
class Supervision:
    """One supervisor's hold on one call: its streams (one per supervise request)."""

    service: SupervisionService
    call: LiveCall
    link: DeviceLink
    mode: Mode
    streams: list[Stream] = field(default_factory=list)
    order: MonitoringOrder | None = None
    feed: PartyFeed | None = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def call_id(self) -> str:
        assert self.call.call_id is not None
        return self.call.call_id

    @property
    def two_way(self) -> bool:
        return self.call.talkback is not None

    def tap(self, block: StereoBlock) -> None:
        """Pipeline sink: the block as 20 ms frames to the device, per stream."""
        arrived = time.monotonic()
        interleaved = block.interleaved
        link = self.link
        for stream in self.streams:
            pcm = channel_pcm(interleaved, stream.channel)
            for i in range(block.frames):
                link.send_audio(
                    HEADER.pack(KIND_LISTEN, stream.channel, stream.id, block.start_frame + i)
                    + pcm[i * FRAME_BYTES : (i + 1) * FRAME_BYTES],
                    arrived,
                )


class DeviceLink:
    """A connected web phone: what it is sent (bounded), what it supervises."""

    def __init__(
        self,
        device: Device,
        owner: Extension,
        ws: web.WebSocketResponse | None,
        service: SupervisionService,
        *,
        queue_frames: int,
    ) -> None:
        self.device = device
        self.owner = owner
        self.ws = ws
        self.service = service
        self.audio: deque[tuple[bytes, float]] = deque()
        self.control: deque[str] = deque()
        self.queue_frames = queue_frames
        self.wake = asyncio.Event()
        self.dropped = 0
        self.sent = 0
        self.streams: dict[int, Stream] = {}
        self.supervisions: dict[str, Supervision] = {}
        self.order: MonitoringOrder | None = None
        self.online = True
        self._next_stream = 1
        self._sender: asyncio.Task[None] | None = None
        self.mic_ignored = 0
        self.transport: asyncio.Transport | None = None
        #: cluster: nodes that carry calls this device supervises (its microphone goes there)
        self.remote_nodes: set[str] = set()
        #: the device id as cluster messages about it begin
        self.prefix = DEVICE_ID.pack(device.id)

    @property
    def id(self) -> int:
        return self.device.id

    def new_stream_id(self) -> int:
        while self._next_stream in self.streams or self._next_stream == 0:
            self._next_stream = (self._next_stream + 1) % 65536
        sid = self._next_stream
        self._next_stream = (self._next_stream + 1) % 65536
        return sid

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name=f"callscope-device-{self.id}")

    async def stop(self) -> None:
        self.online = False
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender

    def send_audio(self, frame: bytes, arrived: float) -> None:
        """Queue a frame; never blocks. A full queue loses its oldest frame."""
        if not self.online:
            return
        if len(self.audio) >= self.queue_frames:
            self.audio.popleft()
            self.dropped += 1
        self.audio.append((frame, arrived))
        self.wake.set()

    def send_json(self, message: dict[str, Any]) -> None:
        """Queue a control message (never dropped; sent before queued audio)."""
        if self.online:
            self.control.append(orjson.dumps(message).decode())
            self.wake.set()

    async def _send_loop(self) -> None:
        delay = self.service.listen_delay
        ws = self.ws
        assert ws is not None
        transport = self.transport
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.control or self.audio:
                    if self.control:
                        await ws.send_str(self.control.popleft())
                        continue
                    # Backed up (the device reads slower than audio comes): wait here, so
                    # what waits is this queue, which keeps the newest audio.
                    while (  # noqa: ASYNC110 - no event says "buffer below N bytes"
                        transport is not None
                        and transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT
                    ):
                        await asyncio.sleep(0.02)
                    frame, arrived = self.audio.popleft()
                    await ws.send_bytes(frame)
                    self.sent += 1
                    delay.observe(time.monotonic() - arrived)
        except (ConnectionError, RuntimeError):
            self.online = False  # the read loop sees the close and cleans up

    def capabilities(self) -> list[str]:
        """The Genesys operations allowed now."""
        if not self.online:
            return []
        ops = ["ListenIn", "Coach", "BargeIn"]
        order = self.order
        # a supervision started by REST counts as the device's state when no order is armed
        current = order.attached if order else next(iter(self.supervisions.values()), None)
        if current is not None and not current.two_way:
            ops = ["ListenIn"]
        active = order.mode if order is not None else current.mode if current else None
        if active is not None:
            ops = [op for op in ops if op != OPERATION_BY_MODE[active]]
        if order is not None or self.supervisions:
            ops.append("CancelSupervisorMonitoring")
        return ops

    def state(self) -> dict[str, Any]:
        """The Genesys ``DeviceStateChangeMessage`` for this device."""
        dev: dict[str, Any] = {
            "id": str(self.id),
            "deviceState": "Active" if self.online else "Inactive",
            "phoneNumber": self.owner.extension_number,
            "e164Number": self.owner.extension_number,
            "telephonyNetwork": "Private",
            "capabilities": self.capabilities(),
        }
        order = self.order
        if order is not None:
            monitoring: dict[str, Any] = {
                "state": OPERATION_BY_MODE[order.mode],
                "mode": order.repeat,
                "scope": order.scope,
                "targetDeviceUri": order.target_device_uri,
                "agentExtensionId": str(order.agent.id),
            }
            if order.attached is not None:
                live = order.attached.call.session
                monitoring["telephonySessionId"] = live.session_id if live else None
                monitoring["activeMode"] = str(order.attached.mode)
            dev["supervisorMonitoringState"] = monitoring
        elif self.supervisions:
            # Supervise Call Session/Party (REST): the call it follows, until the call ends
            sup = next(iter(self.supervisions.values()))
            live = sup.call.session
            dev["supervisorMonitoringState"] = {
                "state": OPERATION_BY_MODE[sup.mode],
                "mode": "NextCall",
                "scope": "Call",
                "agentExtensionId": str(live.agent_extension) if live else None,
                "telephonySessionId": live.session_id if live else None,
                "activeMode": str(sup.mode),
            }
        return {"messageType": "DeviceStateChangeMessage", "devices": [dev]}


class RemoteDeviceLink(DeviceLink):
    """Cluster: a web phone connected to another node, supervising a call of this one. What
    it is sent goes to that node, which writes it on the socket; its microphone comes back
    the same way (``dev.*`` cluster messages)."""

    def __init__(
        self, device: Device, owner: Extension, node: str, service: SupervisionService
    ) -> None:
        super().__init__(device, owner, None, service, queue_frames=service.queue_frames)
        self.node = node
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
        if self.online and self.service.cluster is not None:
            self.service.cluster.send(self.node, DEV_AUDIO, self.prefix + frame)

    def send_json(self, message: dict[str, Any]) -> None:
        if self.online and self.service.cluster is not None:
            self.service.cluster.send(self.node, DEV_JSON, self.prefix + orjson.dumps(message))

    def take_mic(self, frame: MicFrame) -> None:
        if self.mic.full():
            self.mic.get_nowait()  # keep the newest speech
        self.mic.put_nowait(frame)

    async def _mic_loop(self) -> None:
        """In order, one frame at a time, as the device's own socket would."""
        while True:
            frame = await self.mic.get()
            try:
                await self.service.microphone(self, frame)
            except Exception:
                logger.exception("device %s: microphone frame from node %s", self.id, self.node)


class SupervisionService:
    def __init__(
        self,
        *,
        directory: DirectoryRepository,
        identity: IdentityService,
        telephony: TelephonyService,
        rows: CallRowWriter,
        registry: Registry,
        live_calls: dict[str, LiveCall],
        transcripts: TranscriptHub | None = None,
        queue_frames: int = 100,
    ) -> None:
        self.directory = directory
        self.identity = identity
        self.telephony = telephony
        self.rows = rows
        self.live_calls = live_calls
        self.transcripts = transcripts
        self.queue_frames = queue_frames
        self.devices: dict[int, DeviceLink] = {}
        #: cluster: web phones of other nodes supervising calls of this node
        self.remote: dict[int, RemoteDeviceLink] = {}
        self.cluster: Cluster | None = None
        self.calls: CallRepository | None = None
        #: stored on the device row while a web phone is connected here
        self.node_id: str | None = None
        self._order_lock = asyncio.Lock()
        self.by_call: dict[str, Supervision] = {}
        self.orders: dict[int, list[MonitoringOrder]] = {}  # agent extension → orders
        self._tasks: set[asyncio.Task[None]] = set()
        self._dropped_closed = 0
        #: why new web phones are refused (this node fenced itself off its cluster)
        self.fenced: str | None = None
        reg = registry
        reg.gauge(
            "callscope_supervised_calls", "Calls being supervised now.", lambda: len(self.by_call)
        )
        reg.gauge(
            "callscope_webphones_online", "Connected web-phone devices.", lambda: len(self.devices)
        )
        reg.gauge(
            "callscope_listen_queued_frames",
            "Audio frames waiting in the devices' queues.",
            lambda: sum(len(d.audio) for d in self.devices.values()),
        )
        reg.counter(
            "callscope_listen_frames_dropped_total",
            "Audio frames a device was too slow to take (its oldest were dropped).",
            live=lambda: [
                ((), float(self._dropped_closed + sum(d.dropped for d in self.devices.values())))
            ],
        )
        self.talk_frames = reg.counter(
            "callscope_talk_frames_total", "Supervisor microphone frames sent into calls, by mode."
        )
        self.listen_delay = reg.histogram(
            "callscope_listen_delay_seconds",
            "From a call frame's arrival to its write on the supervisor's device socket.",
            (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0),
        )

    @property
    def dropped_frames(self) -> int:
        return self._dropped_closed + sum(d.dropped for d in self.devices.values())

    # -- cluster -----------------------------------------------------------------------------

    def join(self, cluster: Cluster, calls: CallRepository) -> None:
        """Supervise across the nodes of a cluster: a call is supervised on the node that
        receives it; a web phone connected to another node is reached through that node."""
        self.cluster = cluster
        self.calls = calls
        self.node_id = cluster.node_id
        cluster.on(DEV_AUDIO, self._on_audio)
        cluster.on(DEV_JSON, self._on_json)
        cluster.on(DEV_MIC, self._on_mic)
        cluster.on(DEV_HOLD, self._on_hold)
        cluster.on(DEV_RELEASE, self._on_release)
        cluster.on(DEV_GONE, self._on_gone)
        cluster.on(ORDER, lambda sender, data: self._spawn(self._on_order(sender, data)))
        cluster.on(ORDER_USED, self._on_order_used)

    async def call_node(self, account_id: str, session_id: str) -> str | None:
        """The live node that carries a call this node does not (None: here, or nowhere)."""
        if self.cluster is None or self.calls is None:
            return None
        call_id = call_id_of(session_id)
        if not call_id or call_id in self.live_calls:
            return None
        row = await self.calls.get(call_id)
        if row is None or row.status != "live" or row.account_ref != account_id:
            return None
        node = row.node_id
        if node is None or node == self.cluster.node_id or node not in self.cluster.alive:
            return None
        return node

    @staticmethod
    def _split(payload: bytes) -> tuple[int, bytes]:
        (device_id,) = DEVICE_ID.unpack_from(payload)
        return device_id, payload[DEVICE_ID.size :]

    def _on_audio(self, sender: str, payload: bytes) -> None:
        device_id, frame = self._split(payload)
        link = self.devices.get(device_id)
        if link is not None:
            link.send_audio(frame, time.monotonic())
        elif self.cluster is not None:
            self.cluster.send(sender, DEV_GONE, DEVICE_ID.pack(device_id))

    def _on_json(self, _sender: str, payload: bytes) -> None:
        device_id, data = self._split(payload)
        link = self.devices.get(device_id)
        if link is not None:
            link.send_json(orjson.loads(data))

    def _on_mic(self, sender: str, payload: bytes) -> None:
        device_id, data = self._split(payload)
        link = self.remote.get(device_id)
        if link is not None and link.node == sender:
            link.take_mic(parse_mic(data))

    def _on_hold(self, sender: str, payload: bytes) -> None:
        device_id, _ = self._split(payload)
        link = self.devices.get(device_id)
        if link is not None:
            link.remote_nodes.add(sender)
        elif self.cluster is not None:
            self.cluster.send(sender, DEV_GONE, DEVICE_ID.pack(device_id))

    def _on_release(self, sender: str, payload: bytes) -> None:
        device_id, _ = self._split(payload)
        link = self.devices.get(device_id)
        if link is not None:
            link.remote_nodes.discard(sender)

    def _on_gone(self, sender: str, payload: bytes) -> None:
        device_id, _ = self._split(payload)
        link = self.remote.get(device_id)
        if link is not None and link.node == sender:
            self._spawn(self.disconnect(link))

    def _share_order(self, link: DeviceLink, operation: str) -> None:
        """Cluster: every node arms (or cancels) the same order, so the agent's next call is
        picked up on whichever node it arrives."""
        if self.cluster is None:
            return
        order = link.order
        message: dict[str, Any] = {"device": link.id, "account": link.device.account_id}
        if operation == "CancelSupervisorMonitoring" or order is None:
            message["op"] = "CancelSupervisorMonitoring"
        else:
            message |= {
                "op": OPERATION_BY_MODE[order.mode],
                "agent": order.agent.id,
                "repeat": order.repeat,
                "scope": order.scope,
                "target": order.target_device_uri,
                "used": order.used,
            }
        self.cluster.broadcast(ORDER, orjson.dumps(message))

    async def _on_order(self, _sender: str, payload: bytes) -> None:
        # one at a time, in arrival order (an arm and its cancel must not swap)
        async with self._order_lock:
            await self._apply_order(orjson.loads(payload))

    async def _apply_order(self, msg: dict[str, Any]) -> None:
        device = await self.directory.get_device(str(msg["account"]), int(msg["device"]))
        if device is None:
            return
        link: DeviceLink | None = self.devices.get(device.id) or await self._remote_link(device)
        if link is None:
            return
        if msg["op"] == "CancelSupervisorMonitoring":
            had = link.order is not None
            self._drop_order(link)
            if had and self.devices.get(link.id) is link:
                self._push_state(link)
            return
        agent = await self.directory.get_extension(device.account_id, int(msg["agent"]))
        if agent is None:
            return
        mode = MODE_BY_OPERATION[str(msg["op"])]
        order = link.order
        held = order.attached if order is not None and order.agent.id == agent.id else None
        if held is not None and (mode is Mode.LISTEN or held.two_way):
            self.set_mode(held, mode)
        if self._arm(
            link,
            agent,
            mode,
            str(msg["repeat"]),
            str(msg["scope"]),
            msg.get("target"),
            used=bool(msg.get("used")),
            current=self._current_call(agent.id),
        ):
            self._push_state(link)

    def _on_order_used(self, _sender: str, payload: bytes) -> None:
        device_id, _ = self._split(payload)
        link = self.devices.get(device_id) or self.remote.get(device_id)
        order = link.order if link is not None else None
        if order is not None and order.repeat == "NextCall" and order.attached is None:
            order.used = True  # another node took the one call
            self._drop_order(order.link)

    async def device_states(self, auth: AuthContext) -> list[dict[str, Any]]:
        """The caller's connected web phones (on any node) as Genesys device states."""
        links: list[DeviceLink] = [
            link
            for link in self.devices.values()
            if link.owner.id == auth.extension_id and link.device.account_id == auth.account_id
        ]
        if self.cluster is not None:
            mine, _ = await self.directory.list_devices(
                auth.account_id, auth.extension_id, types=["WebPhone"], limit=1000
            )
            for device in mine:
                if device.id not in self.devices:
                    remote = await self._remote_link(device)
                    if remote is not None:
                        links.append(remote)
        return [link.state()["devices"][0] for link in links]

    async def node_died(self, node: str) -> None:
        """Another node died: its web phones stop supervising calls here; devices here that
        supervised its calls are told."""
        for link in [r for r in self.remote.values() if r.node == node]:
            await self.disconnect(link)
        for local in self.devices.values():
            if node in local.remote_nodes:
                local.remote_nodes.discard(node)
                local.send_json(
                    {
                        "type": "Notice",
                        "message": f"node {node}, which carried calls you supervised, stopped: "
                        "those calls ended",
                    }
                )
                self._push_state(local)

    async def _remote_link(self, device: Device) -> RemoteDeviceLink | None:
        """The web phone, Online on another live node, as a link of this one."""
        cluster = self.cluster
        if cluster is None or device.type != "WebPhone" or device.status != "Online":
            return None
        node = device.node_id
        if node is None or node == cluster.node_id or node not in cluster.alive:
            return None
        link = self.remote.get(device.id)
        if link is not None and link.node == node:
            return link
        if link is not None:
            await self.disconnect(link)  # it reconnected elsewhere
        owner = await self.directory.get_extension(device.account_id, device.extension_id)
        if owner is None:
            return None
        link = RemoteDeviceLink(device, owner, node, self)
        self.remote[device.id] = link
        link.start()
        return link

    # -- devices ---------------------------------------------------------------------------

    async def open_device(
        self, auth: AuthContext, device_id: str | None, name: str | None
    ) -> tuple[Device, Extension]:
        """The web-phone device a connecting supervisor gets: the one named, else one of
        theirs that is not connected, else a new one."""
        owner = await self.directory.get_extension(auth.account_id, auth.extension_id)
        if owner is None:
            raise SupervisionRefused(404, "CMN-102", "Your extension no longer exists")
        if device_id:
            if not device_id.isdigit() or len(device_id) > 18:
                raise SupervisionRefused(
                    400, "CMN-101", "deviceId must be digits", "deviceId", device_id
                )
            device = await self.directory.get_device(auth.account_id, int(device_id))
            if device is None or device.extension_id != auth.extension_id:
                raise SupervisionRefused(
                    404,
                    "CMN-102",
                    "Resource for parameter [deviceId] is not found",
                    "deviceId",
                    device_id,
                )
            if device.type != "WebPhone":
                raise SupervisionRefused(
                    400,
                    "CMN-101",
                    f"Device {device_id} is a {device.type}, not a WebPhone",
                    "deviceId",
                    device_id,
                )
            if device.id in self.devices or device.status == "Online":
                raise SupervisionRefused(
                    409,
                    "CMN-409",
                    f"Device {device_id} is already connected",
                    "deviceId",
                    device_id,
                )
        else:
            mine, _ = await self.directory.list_devices(
                auth.account_id, auth.extension_id, types=["WebPhone"], limit=1000
            )
            free = [d for d in mine if d.id not in self.devices and d.status != "Online"]
            if free:
                device = free[0]
            else:
                device = await self.identity.create_device(
                    auth.account_id,
                    auth.extension_id,
                    type="WebPhone",
                    name=(name or f"{owner.name} web phone")[:200],
                )
        return device, owner

    async def connect(
        self,
        device: Device,
        owner: Extension,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None = None,
    ) -> DeviceLink:
        if not await self.directory.set_device_status(device.id, "Online", self.node_id):
            raise SupervisionRefused(
                409, "CMN-409", f"Device {device.id} is already connected", "deviceId"
            )
        link = DeviceLink(device, owner, ws, self, queue_frames=self.queue_frames)
        link.transport = transport
        self.devices[device.id] = link
        link.start()
        device.status = "Online"
        link.send_json(
            {
                "type": "DeviceConnected",
                "deviceId": str(device.id),
                "extensionId": str(owner.id),
                "audio": {
                    "encoding": "pcm_s16le",
                    "sampleRateHertz": 8000,
                    "channels": 1,
                    "frameMs": 20,
                    "header": "<BBHI kind, channel, stream, frame",
                },
            }
        )
        self._push_state(link)
        logger.info("web phone %s of extension %s online", device.id, owner.extension_number)
        return link

    async def disconnect(self, link: DeviceLink) -> None:
        """The device went away: its supervisions end, its order is cancelled, it is Offline."""
        if isinstance(link, RemoteDeviceLink):
            if self.remote.get(link.id) is link:
                del self.remote[link.id]
                for sup in list(link.supervisions.values()):
                    self._end(sup, "device disconnected", party_reason="CallDropped")
                self._drop_order(link)
                await link.stop()
            return
        if self.devices.get(link.id) is not link:
            return
        del self.devices[link.id]  # first: a second caller (shutdown, the socket) stops here
        if self.cluster is not None:
            # every node: those carrying its supervisions and those holding its order
            self.cluster.broadcast(DEV_GONE, link.prefix)
        for sup in list(link.supervisions.values()):
            self._end(sup, "device disconnected", party_reason="CallDropped")
        self._drop_order(link)
        await link.stop()
        self._dropped_closed += link.dropped
        with contextlib.suppress(Exception):
            await self.directory.set_device_status(link.id, "Offline")
        self._push_state(link)
        logger.info("web phone %s offline", link.id)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._close_all(b"server shutting down")

    async def fence(self, reason: str) -> None:
        """This node was cut off from its cluster: its web phones are closed (1001, to
        connect to another node) and Offline, the supervisions they held end, and web phones
        of other nodes let go of this node's calls; new web phones are refused until
        :meth:`unfence`."""
        self.fenced = reason
        await self._close_all(b"node cut off from its cluster: reconnect")

    def unfence(self) -> None:
        self.fenced = None

    async def _close_all(self, why: bytes) -> None:
        async def close(link: DeviceLink) -> None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                if link.ws is not None:
                    await link.ws.close(code=1001, message=why)
            await self.disconnect(link)

        # Together: a device that stopped reading holds its close for the close timeout.
        await asyncio.gather(*(close(link) for link in list(self.devices.values())))
        for remote in list(self.remote.values()):
            await self.disconnect(remote)

    def _push_state(self, link: DeviceLink) -> None:
        """DeviceStateChangeMessage to the device and, durably, to its owner's subscriptions."""
        state = link.state()
        link.send_json({"data": state, "channel": DEVICE_CHANNEL})
        self.rows.write(
            [
                OutboxEvent(
                    account_id=link.device.account_id,
                    kind=EventKind.DEVICE,
                    extension_id=link.owner.id,
                    payload=state,
                    created_at=utcnow(),
                )
            ]
        )

    # -- checks ----------------------------------------------------------------------------

    def live_call(self, account_id: str, session_id: str) -> LiveCall:
        call_id = call_id_of(session_id)
        call = self.live_calls.get(call_id)
        if (
            call is None
            or call.session is None
            or call.finished
            or call.session.account_id != account_id
            or not call.authenticated  # a stream that proved no account is never supervised
        ):
            raise SupervisionRefused(
                404,
                "CMN-102",
                "Resource for parameter [telephonySessionId] is not found (or the call has ended)",
                "telephonySessionId",
                session_id[:64],
            )
        return call

    async def device_for(self, auth: AuthContext, raw: Any, parameter: str) -> DeviceLink:
        """A connected web phone the caller may use: their own (an admin: anyone's)."""
        text = str(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
        if not text.isdigit() or len(text) > 18:
            raise SupervisionRefused(
                400, "CMN-101", f"Parameter [{parameter}] value is invalid", parameter, raw
            )
        device = await self.directory.get_device(auth.account_id, int(text))
        if device is None:
            raise SupervisionRefused(
                400,
                "CMN-102",
                f"Resource for parameter [{parameter}] is not found",
                parameter,
                text,
            )
        if device.extension_id != auth.extension_id and not auth.admin:
            raise SupervisionRefused(
                403, "CMN-404", f"Device {text} belongs to another extension", parameter, text
            )
        link = self.devices.get(device.id) or await self._remote_link(device)
        if link is None:
            hint = (
                "connect it at /supervision/device"
                if device.type == "WebPhone"
                else "callscope delivers supervision audio to WebPhone devices; connect one at "
                "/supervision/device"
            )
            raise SupervisionRefused(
                400, "CMN-101", f"Device {text} is Offline: {hint}", parameter, text
            )
        return link

    async def check_policy(self, supervisor: Extension, agent: Extension) -> None:
        if not await self.directory.may_monitor(supervisor.id, agent.id):
            raise SupervisionRefused(
                403,
                "CMN-408",
                f"[CallMonitoring] permission required: extension {supervisor.extension_number} "
                f"is not Monitoring and {agent.extension_number} Monitored in a common call "
                "monitoring group",
            )

    # -- supervise (RingCentral) -----------------------------------------------------------

    async def supervise(
        self,
        auth: AuthContext,
        session_id: str,
        party_id: str | None,
        mode: Mode,
        device_raw: Any,
        agent: Extension,
    ) -> tuple[dict[str, Any], bool]:
        """Start (or change the mode of) a supervision. Returns the supervisor party and
        whether it is new."""
        call = self.live_call(auth.account_id, session_id)
        link = await self.device_for(auth, device_raw, "supervisorDeviceId")
        await self.check_policy(link.owner, agent)
        # Everything below runs without awaiting: the checks and the change are one step.
        call = self.live_call(auth.account_id, session_id)
        live = call.session
        assert live is not None
        if live.agent_extension != agent.id:
            raise SupervisionRefused(
                400,
                "CMN-101",
                f"Extension {agent.extension_number} is not the agent of this call",
                "agentExtensionId",
                str(agent.id),
            )
        channel = CHANNEL_MIXED
        if party_id is not None:
            status = live.party_status.get(party_id)
            view = live.parties.get(party_id)
            if status is None or view is None or status in ("Disconnected", "Gone"):
                raise _no_party(party_id)
            if party_id == live.agent_party:
                channel = CHANNEL_AGENT
            elif party_id == party_ids(live.call_id)[0]:
                channel = CHANNEL_CUSTOMER
            else:
                raise SupervisionRefused(
                    400,
                    "CMN-101",
                    "Only the agent and customer parties can be supervised",
                    "partyId",
                    party_id,
                )
        if mode is not Mode.LISTEN and call.talkback is None:
            raise _one_way(mode)
        sup = self.by_call.get(call.call_id or "")
        if sup is not None:
            if sup.link.owner.id != link.owner.id:
                raise SupervisionRefused(
                    409,
                    "CMN-409",
                    f"The call is supervised by extension {sup.link.owner.extension_number}: "
                    "one supervisor per call",
                    "telephonySessionId",
                    session_id,
                )
            if sup.link is not link:
                raise SupervisionRefused(
                    409,
                    "CMN-409",
                    f"You supervise this call on device {sup.link.id}: one device per call",
                    "supervisorDeviceId",
                    str(link.id),
                )
            same = next((s for s in sup.streams if s.target_party == party_id), None)
            if same is not None:
                self.set_mode(sup, mode)
                return self._party_view(sup, same), False
        else:
            sup = self._begin(call, link, mode, None)
        stream = self._add_stream(sup, channel, party_id, agent)
        if sup.mode is not mode:
            self.set_mode(sup, mode)
        view = self._party_view(sup, stream)
        if stream.committed is not None:
            await stream.committed  # a GET of the session right after shows the party
        return view, True

    def _party_view(self, sup: Supervision, stream: Stream) -> dict[str, Any]:
        live = sup.call.session
        assert live is not None
        view = live.parties[stream.supervisor_party]
        return {k: v for k, v in view.items() if k not in ("recordings", "missedCall", "park")}

    async def leave(self, auth: AuthContext, session_id: str, party_id: str) -> None:
        """``DELETE …/parties/{supervisorPartyId}``: that stream ends (the last one ends the
        supervision)."""
        call = self.live_call(auth.account_id, session_id)
        sup = self.by_call.get(call.call_id or "")
        stream = (
            next((s for s in sup.streams if s.supervisor_party == party_id), None) if sup else None
        )
        if sup is None or stream is None:
            live = call.session
            if live is not None and party_id in live.parties:
                raise SupervisionRefused(
                    403,
                    "CMN-101",
                    "Only a supervisor party can be dropped: callscope does not carry the call",
                    "partyId",
                    party_id,
                )
            raise _no_party(party_id)
        if sup.link.owner.id != auth.extension_id and not auth.admin:
            raise SupervisionRefused(
                403, "CMN-404", "This supervisor party belongs to another extension"
            )
        if len(sup.streams) == 1:
            commits = self._end(sup, "supervisor left", party_reason="CallFinished")
        else:
            commits = [self._remove_stream(sup, stream, "supervisor left")]
        await asyncio.gather(*(c for c in commits if c is not None))

    # -- the supervision itself ------------------------------------------------------------

    def _begin(
        self, call: LiveCall, link: DeviceLink, mode: Mode, order: MonitoringOrder | None
    ) -> Supervision:
        sup = Supervision(self, call, link, mode, order=order)
        assert call.call_id is not None
        self.by_call[call.call_id] = sup
        link.supervisions[call.call_id] = sup
        call.media.sinks.append(sup.tap)
        if isinstance(link, RemoteDeviceLink) and self.cluster is not None:
            self.cluster.send(link.node, DEV_HOLD, link.prefix)
        if order is None:
            self._push_state(link)
        return sup

    def _add_stream(
        self, sup: Supervision, channel: int, party_id: str | None, agent: Extension | None
    ) -> Stream:
        live = sup.call.session
        assert live is not None
        view, committed = self.telephony.add_supervisor(live, sup.link.owner, sup.link.id, agent)
        stream = Stream(sup.link.new_stream_id(), channel, party_id, view["id"], sup, committed)
        sup.streams.append(stream)
        sup.link.streams[stream.id] = stream
        sup.link.send_json(self._stream_message("StreamStarted", sup, stream))
        logger.info(
            "extension %s supervises call %s (%s, %s) on device %s",
            sup.link.owner.extension_number,
            sup.call_id,
            CHANNEL_NAMES[channel],
            sup.mode,
            sup.link.id,
        )
        return stream

    def _stream_message(
        self, kind: str, sup: Supervision, stream: Stream, **extra: Any
    ) -> dict[str, Any]:
        live = sup.call.session
        return {
            "type": kind,
            "stream": stream.id,
            "telephonySessionId": live.session_id if live else None,
            "callId": sup.call_id,
            "partyId": stream.target_party,
            "channel": CHANNEL_NAMES[stream.channel],
            "supervisorPartyId": stream.supervisor_party,
            "mode": str(sup.mode),
            "twoWay": sup.two_way,
            **extra,
        }

    def _remove_stream(
        self, sup: Supervision, stream: Stream, reason: str, party_reason: str = "CallFinished"
    ) -> asyncio.Future[None] | None:
        sup.streams.remove(stream)
        sup.link.streams.pop(stream.id, None)
        sup.link.send_json(self._stream_message("StreamEnded", sup, stream, reason=reason))
        if sup.call.session is not None and not sup.call.finished:
            return self.telephony.remove_party(
                sup.call.session, stream.supervisor_party, party_reason
            )
        return None

    def _end(
        self, sup: Supervision, reason: str, *, party_reason: str = "CallFinished"
    ) -> list[asyncio.Future[None] | None]:
        """Stop supervising the call: streams end, the supervisor parties leave. Returns the
        commits of those changes."""
        if self.by_call.get(sup.call_id) is not sup:
            return []
        del self.by_call[sup.call_id]
        sup.link.supervisions.pop(sup.call_id, None)
        link = sup.link
        if isinstance(link, RemoteDeviceLink) and not link.supervisions and self.cluster:
            self.cluster.send(link.node, DEV_RELEASE, link.prefix)
        with contextlib.suppress(ValueError):
            sup.call.media.sinks.remove(sup.tap)
        commits = [
            self._remove_stream(sup, stream, reason, party_reason) for stream in sup.streams[:]
        ]
        self._close_feed(sup)
        if sup.mode is not Mode.LISTEN and sup.call.talkback is not None and not sup.call.finished:
            self._spawn(sup.call.talkback.clear())
        logger.info(
            "call %s: supervision by device %s ended (%s)", sup.call_id, sup.link.id, reason
        )
        order = sup.order
        if order is not None and order.attached is sup:
            order.attached = None
            if order.repeat == "NextCall" and order.used:
                self._drop_order(order.link)
            self._push_state(order.link)
        elif order is None and (
            self.devices.get(sup.link.id) is sup.link or self.remote.get(sup.link.id) is sup.link
        ):
            self._push_state(sup.link)
        return commits

    def set_mode(self, sup: Supervision, mode: Mode) -> None:
        """Listen ↔ Coach ↔ Barge on a live supervision; the audio streams go on."""
        if mode is sup.mode:
            return
        if mode is not Mode.LISTEN and not sup.two_way:
            raise _one_way(mode)
        old = sup.mode
        sup.mode = mode
        if mode is Mode.BARGE:
            self._open_feed(sup)
        elif old is Mode.BARGE:
            self._close_feed(sup)
        if mode is Mode.LISTEN and sup.call.talkback is not None:
            self._spawn(sup.call.talkback.clear())
        live = sup.call.session
        sup.link.send_json(
            {
                "type": "ModeChanged",
                "telephonySessionId": live.session_id if live else None,
                "callId": sup.call_id,
                "mode": str(mode),
                "streams": [s.id for s in sup.streams],
            }
        )
        if sup.order is None:
            self._push_state(sup.link)

    def _open_feed(self, sup: Supervision) -> None:
        """A barging supervisor is a speaker of the call: transcribed on a channel of its own."""
        if self.transcripts is None or sup.feed is not None or not sup.streams:
            return
        transcript = self.transcripts.get(sup.call_id)
        if transcript is not None and not transcript.ended:
            party = sup.streams[0].supervisor_party if sup.streams else None
            sup.feed = transcript.add_party("supervisor", party)

    def _close_feed(self, sup: Supervision) -> None:
        if sup.feed is not None:
            sup.feed.end()
            sup.feed = None

    async def microphone(self, link: DeviceLink, frame: MicFrame, raw: bytes = b"") -> int:
        """Microphone audio from a device into every call it coaches or barges into (or the
        one call of ``frame.stream``), here and, as ``raw``, on the nodes carrying the calls
        it supervises there. Returns how many calls here it reached."""
        if raw and link.remote_nodes and self.cluster is not None:
            for node in link.remote_nodes:
                self.cluster.send(node, DEV_MIC, link.prefix + raw)
        targets: Iterable[Supervision]
        if frame.stream:
            stream = link.streams.get(frame.stream)
            targets = [stream.supervision] if stream is not None else []
        else:
            targets = list(link.supervisions.values())
        samples = np.frombuffer(frame.pcm, dtype="<i2")
        ulaw = lin2ulaw(samples)
        reached = 0
        for sup in targets:
            tracks = TALK_TRACKS[sup.mode]
            talkback = sup.call.talkback
            if not tracks or talkback is None:
                link.mic_ignored += frame.frames
                continue
            if sup.feed is None and sup.mode is Mode.BARGE:
                self._open_feed(sup)
            if sup.feed is not None:
                sup.feed.push(frame.pcm, sup.call.media.written_frames, frame.frames)
            for i in range(frame.frames):
                if not await talkback.media(tracks, ulaw[i * 160 : (i + 1) * 160]):
                    break
            self.talk_frames.inc(frame.frames, mode=str(sup.mode))
            reached += 1
        return reached

    # -- monitoring orders (Genesys) -------------------------------------------------------

    async def operate(
        self,
        auth: AuthContext,
        device_raw: str,
        operation: str,
        *,
        target: Extension | None,
        target_device_uri: str | None,
        repeat: str,
        scope: str,
    ) -> None:
        link = await self.device_for(auth, device_raw, "id")
        if link.owner.id != auth.extension_id:
            raise SupervisionRefused(
                404, "CMN-102", "Resource for parameter [id] is not found", "id", device_raw
            )
        if operation == "CancelSupervisorMonitoring":
            commits = self._drop_order(link)
            commits += [
                c
                for sup in list(link.supervisions.values())
                for c in self._end(sup, "monitoring cancelled", party_reason="CallFinished")
            ]
            self._push_state(link)
            self._share_order(link, operation)
            await asyncio.gather(*(c for c in commits if c is not None))
            return
        assert target is not None
        mode = MODE_BY_OPERATION[operation]
        await self.check_policy(link.owner, target)
        order = link.order
        current = self._current_call(target.id)
        if order is not None and order.agent.id == target.id:
            if order.attached is not None:
                self.set_mode(order.attached, mode)  # refuses Coach/Barge on a one-way call
        elif mode is not Mode.LISTEN and current is not None and current.talkback is None:
            held = self.by_call.get(current.call_id or "")
            if held is None or held.link is link:
                raise _one_way(mode)
        # NextCall counts from now
        self._arm(link, target, mode, repeat, scope, target_device_uri, used=False, current=current)
        self._push_state(link)
        self._share_order(link, operation)

    def _arm(
        self,
        link: DeviceLink,
        agent: Extension,
        mode: Mode,
        repeat: str,
        scope: str,
        target_device_uri: str | None,
        *,
        used: bool,
        current: LiveCall | None,
    ) -> bool:
        """Arm ``link`` on ``agent`` (or change the order it has on that agent) and pick up
        the agent's ``current`` call here if the order is free. Returns whether it did."""
        order = link.order
        if order is not None and order.agent.id == agent.id:
            order.mode, order.repeat, order.scope = mode, repeat, scope
            order.target_device_uri = target_device_uri or order.target_device_uri
            order.used = used or order.attached is not None
        else:
            self._drop_order(link)
            order = MonitoringOrder(link, agent, mode, repeat, scope, target_device_uri, used=used)
            link.order = order
            self.orders.setdefault(agent.id, []).append(order)
        return order.attached is None and current is not None and self._attach(order, current)

    def _current_call(self, agent_id: int) -> LiveCall | None:
        for call in self.live_calls.values():
            if (
                call.session is not None
                and not call.finished
                and call.authenticated
                and call.session.agent_extension == agent_id
            ):
                return call
        return None

    def _drop_order(self, link: DeviceLink) -> list[asyncio.Future[None] | None]:
        order = link.order
        if order is None:
            return []
        link.order = None
        orders = self.orders.get(order.agent.id, [])
        if order in orders:
            orders.remove(order)
        if not orders:
            self.orders.pop(order.agent.id, None)
        sup = order.attached
        order.attached = None
        if sup is not None:
            sup.order = None
            return self._end(sup, "monitoring cancelled")
        return []

    def _attach(self, order: MonitoringOrder, call: LiveCall) -> bool:
        """Pick up ``call`` for an armed order (no await: checks and change in one step)."""
        if (
            call.finished
            or call.session is None
            or order.link.order is not order
            or not order.link.online
        ):
            return False
        if order.repeat == "NextCall" and order.used:
            return False
        existing = self.by_call.get(call.call_id or "")
        sup: Supervision
        if existing is not None:
            if existing.link is not order.link:
                return False
            sup = existing  # the device already supervises it (a REST supervise): adopt it
            sup.order = order
        else:
            mode = order.mode if call.talkback is not None else Mode.LISTEN
            if mode is not order.mode:
                order.link.send_json(
                    {
                        "type": "Notice",
                        "message": f"call {call.call_id} streams one-way: listening only",
                    }
                )
            sup = self._begin(call, order.link, mode, order)
            self._add_stream(sup, CHANNEL_MIXED, None, order.agent)
        if sup.mode is not order.mode and call.talkback is not None:
            self.set_mode(sup, order.mode)
        order.attached = sup
        order.used = True
        if order.repeat == "NextCall" and self.cluster is not None:
            self.cluster.broadcast(ORDER_USED, order.link.prefix)
        return True

    async def _attach_orders(self, call: LiveCall) -> None:
        live = call.session
        if live is None or live.agent_extension is None:
            return
        for order in list(self.orders.get(live.agent_extension, [])):
            if call.call_id in self.by_call or call.finished:
                return
            if order.attached is not None or (order.repeat == "NextCall" and order.used):
                continue
            # Group membership may have changed since the order was armed.
            if not await self.directory.may_monitor(order.link.owner.id, order.agent.id):
                order.link.send_json(
                    {"type": "Notice", "message": "no longer allowed to monitor this agent"}
                )
                continue
            if self._attach(order, call):
                self._push_state(order.link)
                return

    # -- call life (ingest hooks) ----------------------------------------------------------

    def call_started(self, call: LiveCall) -> None:
        live = call.session
        if not call.authenticated:
            return  # no monitoring order attaches to a stream that proved no account
        if live is not None and live.agent_extension in self.orders:
            self._spawn(self._attach_orders(call))

    def call_ended(self, call: LiveCall) -> None:
        sup = self.by_call.get(call.call_id or "")
        if sup is not None:
            # The call is finished: the session's close() disconnects the supervisor parties
            # with everyone else, so _end only tells the device and releases the order.
            self._end(sup, "call ended")

    async def call_transferred(self, call: LiveCall, old_agent: int | None) -> None:
        live = call.session
        if live is None or not call.authenticated:
            return
        new_agent = live.agent_extension
        sup = self.by_call.get(call.call_id or "")
        if sup is not None:
            order = sup.order
            if order is not None and order.scope == "Agent":
                self._end(sup, "the agent transferred the call (Agent scope)")
            elif new_agent is None or not await self.directory.may_monitor(
                sup.link.owner.id, new_agent
            ):
                self._end(sup, "not allowed to monitor the agent the call was transferred to")
            else:
                for stream in sup.streams:
                    if stream.channel == CHANNEL_AGENT:
                        stream.target_party = live.agent_party
                    sup.link.send_json(
                        self._stream_message(
                            "StreamTransferred", sup, stream, agentExtensionId=str(new_agent)
                        )
                    )
                if order is not None:
                    self._push_state(order.link)
        if call.call_id not in self.by_call and new_agent in self.orders:
            await self._attach_orders(call)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def target_device_id(uri: str) -> str | None:
    """The device id at the end of a Genesys ``targetDeviceUri`` (``…/devices/{id}``)."""
    path = urlsplit(uri).path.rstrip("/")
    head, _, last = path.rpartition("/")
    if not head.endswith("/devices") or not last:
        return None
    return last
