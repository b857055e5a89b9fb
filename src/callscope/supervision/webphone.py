"""The web-phone wire protocol, both ways (server and client side), sans-I/O.

Text frames are JSON control messages (the device side reads them typed:
:func:`parse_control`). Server → device: ``DeviceConnected``,
``StreamStarted`` / ``StreamEnded`` / ``StreamTransferred`` (one per stream), ``ModeChanged``,
``Notice``, ``Error``, ``Pong`` and, on channel ``/v2/me/devices``, the Genesys
``DeviceStateChangeMessage``. Device → server: ``{"type": "Ping"}`` only.

Binary frames are audio; both directions use one layout (little-endian)::

    offset size field
    0      1    kind     1 = call audio to the device, 2 = microphone audio from the device
    1      1    channel  kind 1: 0 both parties mixed, 1 agent, 2 customer; kind 2: 0
    2      2    stream   kind 1: the stream announced by StreamStarted; kind 2: 0 = every
                         call this device is coaching or barging into, else that stream's call
    4      4    frame    kind 1: 20 ms frame number since the call started; kind 2: any counter
    8      …    PCM      signed 16-bit little-endian mono samples at 8000 Hz; kind 1 always
                         160 samples (20 ms); kind 2 a whole number of 20 ms frames, ≤ 100 ms
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson

from callscope.supervision.model import Channel, Stream, Supervision, SupervisionMode

__all__ = [
    "AUDIO_FORMAT",
    "CHANNEL_AGENT",
    "CHANNEL_CUSTOMER",
    "CHANNEL_MIXED",
    "FRAME_BYTES",
    "HEADER",
    "KIND_LISTEN",
    "KIND_MIC",
    "MAX_MIC_BYTES",
    "STATE_CHANNEL",
    "STREAM_EVENTS",
    "Control",
    "DeviceState",
    "ListenFrame",
    "MicFrame",
    "StreamEvent",
    "WebPhoneClient",
    "channel_pcm",
    "device_connected",
    "error",
    "listen_frame",
    "mic_frame",
    "mode_changed",
    "notice",
    "parse_control",
    "parse_device_text",
    "parse_listen",
    "parse_mic",
    "state_message",
    "stream_message",
]

HEADER: Final = struct.Struct("<BBHI")
KIND_LISTEN: Final = 1
KIND_MIC: Final = 2
CHANNEL_MIXED, CHANNEL_AGENT, CHANNEL_CUSTOMER = Channel.MIXED, Channel.AGENT, Channel.CUSTOMER
FRAME_BYTES: Final = 320  # 20 ms of 8 kHz PCM16
MAX_MIC_BYTES: Final = 5 * FRAME_BYTES
#: the channel of Genesys device state pushes on the socket (and in subscriptions)
STATE_CHANNEL: Final = "/v2/me/devices"
AUDIO_FORMAT: Final = {
    "encoding": "pcm_s16le",
    "sampleRateHertz": 8000,
    "channels": 1,
    "frameMs": 20,
    "header": "<BBHI kind, channel, stream, frame",
}


@dataclass(frozen=True, slots=True)
class MicFrame:
    stream: int
    pcm: bytes

    @property
    def frames(self) -> int:
        return len(self.pcm) // FRAME_BYTES


def parse_mic(data: bytes) -> MicFrame:
    """A microphone frame from a device.

    Raises:
        ValueError: not a kind-2 frame of whole 20 ms PCM16 frames (the message says why).
    """
    if len(data) < HEADER.size:
        raise ValueError(f"frame of {len(data)} bytes is shorter than the 8-byte header")
    kind, _channel, stream, _n = HEADER.unpack_from(data)
    if kind != KIND_MIC:
        raise ValueError(f"kind {kind}: a device sends kind 2 (microphone) frames only")
    pcm = data[HEADER.size :]
    if not pcm or len(pcm) % FRAME_BYTES or len(pcm) > MAX_MIC_BYTES:
        raise ValueError(
            f"{len(pcm)} bytes of audio: send 1 to 5 whole 20 ms frames of 8 kHz PCM16 "
            f"({FRAME_BYTES} bytes each)"
        )
    return MicFrame(stream, pcm)


def channel_pcm(interleaved: npt.NDArray[np.int16], channel: int) -> bytes:
    """One channel of a call's stereo block (agent, customer) or both mixed (summed, clipped)."""
    if channel == CHANNEL_AGENT:
        return interleaved[0::2].tobytes()
    if channel == CHANNEL_CUSTOMER:
        return interleaved[1::2].tobytes()
    mixed = interleaved[0::2].astype(np.int32) + interleaved[1::2]
    out: bytes = np.clip(mixed, -32768, 32767).astype("<i2").tobytes()
    return out


@dataclass(frozen=True, slots=True)
class ListenFrame:
    """20 ms of call audio as a device receives it."""

    channel: int
    stream: int
    frame: int
    pcm: bytes


def listen_frame(channel: int, stream: int, frame: int, pcm: bytes) -> bytes:
    """A kind-1 frame (server → device)."""
    return HEADER.pack(KIND_LISTEN, channel, stream, frame & 0xFFFFFFFF) + pcm


def parse_listen(data: bytes) -> ListenFrame:
    """A call-audio frame, as a device reads it.

    Raises:
        ValueError: not a kind-1 frame.
    """
    if len(data) < HEADER.size:
        raise ValueError(f"frame of {len(data)} bytes is shorter than the 8-byte header")
    kind, channel, stream, frame = HEADER.unpack_from(data)
    if kind != KIND_LISTEN:
        raise ValueError(f"kind {kind}: the server sends kind 1 (listen) frames only")
    return ListenFrame(channel, stream, frame, data[HEADER.size :])


def mic_frame(pcm: bytes, *, stream: int = 0, counter: int = 0) -> bytes:
    """A kind-2 frame (device → server): ``stream`` 0 talks into every call the device
    coaches or barges into."""
    return HEADER.pack(KIND_MIC, 0, stream, counter & 0xFFFFFFFF) + pcm


# -- control messages (server → device) ------------------------------------------------------


def device_connected(device_id: int, extension_id: int) -> dict[str, Any]:
    return {
        "type": "DeviceConnected",
        "deviceId": str(device_id),
        "extensionId": str(extension_id),
        "audio": AUDIO_FORMAT,
    }


def stream_message(kind: str, stream: Stream, **extra: Any) -> dict[str, Any]:
    """``StreamStarted`` / ``StreamEnded`` / ``StreamTransferred`` for one stream."""
    sup = stream.supervision
    agent = sup.call.agent_extension
    return {
        "type": kind,
        "stream": stream.id,
        "telephonySessionId": sup.call.session_id,
        "callId": sup.call_id,
        "partyId": stream.target_party,
        "channel": Channel(stream.channel).wire_name,
        "supervisorPartyId": stream.supervisor_party,
        "mode": str(sup.mode),
        "twoWay": sup.two_way,
        "agentExtensionId": str(agent) if agent is not None else None,  # its agent now
        **extra,
    }


def mode_changed(sup: Supervision) -> dict[str, Any]:
    return {
        "type": "ModeChanged",
        "telephonySessionId": sup.call.session_id,
        "callId": sup.call_id,
        "mode": str(sup.mode),
        "streams": [s.id for s in sup.streams],
    }


def notice(message: str) -> dict[str, Any]:
    return {"type": "Notice", "message": message}


def error(message: str, count: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Error", "message": message}
    if count is not None:
        out["count"] = count
    return out


def state_message(state: dict[str, Any]) -> dict[str, Any]:
    return {"data": state, "channel": STATE_CHANNEL}


# -- control messages (device → server) ------------------------------------------------------


def parse_device_text(data: str | bytes) -> str:
    """A text message from a device: only ``{"type": "Ping"}`` (answered ``Pong``).

    Raises:
        ValueError: anything else (the message says what a device may send).
    """
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        message = None
    if not isinstance(message, dict) or message.get("type") != "Ping":
        raise ValueError('text messages: only {"type": "Ping"}; audio goes in binary frames')
    return "Ping"


# -- the device side: typed control messages -------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """``StreamStarted`` / ``StreamEnded`` / ``StreamTransferred`` as a device reads it."""

    kind: str
    stream: int
    call_id: str
    session_id: str | None
    party_id: str | None
    channel: Channel
    supervisor_party_id: str
    mode: SupervisionMode
    two_way: bool
    reason: str | None = None
    agent_extension_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceState:
    """A Genesys ``DeviceStateChangeMessage`` for the device (its first ``devices`` entry)."""

    state: str  # Active | Inactive
    capabilities: tuple[str, ...]
    monitoring: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Control:
    """Any other control message: its ``type`` and body."""

    kind: str
    body: dict[str, Any]


STREAM_EVENTS: Final = ("StreamStarted", "StreamEnded", "StreamTransferred")


def parse_control(message: dict[str, Any]) -> StreamEvent | DeviceState | Control:
    """A server control message, typed.

    Raises:
        ValueError: a stream or state message missing a field it always carries.
    """
    try:
        if message.get("channel") == STATE_CHANNEL:
            dev = message["data"]["devices"][0]
            return DeviceState(
                dev["deviceState"],
                tuple(dev["capabilities"]),
                dev.get("supervisorMonitoringState"),
            )
        kind = str(message.get("type"))
        if kind not in STREAM_EVENTS:
            return Control(kind, message)
        return StreamEvent(
            kind=kind,
            stream=int(message["stream"]),
            call_id=str(message["callId"]),
            session_id=message.get("telephonySessionId"),
            party_id=message.get("partyId"),
            channel=Channel[str(message["channel"]).upper()],
            supervisor_party_id=str(message["supervisorPartyId"]),
            mode=SupervisionMode(message["mode"]),
            two_way=bool(message["twoWay"]),
            reason=message.get("reason"),
            agent_extension_id=message.get("agentExtensionId"),
        )
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"control message without {exc}: {str(message)[:200]}") from exc


# -- the device side -------------------------------------------------------------------------


@dataclass
class WebPhoneClient:
    """A device's view of its socket, sans-I/O: feed it what arrives, read what it holds.

    Used by tests and ``bench/listen.py``; a real client adds the socket around it.
    """

    messages: list[dict[str, Any]] = field(default_factory=list)
    #: the stream events received, typed (stream id → its last event)
    streams: dict[int, StreamEvent] = field(default_factory=dict)
    #: stream id → frame number → PCM16 bytes
    audio: dict[int, dict[int, bytes]] = field(default_factory=dict)
    frames: int = 0
    keep_audio: bool = True

    def receive_text(self, data: str | bytes) -> dict[str, Any]:
        message: dict[str, Any] = orjson.loads(data)
        self.messages.append(message)
        if message.get("type") in STREAM_EVENTS:
            event = parse_control(message)
            assert isinstance(event, StreamEvent)
            self.streams[event.stream] = event
        return message

    def receive_bytes(self, data: bytes) -> ListenFrame:
        frame = parse_listen(data)
        self.frames += 1
        if self.keep_audio:
            self.audio.setdefault(frame.stream, {})[frame.frame] = frame.pcm
        return frame

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def first(self, kind: str) -> dict[str, Any] | None:
        found = self.of(kind)
        return found[0] if found else None

    def states(self) -> list[dict[str, Any]]:
        """Every device state pushed, oldest first."""
        return [m["data"]["devices"][0] for m in self.messages if m.get("channel") == STATE_CHANNEL]

    @staticmethod
    def ping() -> str:
        return '{"type":"Ping"}'
