"""What the supervision core asks its shell to do: one small frozen record per effect.

The core (``callscope.supervision.core``) decides; the shell (``service.py``) carries the
effects out in the order they come: it owns sockets, the telephony session, the call's
media sinks, transcripts and the other nodes (its relay). Pure: no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callscope.supervision.model import Stream, Supervision

__all__ = [
    "AddParty",
    "AttachTap",
    "ClearTalkback",
    "CloseFeed",
    "DetachTap",
    "Effect",
    "ModeChanged",
    "Notice",
    "OpenFeed",
    "OrderUsed",
    "PushState",
    "RemoveParty",
    "ShareOrder",
    "StreamEnded",
    "StreamStarted",
    "StreamTransferred",
]


@dataclass(frozen=True, slots=True)
class AttachTap:
    """Send the call's audio to the supervising device (a pipeline sink)."""

    supervision: Supervision


@dataclass(frozen=True, slots=True)
class DetachTap:
    """Stop sending the call's audio for this supervision."""

    supervision: Supervision


@dataclass(frozen=True, slots=True)
class AddParty:
    """Add the supervisor party of ``stream`` to the call (spec §7.4) and set
    ``stream.supervisor_party``; ``agent_id`` is the agent it supervises."""

    stream: Stream
    agent_id: int | None


@dataclass(frozen=True, slots=True)
class RemoveParty:
    """Disconnect the supervisor party of ``stream`` from the (still live) call."""

    stream: Stream
    reason: str


@dataclass(frozen=True, slots=True)
class StreamStarted:
    stream: Stream


@dataclass(frozen=True, slots=True)
class StreamEnded:
    stream: Stream
    reason: str


@dataclass(frozen=True, slots=True)
class StreamTransferred:
    stream: Stream
    agent_id: int


@dataclass(frozen=True, slots=True)
class ModeChanged:
    supervision: Supervision


@dataclass(frozen=True, slots=True)
class Notice:
    device_id: int
    message: str


@dataclass(frozen=True, slots=True)
class ClearTalkback:
    """Drop what the platform still holds to play (a coach who stopped talking)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class OpenFeed:
    """A barging supervisor is a speaker of the call: transcribe it on its own channel."""

    supervision: Supervision


@dataclass(frozen=True, slots=True)
class CloseFeed:
    supervision: Supervision


@dataclass(frozen=True, slots=True)
class PushState:
    """A Genesys ``DeviceStateChangeMessage`` (``state``) for the device and its owner."""

    device_id: int
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ShareOrder:
    """Every node arms (or cancels) the device's order as it is now."""

    device_id: int


@dataclass(frozen=True, slots=True)
class OrderUsed:
    """Every node learns that the device's NextCall order picked up its one call."""

    device_id: int


Effect = (
    AttachTap
    | DetachTap
    | AddParty
    | RemoveParty
    | StreamStarted
    | StreamEnded
    | StreamTransferred
    | ModeChanged
    | Notice
    | ClearTalkback
    | OpenFeed
    | CloseFeed
    | PushState
    | ShareOrder
    | OrderUsed
)
