"""RingCX gRPC streaming's events and audio formats as callscope types (spec §11.4).

The typed side of :mod:`callscope.protocols.ringcx_grpc` (split from it, #19): the enums
and formats the wire's numbers map to, the events :class:`~callscope.protocols.ringcx_grpc.
DialogReceiver` returns, and the per-segment :class:`Track` stored with a call. No I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from callscope.media.dialog_mixer import SegmentCounters
from callscope.media.g711 import alaw2lin_bytes, ulaw2lin_bytes
from callscope.protocols import ringcx_streaming_pb2 as pb

__all__ = [
    "ACCEPTED_RATE_HZ",
    "CODECS",
    "DECODERS",
    "DEFAULT_FORMAT",
    "DIRECTIONS",
    "MIN_PTIME_MS",
    "PARTICIPANT_TYPES",
    "PRODUCT_TYPES",
    "REFUSED_CODECS",
    "AudioCodec",
    "AudioFormat",
    "DialogDirection",
    "DialogEvent",
    "DialogStarted",
    "DialogState",
    "Malformed",
    "ParticipantType",
    "ProductType",
    "SegmentHeld",
    "SegmentInfo",
    "SegmentResumed",
    "SegmentStarted",
    "SegmentStopped",
    "Track",
    "decode_l16_be",
]

ACCEPTED_RATE_HZ: Final = 8000
MIN_PTIME_MS: Final = 10


class DialogState(enum.Enum):
    """Lifecycle of one ``Stream`` call as the receiver sees it."""

    AWAITING_INIT = "awaiting_init"
    STREAMING = "streaming"
    REFUSED = "refused"
    FINISHED = "finished"


class ParticipantType(enum.StrEnum):
    CONTACT = "CONTACT"
    AGENT = "AGENT"
    BOT = "BOT"
    OTHER = "OTHER"  # PARTICIPANT_TYPE_UNSPECIFIED or a number this schema does not know


class AudioCodec(enum.StrEnum):
    """The codecs callscope decodes (OPUS and FLAC are refused)."""

    PCMU = "PCMU"
    PCMA = "PCMA"
    L16 = "L16"

    @property
    def sample_bytes(self) -> int:
        return 2 if self is AudioCodec.L16 else 1


class DialogDirection(enum.StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class ProductType(enum.StrEnum):
    QUEUE = "QUEUE"
    CAMPAIGN = "CAMPAIGN"
    IVR = "IVR"


@dataclass(slots=True, frozen=True)
class AudioFormat:
    codec: AudioCodec
    rate_hz: int
    ptime_ms: int


#: spec §11.4: "Default PCMU 8000 Hz, 100 ms chunks"
DEFAULT_FORMAT: Final = AudioFormat(AudioCodec.PCMU, ACCEPTED_RATE_HZ, 100)

PARTICIPANT_TYPES: Final = {
    pb.CONTACT: ParticipantType.CONTACT,
    pb.AGENT: ParticipantType.AGENT,
    pb.BOT: ParticipantType.BOT,
}
CODECS: Final = {pb.PCMU: AudioCodec.PCMU, pb.PCMA: AudioCodec.PCMA, pb.L16: AudioCodec.L16}
REFUSED_CODECS: Final = {pb.OPUS: "OPUS", pb.FLAC: "FLAC"}
DIRECTIONS: Final = {pb.INBOUND: DialogDirection.INBOUND, pb.OUTBOUND: DialogDirection.OUTBOUND}
PRODUCT_TYPES: Final = {
    pb.QUEUE: ProductType.QUEUE,
    pb.CAMPAIGN: ProductType.CAMPAIGN,
    pb.IVR: ProductType.IVR,
}


def decode_l16_be(data: bytes) -> bytes:
    """Big-endian 16-bit PCM (RFC 3551 L16; UNCONFIRMED for RingCX) to little-endian."""
    out = bytearray(len(data))
    out[0::2] = data[1::2]
    out[1::2] = data[0::2]
    return bytes(out)


DECODERS: Final[dict[AudioCodec, Callable[[bytes], bytes]]] = {
    AudioCodec.PCMU: ulaw2lin_bytes,
    AudioCodec.PCMA: alaw2lin_bytes,
    AudioCodec.L16: decode_l16_be,
}


# -- events ----------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class DialogStarted:
    """``dialog_init``: who streams (account) and which call (dialog)."""

    session_id: str
    account_id: str
    sub_account_id: str
    rc_account_id: str
    dialog_id: str
    direction: DialogDirection | None
    ani: str | None
    dnis: str | None
    language: str | None  # BCP 47
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class SegmentStarted:
    """A participant's leg joined at ``offset_ms`` of dialog time, in the format given."""

    segment_id: str
    participant_id: str
    participant_type: ParticipantType
    name: str | None
    product_id: str | None
    product_type: ProductType | None
    codec: AudioCodec
    rate_hz: int
    ptime_ms: int
    offset_ms: int


@dataclass(slots=True, frozen=True)
class SegmentHeld:
    segment_id: str
    offset_ms: int


@dataclass(slots=True, frozen=True)
class SegmentResumed:
    segment_id: str
    offset_ms: int


@dataclass(slots=True, frozen=True)
class SegmentInfo:
    """Every ``segment_info`` as sent (hold and unhold also give Held / Resumed)."""

    segment_id: str
    event: str
    data: str | None


@dataclass(slots=True, frozen=True)
class SegmentStopped:
    segment_id: str
    offset_ms: int


@dataclass(slots=True, frozen=True)
class Malformed:
    kind: str
    detail: str


DialogEvent = (
    DialogStarted
    | SegmentStarted
    | SegmentHeld
    | SegmentResumed
    | SegmentInfo
    | SegmentStopped
    | Malformed
)


@dataclass(slots=True, frozen=True)
class Track:
    """One segment as stored with the call: who, when (dialog ms), how, and its counters."""

    segment_id: str
    participant_id: str
    participant_type: ParticipantType
    name: str | None
    codec: AudioCodec
    start_offset_ms: int
    stop_offset_ms: int | None  # None: the stream ended without its segment_stop
    held: tuple[tuple[int, int | None], ...]  # (held at, resumed at or None)
    counters: SegmentCounters
