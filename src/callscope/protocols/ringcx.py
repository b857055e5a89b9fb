"""RingCX call streaming, receiving side, as a sans-I/O core.

Implements the WebSocket message protocol of RingCX call streaming
(seeds/ringcx-call-streaming.txt, "Audio Streaming Message Data"; spec §11.3):

``Connected`` → ``Start`` (metadata) → ``Media``… (``perspective`` Participant | Conference,
``sequenceId`` as a decimal string, ``media`` = base64 of ≈20 ms of 8 kHz μ-law) →
``Stop`` (RingCX: "we will send a stop message for each perspective of the call").

Feed each text message to :meth:`RingCXReceiver.receive_text`; it returns one typed event.
A message that cannot be used comes back as :class:`Malformed` (counted by the caller, the
call goes on). A ``Start`` announcing audio other than ``audio/x-mulaw`` at 8000 Hz raises
:class:`~callscope.errors.StreamRefused` with the close reason to send.
"""

from __future__ import annotations

import binascii
import enum
import logging
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import orjson

from callscope.digits import is_digits
from callscope.errors import InvalidState, MalformedMessage, StreamRefused
from callscope.logsafe import clean

__all__ = [
    "PERSPECTIVES",
    "PERSPECTIVE_BY_NAME",
    "Connected",
    "Malformed",
    "Media",
    "Perspective",
    "ReceiverState",
    "RingCXReceiver",
    "Start",
    "StartMetadata",
    "Stop",
    "StreamEvent",
    "build_connected",
    "build_media",
    "build_start",
    "build_stop",
    "decode_payload",
    "opt_str",
    "parse_object",
    "parse_sequence",
]

logger = logging.getLogger("callscope.protocols.ringcx")

ACCEPTED_CONTENT_TYPE: Final = "audio/x-mulaw"
ACCEPTED_SAMPLE_RATE_HZ: Final = 8000
#: Largest raw audio payload accepted in one Media message (200 ms of μ-law).
MAX_MEDIA_BYTES: Final = 1600
#: Largest text message the core accepts; the WebSocket layer enforces a higher hard limit.
MAX_MESSAGE_CHARS: Final = 16 * 1024
#: Largest sequenceId accepted (fits in a signed 64-bit column).
MAX_SEQUENCE_ID: Final = 2**62


class Perspective(enum.IntEnum):
    """Which side of the call a Media message carries.

    RingCX: "the left channel will be agent's audio, and the right channel will have audio
    for caller and all other existing legs from transfers/requeues".
    """

    PARTICIPANT = 0  # the agent: left channel
    CONFERENCE = 1  # caller and every other leg: right channel

    @property
    def wire_name(self) -> str:
        return "Participant" if self is Perspective.PARTICIPANT else "Conference"


PERSPECTIVES: Final = (Perspective.PARTICIPANT, Perspective.CONFERENCE)
#: a perspective by its wire name ("Participant", "Conference")
PERSPECTIVE_BY_NAME: Final = {p.wire_name: p for p in PERSPECTIVES}


class ReceiverState(enum.Enum):
    """Lifecycle of one stream as the receiver sees it."""

    AWAITING_START = "awaiting_start"  # Connected is optional: Start is what opens the stream
    STREAMING = "streaming"
    STOPPED = "stopped"  # a Stop arrived for every perspective
    REFUSED = "refused"


@dataclass(slots=True, frozen=True)
class StartMetadata:
    """The ``Start`` message's metadata (spec §11.3). Unknown keys are kept in ``extra``."""

    call_id: str | None
    session_id: str | None
    ani: str | None
    dnis: str | None
    account_id: str | None
    subaccount_id: str | None
    rc_account_id: str | None
    agent_id: str | None
    product_type: str | None
    product_id: str | None
    content_type: str
    sample_rate_hz: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Connected:
    protocol: str | None
    version: str | None


@dataclass(slots=True, frozen=True)
class Start:
    metadata: StartMetadata


class Media(NamedTuple):
    """One Media frame. A named tuple rather than a frozen dataclass: it is made for every
    message received (50 a second per perspective), and a tuple costs a third as much."""

    perspective: Perspective
    sequence_id: int
    payload: bytes


@dataclass(slots=True, frozen=True)
class Stop:
    """One ``Stop``.

    ``named`` is the perspective the sender named (RingCX does not name it, spec §14.10);
    ``closed`` is the perspective this Stop ends: the named one, else the first still open.
    """

    duration: float | None
    end_time: str | None
    named: Perspective | None
    closed: Perspective
    all_stopped: bool


@dataclass(slots=True, frozen=True)
class Malformed:
    kind: str
    detail: str


StreamEvent = Connected | Start | Media | Stop | Malformed


_loads = orjson.loads
_new_tuple = tuple.__new__


def parse_object(text: str | bytes, max_chars: int) -> dict[str, Any]:
    """One stream message as a JSON object.

    Raises:
        MalformedMessage: ``oversize`` or ``bad_json``.
    """
    if len(text) > max_chars:
        raise MalformedMessage("oversize", f"message of {len(text)} characters")
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise MalformedMessage("bad_json", str(exc)) from exc
    if not isinstance(msg, dict):
        raise MalformedMessage("bad_json", "message is not a JSON object")
    return msg


def opt_str(value: Any, max_chars: int | None = None) -> str | None:
    """A string or number field as text (cut to ``max_chars``); None when absent or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedMessage("bad_field", f"expected a string or number, got {value!r:.40}")
    return str(value)[:max_chars]


def parse_sequence(value: Any, name: str) -> int:
    """A frame number sent as a string holding an integer (as RingCX and Twilio do) or as a
    JSON integer."""
    if isinstance(value, str) and is_digits(value) and len(value) < 19:
        seq = int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        seq = value
    else:
        raise MalformedMessage("bad_sequence", f"{name} {value!r:.40}")
    if seq > MAX_SEQUENCE_ID:
        raise MalformedMessage("bad_sequence", f"{name} {seq} out of range")
    return seq


def decode_payload(value: Any, name: str, max_bytes: int) -> bytes:
    """A base64 audio payload, non-empty and at most ``max_bytes`` once decoded."""
    if not isinstance(value, str):
        raise MalformedMessage("bad_base64", f"{name} is not a string")
    try:
        payload = binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedMessage("bad_base64", str(exc)) from exc
    if not payload:
        raise MalformedMessage("bad_base64", f"empty {name}")
    if len(payload) > max_bytes:
        raise MalformedMessage("oversize", f"{name} of {len(payload)} bytes")
    return payload


class RingCXReceiver:
    """Turns RingCX streaming messages into events, checking order and shape.

    Args:
        max_message_chars: longer messages are reported as ``oversize`` and dropped.
        max_media_bytes: larger decoded Media payloads are reported as ``oversize``.
    """

    def __init__(
        self,
        *,
        max_message_chars: int = MAX_MESSAGE_CHARS,
        max_media_bytes: int = MAX_MEDIA_BYTES,
    ) -> None:
        if max_message_chars < 256:
            raise ValueError("max_message_chars must be at least 256")
        self.state = ReceiverState.AWAITING_START
        self.metadata: StartMetadata | None = None
        self._max_chars = max_message_chars
        self._max_media = max_media_bytes
        self._stopped: set[Perspective] = set()

    # -- public API --------------------------------------------------------------------

    def receive_text(self, text: str | bytes) -> StreamEvent:
        """Parse one message.

        Returns:
            The event; :class:`Malformed` for a message that must be counted and dropped.

        Raises:
            StreamRefused: ``Start`` announced audio callscope does not accept.
            InvalidState: the receiver was already refused.
        """
        if self.state is ReceiverState.REFUSED:
            raise InvalidState("stream was refused; no further messages are accepted")
        try:
            # parse_object, inline: this runs for every message of every stream
            if len(text) > self._max_chars:
                raise MalformedMessage("oversize", f"message of {len(text)} characters")
            try:
                msg = _loads(text)
            except orjson.JSONDecodeError as exc:
                raise MalformedMessage("bad_json", str(exc)) from exc
            if type(msg) is not dict:  # orjson makes plain dicts only
                raise MalformedMessage("bad_json", "message is not a JSON object")
            if msg.get("event") == "Media":  # nearly every message: one call less
                return self._media(msg)
            return self._receive(msg)
        except MalformedMessage as exc:
            return Malformed(exc.kind, exc.detail)

    @property
    def stopped_perspectives(self) -> frozenset[Perspective]:
        return frozenset(self._stopped)

    # -- internals ----------------------------------------------------------------------

    def _receive(self, msg: dict[str, Any]) -> StreamEvent:
        event = msg.get("event")
        if event == "Start":
            return self._start(msg)
        if event == "Stop":
            return self._stop(msg)
        if event == "Connected":
            return Connected(opt_str(msg.get("protocol")), opt_str(msg.get("version")))
        raise MalformedMessage("unknown_event", f"event {event!r:.40}")

    def _media(self, msg: dict[str, Any]) -> Media:
        if self.state is not ReceiverState.STREAMING:
            raise MalformedMessage("out_of_order", f"Media while {self.state.value}")
        perspective = PERSPECTIVE_BY_NAME.get(msg.get("perspective"))  # type: ignore[arg-type]
        if perspective is None:
            raise MalformedMessage("bad_perspective", f"perspective {msg.get('perspective')!r:.40}")
        if self._stopped and perspective in self._stopped:
            raise MalformedMessage("after_stop", f"Media for {perspective.wire_name} after Stop")
        value = msg.get("sequenceId")
        if type(value) is str and value.isascii() and value.isdigit() and len(value) < 19:
            seq = int(value)  # the usual form, in range (< 10**18): parse_sequence's checks hold
        else:
            seq = parse_sequence(value, "sequenceId")
        media = msg.get("media")
        try:
            payload = binascii.a2b_base64(media, strict_mode=True)  # type: ignore[arg-type]
        except (binascii.Error, ValueError, TypeError):
            payload = b""  # decode_payload says what is wrong with it
        if not payload or len(payload) > self._max_media:
            payload = decode_payload(media, "media", self._max_media)
        # tuple.__new__ directly: a named tuple's own __new__ is one more Python frame
        return _new_tuple(Media, (perspective, seq, payload))

    def _start(self, msg: dict[str, Any]) -> Start:
        if self.state is not ReceiverState.AWAITING_START:
            raise MalformedMessage("out_of_order", f"Start while {self.state.value}")
        meta = msg.get("metadata")
        if not isinstance(meta, dict):
            raise MalformedMessage("bad_start", "Start without a metadata object")
        # The RingCX guide shows both `contentType` and `audioContentType` (spec §11.3).
        content_type = meta.get("contentType", meta.get("audioContentType"))
        rate = meta.get("sampleRateHertz")
        if content_type != ACCEPTED_CONTENT_TYPE or rate != ACCEPTED_SAMPLE_RATE_HZ:
            self.state = ReceiverState.REFUSED
            logger.debug(
                "stream refused: contentType=%s sampleRateHertz=%s",
                clean(content_type, 40),
                clean(rate, 20),
            )
            raise StreamRefused(
                f"unsupported audio {content_type!r:.40} at {rate!r:.20} Hz: callscope accepts "
                f"{ACCEPTED_CONTENT_TYPE} at {ACCEPTED_SAMPLE_RATE_HZ} Hz"
            )
        known = {
            "callId", "sessionId", "ani", "dnis", "accountId", "subaccountId",
            "rcAccountId", "agentId", "productType", "productId", "contentType",
            "audioContentType", "sampleRateHertz", "secret",
        }  # fmt: skip
        try:
            metadata = StartMetadata(
                call_id=opt_str(meta.get("callId")),
                session_id=opt_str(meta.get("sessionId")),
                ani=opt_str(meta.get("ani")),
                dnis=opt_str(meta.get("dnis")),
                account_id=opt_str(meta.get("accountId")),
                subaccount_id=opt_str(meta.get("subaccountId")),
                rc_account_id=opt_str(meta.get("rcAccountId")),
                agent_id=opt_str(meta.get("agentId")),
                product_type=opt_str(meta.get("productType")),
                product_id=opt_str(meta.get("productId")),
                content_type=ACCEPTED_CONTENT_TYPE,
                sample_rate_hz=ACCEPTED_SAMPLE_RATE_HZ,
                extra={k: v for k, v in meta.items() if k not in known},
            )
        except MalformedMessage:
            raise
        self.metadata = metadata
        self.state = ReceiverState.STREAMING
        logger.debug("stream started: call %s", clean(metadata.call_id))
        return Start(metadata)

    def _stop(self, msg: dict[str, Any]) -> Stop:
        if self.state is not ReceiverState.STREAMING:
            raise MalformedMessage("out_of_order", f"Stop while {self.state.value}")
        meta = msg.get("metadata")
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise MalformedMessage("bad_stop", "Stop metadata is not an object")
        duration = meta.get("duration")
        if isinstance(duration, bool) or not isinstance(duration, int | float | None):
            raise MalformedMessage("bad_stop", f"duration {duration!r:.40}")
        end_time = meta.get("end_time")
        if end_time is not None and not isinstance(end_time, str):
            raise MalformedMessage("bad_stop", f"end_time {end_time!r:.40}")
        # The perspective is not named in RingCX's Stop (spec §14.10); use it when present,
        # otherwise the first Stop closes Participant and the second Conference.
        named = msg.get("perspective", meta.get("perspective"))
        perspective = PERSPECTIVE_BY_NAME.get(named) if isinstance(named, str) else None
        if perspective is None or perspective in self._stopped:
            remaining = [p for p in PERSPECTIVES if p not in self._stopped]
            perspective_closed = remaining[0]
        else:
            perspective_closed = perspective
        self._stopped.add(perspective_closed)
        all_stopped = len(self._stopped) == len(PERSPECTIVES)
        if all_stopped:
            self.state = ReceiverState.STOPPED
        return Stop(
            float(duration) if duration is not None else None,
            end_time,
            perspective,
            perspective_closed,
            all_stopped,
        )


# -- sending side (simulator, tests) ------------------------------------------------------


def build_connected() -> bytes:
    return orjson.dumps({"event": "Connected", "protocol": "AgentSession", "version": "1.0.0"})


def build_start(meta: dict[str, Any]) -> bytes:
    """A Start message; ``meta`` holds the wire keys (callId, ani, …)."""
    body = {"contentType": ACCEPTED_CONTENT_TYPE, "sampleRateHertz": ACCEPTED_SAMPLE_RATE_HZ}
    body.update(meta)
    return orjson.dumps({"event": "Start", "metadata": body})


def build_media(perspective: Perspective, sequence_id: int, payload: bytes) -> bytes:
    b64 = binascii.b2a_base64(payload, newline=False).decode("ascii")
    return (
        b'{"event":"Media","perspective":"'
        + perspective.wire_name.encode()
        + b'","sequenceId":"'
        + str(sequence_id).encode()
        + b'","media":"'
        + b64.encode()
        + b'"}'
    )


def build_stop(duration_s: float, end_time: str) -> bytes:
    return orjson.dumps(
        {"event": "Stop", "metadata": {"duration": duration_s, "end_time": end_time}}
    )
