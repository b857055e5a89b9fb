"""Two-way call streams in the Twilio Media Streams message set, as a sans-I/O core.

Platform → callscope (text frames, JSON): ``connected``, ``start`` (``streamSid``,
``callSid``, ``tracks``, ``mediaFormat``, ``customParameters``), ``media`` (``track``,
``chunk``, ``timestamp``, ``payload`` = base64 of 8 kHz μ-law), ``mark`` (playback reached a
mark callscope sent), ``dtmf`` and ``stop``. callscope → platform: ``media`` (audio to play
into the call), ``mark`` and ``clear``.

Mapping onto a call (one stream carries both legs, like Twilio's ``both_tracks``):

* track ``inbound`` is the customer's voice (right channel of the recording), track
  ``outbound`` the agent's (left channel), as Twilio names the two directions of a call;
* audio callscope sends back carries ``media.track`` naming the direction it is mixed into:
  ``inbound`` reaches the agent, ``outbound`` reaches the customer (Twilio's default when
  the field is absent). Coaching sends on ``inbound`` only; barging on both;
* ``chunk`` (1, 2, … per track) is the 20 ms frame number the jitter buffer orders by;
* ``customParameters`` carry what RingCX puts in its Start metadata (``callId``, ``agentId``,
  ``rcAccountId``, ``subaccountId``, ``productType``, ``productId``, ``ani``, ``dnis``…);
* callscope's one extension: ``{"event": "transfer", "transfer": {"agentId": "5502"}}`` says
  the platform moved the call to another agent; the ``outbound`` track is that agent's voice
  from then on.

Events come out as the RingCX core's types (:class:`~callscope.protocols.ringcx.Start`,
``Media``, ``Stop``, ``Malformed``) plus :class:`Mark`, :class:`Dtmf` and :class:`Transfer`,
so one ingest path serves both protocols.
"""

from __future__ import annotations

import binascii
import enum
import logging
from dataclasses import dataclass
from typing import Any, Final

import orjson

from callscope.errors import InvalidState, MalformedMessage, StreamRefused
from callscope.protocols.ringcx import (
    ACCEPTED_CONTENT_TYPE,
    ACCEPTED_SAMPLE_RATE_HZ,
    MAX_MEDIA_BYTES,
    MAX_MESSAGE_CHARS,
    PERSPECTIVES,
    Connected,
    Malformed,
    Media,
    Perspective,
    ReceiverState,
    Start,
    StartMetadata,
    Stop,
    decode_payload,
    opt_str,
    parse_object,
    parse_sequence,
)

__all__ = [
    "TRACK_BY_PERSPECTIVE",
    "Dtmf",
    "Mark",
    "Track",
    "Transfer",
    "TwilioEvent",
    "TwilioReceiver",
    "build_clear",
    "build_mark",
    "build_outbound_media",
    "build_platform_mark",
    "build_stream_connected",
    "build_stream_media",
    "build_stream_start",
    "build_stream_stop",
    "build_transfer",
]

logger = logging.getLogger("callscope.protocols.twilio")


class Track(enum.StrEnum):
    INBOUND = "inbound"  # the customer's voice; audio sent back on it reaches the agent
    OUTBOUND = "outbound"  # the agent's voice; audio sent back on it reaches the customer


#: which recording channel each track feeds
PERSPECTIVE_BY_TRACK: Final = {
    Track.OUTBOUND: Perspective.PARTICIPANT,
    Track.INBOUND: Perspective.CONFERENCE,
}
TRACK_BY_PERSPECTIVE: Final = {p: t for t, p in PERSPECTIVE_BY_TRACK.items()}
#: Twilio spells the tracks of a ``<Stream track=…>`` with a suffix in some places
_TRACK_NAMES: Final = {
    "inbound": Track.INBOUND,
    "inbound_track": Track.INBOUND,
    "outbound": Track.OUTBOUND,
    "outbound_track": Track.OUTBOUND,
}
#: what Twilio calls the encoding; RingCX's name is accepted as well
_ENCODINGS: Final = ("audio/x-mulaw", "audio/mulaw", "mulaw", "audio/pcmu")
#: custom parameters that are Start metadata (the rest are kept in ``extra``)
_META_KEYS: Final = (
    "callId", "sessionId", "ani", "dnis", "accountId", "subaccountId", "rcAccountId",
    "agentId", "productType", "productId",
)  # fmt: skip
MAX_CUSTOM_PARAMETERS: Final = 32


@dataclass(slots=True, frozen=True)
class Mark:
    """The platform played everything sent before the mark ``name``."""

    name: str


@dataclass(slots=True, frozen=True)
class Dtmf:
    track: str
    digit: str


@dataclass(slots=True, frozen=True)
class Transfer:
    """The call moved to another agent (callscope's extension to the message set)."""

    agent_id: str
    kind: str  # Blind | Attended


TwilioEvent = Connected | Start | Media | Stop | Malformed | Mark | Dtmf | Transfer


def _param(value: Any) -> str | None:
    return opt_str(value, 128)


class TwilioReceiver:
    """Turns a two-way stream's messages into events, checking order and shape."""

    def __init__(
        self,
        *,
        max_message_chars: int = MAX_MESSAGE_CHARS,
        max_media_bytes: int = MAX_MEDIA_BYTES,
    ) -> None:
        self.state = ReceiverState.AWAITING_START
        self.stream_sid: str | None = None
        self.call_sid: str | None = None
        self.tracks: tuple[Track, ...] = ()
        self.custom_parameters: dict[str, str] = {}
        self._max_chars = max_message_chars
        self._max_media = max_media_bytes

    def receive_text(self, text: str | bytes) -> TwilioEvent:
        """Parse one message; :class:`Malformed` for one to count and drop.

        Raises:
            StreamRefused: ``start`` announced audio other than 8 kHz μ-law.
            InvalidState: the stream was already refused.
        """
        if self.state is ReceiverState.REFUSED:
            raise InvalidState("stream was refused; no further messages are accepted")
        try:
            return self._receive(text)
        except MalformedMessage as exc:
            return Malformed(exc.kind, exc.detail)

    def _receive(self, text: str | bytes) -> TwilioEvent:
        msg = parse_object(text, self._max_chars)
        event = msg.get("event")
        if event == "media":
            return self._media(msg)
        if event == "start":
            return self._start(msg)
        if event == "stop":
            return self._stop()
        if event == "connected":
            return Connected(_param(msg.get("protocol")), _param(msg.get("version")))
        if event == "mark":
            self._streaming("mark")
            mark = msg.get("mark")
            name = mark.get("name") if isinstance(mark, dict) else None
            if not isinstance(name, str):
                raise MalformedMessage("bad_mark", "mark without a name")
            return Mark(name[:128])
        if event == "dtmf":
            self._streaming("dtmf")
            dtmf = msg.get("dtmf")
            if not isinstance(dtmf, dict) or not isinstance(dtmf.get("digit"), str):
                raise MalformedMessage("bad_dtmf", "dtmf without a digit")
            return Dtmf(str(dtmf.get("track", "inbound_track"))[:32], dtmf["digit"][:4])
        if event == "transfer":
            self._streaming("transfer")
            body = msg.get("transfer")
            agent = _param(body.get("agentId")) if isinstance(body, dict) else None
            if agent is None:
                raise MalformedMessage("bad_transfer", "transfer without transfer.agentId")
            assert isinstance(body, dict)
            kind = body.get("type", "Blind")
            if kind not in ("Blind", "Attended"):
                raise MalformedMessage("bad_transfer", f"transfer type {kind!r:.40}")
            return Transfer(agent, kind)
        raise MalformedMessage("unknown_event", f"event {event!r:.40}")

    def _streaming(self, what: str) -> None:
        if self.state is not ReceiverState.STREAMING:
            raise MalformedMessage("out_of_order", f"{what} while {self.state.value}")

    def _media(self, msg: dict[str, Any]) -> Media:
        self._streaming("media")
        media = msg.get("media")
        if not isinstance(media, dict):
            raise MalformedMessage("bad_media", "media is not an object")
        track = _TRACK_NAMES.get(media.get("track", "inbound"))
        if track is None or track not in self.tracks:
            raise MalformedMessage("bad_track", f"track {media.get('track')!r:.40}")
        chunk = parse_sequence(media.get("chunk"), "chunk")
        payload = decode_payload(media.get("payload"), "payload", self._max_media)
        return Media(PERSPECTIVE_BY_TRACK[track], chunk, payload)

    def _start(self, msg: dict[str, Any]) -> Start:
        if self.state is not ReceiverState.AWAITING_START:
            raise MalformedMessage("out_of_order", f"start while {self.state.value}")
        start = msg.get("start")
        if not isinstance(start, dict):
            raise MalformedMessage("bad_start", "start without a start object")
        fmt = start.get("mediaFormat") or {}
        if not isinstance(fmt, dict):
            raise MalformedMessage("bad_start", "mediaFormat is not an object")
        encoding = str(fmt.get("encoding", ACCEPTED_CONTENT_TYPE)).lower()
        rate = fmt.get("sampleRate", ACCEPTED_SAMPLE_RATE_HZ)
        channels = fmt.get("channels", 1)
        if encoding not in _ENCODINGS or rate != ACCEPTED_SAMPLE_RATE_HZ or channels != 1:
            self.state = ReceiverState.REFUSED
            raise StreamRefused(
                f"unsupported audio {encoding!r:.40} at {rate!r:.20} Hz, "
                f"{channels!r:.20} channel(s): "
                f"callscope accepts mono audio/x-mulaw at {ACCEPTED_SAMPLE_RATE_HZ} Hz"
            )
        raw_tracks = start.get("tracks", ["inbound"])
        if not isinstance(raw_tracks, list) or not raw_tracks:
            raise MalformedMessage("bad_start", "tracks is not a list of track names")
        tracks = []
        for name in raw_tracks:
            track = _TRACK_NAMES.get(name) if isinstance(name, str) else None
            if track is None:
                raise MalformedMessage("bad_start", f"unknown track {name!r:.40}")
            if track not in tracks:
                tracks.append(track)
        params = start.get("customParameters") or {}
        if not isinstance(params, dict) or len(params) > MAX_CUSTOM_PARAMETERS:
            raise MalformedMessage("bad_start", "customParameters is not a small object")
        custom = {str(k)[:64]: v for k, v in ((k, _param(v)) for k, v in params.items()) if v}
        self.stream_sid = _param(start.get("streamSid") or msg.get("streamSid"))
        self.call_sid = _param(start.get("callSid"))
        if self.stream_sid is None:
            raise MalformedMessage("bad_start", "start without a streamSid")
        self.tracks = tuple(tracks)
        self.custom_parameters = custom
        extra: dict[str, Any] = {
            k: v for k, v in custom.items() if k not in _META_KEYS and k != "secret"
        }
        extra.update(
            streamSid=self.stream_sid, callSid=self.call_sid, tracks=list(map(str, tracks))
        )
        metadata = StartMetadata(
            call_id=custom.get("callId") or self.call_sid,
            session_id=custom.get("sessionId"),
            ani=custom.get("ani") or custom.get("from"),
            dnis=custom.get("dnis") or custom.get("to"),
            account_id=custom.get("accountId") or _param(start.get("accountSid")),
            subaccount_id=custom.get("subaccountId"),
            rc_account_id=custom.get("rcAccountId"),
            agent_id=custom.get("agentId"),
            product_type=custom.get("productType"),
            product_id=custom.get("productId"),
            content_type=ACCEPTED_CONTENT_TYPE,
            sample_rate_hz=ACCEPTED_SAMPLE_RATE_HZ,
            extra=extra,
        )
        self.state = ReceiverState.STREAMING
        return Start(metadata)

    def _stop(self) -> Stop:
        self._streaming("stop")
        self.state = ReceiverState.STOPPED
        # One stop ends the whole stream (both tracks).
        return Stop(None, None, None, PERSPECTIVES[-1], True)

    @property
    def missing_perspectives(self) -> tuple[Perspective, ...]:
        """Channels the stream does not carry (recorded as silence)."""
        return tuple(p for t, p in PERSPECTIVE_BY_TRACK.items() if t not in self.tracks)


# -- callscope → platform -------------------------------------------------------------------


def build_outbound_media(stream_sid: str, track: Track, ulaw: bytes) -> str:
    b64 = binascii.b2a_base64(ulaw, newline=False).decode("ascii")
    return (
        f'{{"event":"media","streamSid":"{stream_sid}",'
        f'"media":{{"track":"{track.value}","payload":"{b64}"}}}}'
    )


def build_mark(stream_sid: str, name: str) -> str:
    return orjson.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}).decode()


def build_clear(stream_sid: str) -> str:
    return orjson.dumps({"event": "clear", "streamSid": stream_sid}).decode()


# -- platform side (simulator, tests) ------------------------------------------------------


def build_stream_start(
    stream_sid: str,
    call_sid: str,
    custom_parameters: dict[str, str],
    *,
    tracks: tuple[str, ...] = ("inbound", "outbound"),
) -> bytes:
    return orjson.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": stream_sid,
            "start": {
                "accountSid": "AC" + "0" * 32,
                "streamSid": stream_sid,
                "callSid": call_sid,
                "tracks": list(tracks),
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": custom_parameters,
            },
        }
    )


def build_stream_media(
    stream_sid: str, perspective: Perspective, chunk: int, payload: bytes
) -> bytes:
    """A platform ``media`` message for frame ``chunk`` (1-based) of one leg."""
    b64 = binascii.b2a_base64(payload, newline=False).decode("ascii")
    track = TRACK_BY_PERSPECTIVE[perspective].value
    return (
        b'{"event":"media","streamSid":"'
        + stream_sid.encode()
        + b'","media":{"track":"'
        + track.encode()
        + b'","chunk":"'
        + str(chunk).encode()
        + b'","timestamp":"'
        + str((chunk - 1) * 20).encode()
        + b'","payload":"'
        + b64.encode()
        + b'"}}'
    )


def build_stream_connected() -> bytes:
    return orjson.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def build_stream_stop(stream_sid: str, call_sid: str) -> bytes:
    return orjson.dumps(
        {
            "event": "stop",
            "streamSid": stream_sid,
            "stop": {"accountSid": "AC" + "0" * 32, "callSid": call_sid},
        }
    )


def build_transfer(stream_sid: str, agent_id: str, kind: str = "Blind") -> bytes:
    return orjson.dumps(
        {
            "event": "transfer",
            "streamSid": stream_sid,
            "transfer": {"agentId": agent_id, "type": kind},
        }
    )


def build_platform_mark(stream_sid: str, name: str) -> bytes:
    """The platform's answer to a ``mark``: everything before it has been played."""
    return orjson.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})
