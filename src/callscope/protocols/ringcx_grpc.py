"""RingCX call streaming over gRPC, receiving side, as a sans-I/O core.

Implements the dialog protocol of RingCX's gRPC streaming (spec §11.4, "Current RingCX
design: gRPC streaming"; schema in ``ringcx_streaming.proto``). One client-streaming
``Stream`` call carries one dialog:

``dialog_init`` once, first → per participant ``segment_start`` (the first one of each
participant carries its audio format) → ``segment_media``… (``seq`` and ``duration`` for
ordering, duplicates and gaps) with ``segment_info`` (``hold`` / ``unhold``) between →
``segment_stop`` per segment → the stream closes. Segments overlap: a transfer adds an AGENT
segment to the same dialog, bots are participants.

Feed each received ``StreamEvent`` to :meth:`DialogReceiver.receive` (or the raw bytes to
:meth:`~DialogReceiver.receive_bytes`), with the monotonic time it arrived as ``now`` (the
receiver reads no clock; the mixer measures lag with it); it returns the typed events for
it. Audio goes straight into the receiver's
:class:`~callscope.media.dialog_mixer.DialogMixer`, whose sinks get the call's 20 ms
:class:`~callscope.media.pipeline.StereoBlock` stream. A message that
cannot be used comes back as :class:`Malformed` (counted, the dialog goes on). A stream that
cannot be accepted raises :class:`~callscope.errors.DialogRefused`, which names the gRPC
status to abort with.

Choices the spec leaves open (UNCONFIRMED, all in one place):

* L16 is read as big-endian (network order, as RTP's L16 in RFC 3551 §4.5.11); the spec does
  not give the byte order.
* ``duration`` 0 (unset in proto3) means "not given": the chunk's length is taken from its
  payload. A non-zero ``duration`` must match the payload for the codec.
* ``codec``, ``rate`` or ``ptime`` 0 in an ``audio_format`` means "not given" and is
  inherited like a missing format: the participant's earlier format, else the dialog's first,
  else PCMU / 8000 Hz / 100 ms (the spec's default).
* ``session_id`` is that of ``dialog_init``; a later message naming another session is
  malformed (an empty one is accepted).
* ``segment_info`` events are matched case-insensitively; only ``hold`` and ``unhold`` act,
  on the segment they name. If RingCX names another leg than the one that goes quiet (the
  agent's, say, when the agent holds the caller), the audio is the same (the quiet leg is
  concealed after ``max_skew_ms``) but that leg's silence is counted missing.
* How ``seq`` counts is described in :mod:`callscope.media.dialog_mixer`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import Never

from google.protobuf.message import DecodeError

from callscope.errors import DialogRefused, GrpcRefusal, InvalidState, MalformedMessage
from callscope.media.dialog_mixer import DialogMixer, Side
from callscope.protocols import ringcx_streaming_pb2 as pb
from callscope.protocols.ringcx_grpc_types import (
    ACCEPTED_RATE_HZ,
    CODECS,
    DECODERS,
    DEFAULT_FORMAT,
    DIRECTIONS,
    MIN_PTIME_MS,
    PARTICIPANT_TYPES,
    PRODUCT_TYPES,
    REFUSED_CODECS,
    AudioCodec,
    AudioFormat,
    DialogDirection,
    DialogEvent,
    DialogStarted,
    DialogState,
    Malformed,
    ParticipantType,
    ProductType,
    SegmentHeld,
    SegmentInfo,
    SegmentResumed,
    SegmentStarted,
    SegmentStopped,
    Track,
    decode_l16_be,
)
from callscope.store.models import CallStatus

# The event and format types live in callscope.protocols.ringcx_grpc_types (#19); they are
# re-exported here with the receiver that returns them.
__all__ = [
    "DEFAULT_FORMAT",
    "AudioCodec",
    "AudioFormat",
    "DialogDirection",
    "DialogEvent",
    "DialogReceiver",
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

logger = logging.getLogger("callscope.protocols.ringcx_grpc")


class _Segment:
    __slots__ = ("bytes_per_ms", "decode", "held", "held_since", "info", "sample_bytes", "stop")

    def __init__(self, info: SegmentStarted, fmt: AudioFormat) -> None:
        self.info = info
        self.sample_bytes = fmt.codec.sample_bytes
        self.bytes_per_ms = fmt.rate_hz // 1000 * self.sample_bytes
        self.decode = DECODERS[fmt.codec]
        self.held: list[tuple[int, int | None]] = []
        self.held_since: int | None = None
        self.stop: int | None = None


# -- receiver --------------------------------------------------------------------------------


class DialogReceiver:
    """Checks one dialog's events, tracks its segments and feeds their audio to a mixer.

    Args:
        mixer: where audio goes; its ``sinks`` receive the stereo blocks. A default
            :class:`DialogMixer` when omitted.
        max_segments: segments per dialog; further ``segment_start`` are malformed (ignored).
        max_payload_bytes: largest audio payload of one chunk.
        max_chunk_ms: longest ``duration`` / ``ptime`` of one chunk.
        max_message_bytes: largest serialized message :meth:`receive_bytes` parses.
        max_attributes: dialog attributes kept (in key order); the rest are reported.
        max_attribute_chars: longest attribute key or value kept.
        max_id_chars: longest id (session, account, dialog, segment, participant, product).
        max_text_chars: texts (ani, dnis, language, names, info event and data) are cut here.
        max_held_intervals: hold intervals recorded per segment (later ones still act).
    """

    def __init__(
        self,
        *,
        mixer: DialogMixer | None = None,
        max_segments: int = 16,
        max_payload_bytes: int = 16_000,
        max_chunk_ms: int = 1000,
        max_message_bytes: int = 64 * 1024,
        max_attributes: int = 64,
        max_attribute_chars: int = 1024,
        max_id_chars: int = 128,
        max_text_chars: int = 256,
        max_held_intervals: int = 64,
    ) -> None:
        if max_segments < 1:
            raise ValueError("max_segments must be ≥ 1")
        if max_chunk_ms < MIN_PTIME_MS:
            raise ValueError(f"max_chunk_ms must be ≥ {MIN_PTIME_MS}")
        if max_payload_bytes < max_chunk_ms * 16:
            raise ValueError("max_payload_bytes must hold max_chunk_ms of L16 (16 bytes per ms)")
        self.mixer = mixer if mixer is not None else DialogMixer()
        self.state = DialogState.AWAITING_INIT
        self.dialog: DialogStarted | None = None
        #: Malformed events by kind
        self.malformed: Counter[str] = Counter()
        self._max_segments = max_segments
        self._max_payload = max_payload_bytes
        self._max_chunk_ms = max_chunk_ms
        self._max_message = max_message_bytes
        self._max_attributes = max_attributes
        self._max_attribute_chars = max_attribute_chars
        self._max_id = max_id_chars
        self._max_text = max_text_chars
        self._max_held = max_held_intervals
        self._session_id = ""
        self._segments: dict[str, _Segment] = {}
        self._dialog_format: AudioFormat | None = None
        self._participant_formats: dict[str, AudioFormat] = {}

    # -- public API --------------------------------------------------------------------------

    def receive(self, message: pb.StreamEvent, *, now: float | None = None) -> list[DialogEvent]:
        """Handle one ``StreamEvent`` received at monotonic time ``now`` (None: the blocks
        it makes are not observed for lag).

        Returns:
            The events for it: none for audio, :class:`Malformed` for a message that is
            counted and dropped.

        Raises:
            DialogRefused: the first message is not ``dialog_init``, ``dialog_init`` lacks a
                dialog id, or a segment announces audio callscope does not decode.
            InvalidState: the dialog was already refused or finished.
        """
        if self.state is not DialogState.STREAMING:
            if self.state is DialogState.AWAITING_INIT:
                return self._init(message)
            raise InvalidState(f"dialog is {self.state.value}; no further messages are accepted")
        try:
            kind = message.WhichOneof("event")
            if message.session_id and message.session_id != self._session_id:
                raise MalformedMessage("session_mismatch", f"session {message.session_id!r:.60}")
            if kind == "segment_media":
                self._media(message.segment_media, now)
                return []
            if kind == "segment_start":
                return [self._start(message.segment_start)]
            if kind == "segment_info":
                return self._info(message.segment_info, now)
            if kind == "segment_stop":
                return [self._stop(message.segment_stop, now)]
            if kind == "dialog_init":
                raise MalformedMessage("duplicate_init", "a second dialog_init")
            raise MalformedMessage("empty_event", "a StreamEvent without an event")
        except MalformedMessage as exc:
            return [self._malformed(exc.kind, exc.detail)]

    def receive_bytes(self, data: bytes, *, now: float | None = None) -> list[DialogEvent]:
        """Parse one serialized ``StreamEvent`` and handle it (see :meth:`receive`).

        For a server that takes raw request bytes, so a message that does not parse is
        counted (``bad_protobuf``, ``oversize``) instead of failing the call.
        """
        try:
            if len(data) > self._max_message:
                raise MalformedMessage("oversize", f"message of {len(data)} bytes")
            try:
                message = pb.StreamEvent.FromString(data)
            except DecodeError as exc:
                raise MalformedMessage("bad_protobuf", str(exc)) from exc
        except MalformedMessage as exc:
            if self.state is DialogState.AWAITING_INIT:
                self._refuse(f"first message unusable: {exc.detail}", "INVALID_ARGUMENT")
            if self.state is not DialogState.STREAMING:
                raise InvalidState(f"dialog is {self.state.value}") from exc
            return [self._malformed(exc.kind, exc.detail)]
        return self.receive(message, now=now)

    def tick(self, elapsed_ms: int, *, now: float | None = None) -> None:
        """Timer tick from the server (see :meth:`DialogMixer.tick`): keeps the timeline
        running while the stream pauses during a hold."""
        if self.state is DialogState.STREAMING:
            self.mixer.tick(elapsed_ms, now=now)

    def finish(self, *, now: float | None = None) -> None:
        """The stream closed (or was cancelled or refused): flush all audio. Idempotent."""
        if self.state is not DialogState.FINISHED:
            logger.debug("dialog finished (%s)", self.state.value)
            self.state = DialogState.FINISHED
            self.mixer.finish(now=now)

    @property
    def final_status(self) -> CallStatus:
        """``completed`` if segments were streamed and every one got its ``segment_stop``,
        else ``abandoned``."""
        if self._segments and all(s.stop is not None for s in self._segments.values()):
            return CallStatus.COMPLETED
        return CallStatus.ABANDONED

    @property
    def on_hold(self) -> bool:
        """Whether some open segment is on hold now (cheap: called on every tick)."""
        return any(s.held_since is not None and s.stop is None for s in self._segments.values())

    def tracks(self) -> list[Track]:
        """Every accepted segment in start order, for the call's metadata."""
        return [
            Track(
                segment_id=s.info.segment_id,
                participant_id=s.info.participant_id,
                participant_type=s.info.participant_type,
                name=s.info.name,
                codec=s.info.codec,
                start_offset_ms=s.info.offset_ms,
                stop_offset_ms=s.stop,
                held=tuple(s.held) + (() if s.held_since is None else ((s.held_since, None),)),
                counters=self.mixer.counters(s.info.segment_id),
            )
            for s in self._segments.values()
        ]

    # -- messages ----------------------------------------------------------------------------

    def _init(self, message: pb.StreamEvent) -> list[DialogEvent]:
        kind = message.WhichOneof("event")
        if kind != "dialog_init":
            self._refuse(
                f"the first message of a stream must be dialog_init, got {kind or 'no event'}",
                "INVALID_ARGUMENT",
            )
        init = message.dialog_init
        d, a = init.dialog, init.account
        if not d.id:
            self._refuse("dialog_init without a dialog id", "INVALID_ARGUMENT")
        for what, value in (
            ("session_id", message.session_id),
            ("dialog id", d.id),
            ("account id", a.id),
            ("sub_account_id", a.sub_account_id),
            ("rc_account_id", a.rc_account_id),
        ):
            if len(value) > self._max_id:
                self._refuse(f"{what} longer than {self._max_id} characters", "INVALID_ARGUMENT")
        attributes, dropped = self._attributes(d.attributes)
        started = DialogStarted(
            session_id=message.session_id,
            account_id=a.id,
            sub_account_id=a.sub_account_id,
            rc_account_id=a.rc_account_id,
            dialog_id=d.id,
            direction=DIRECTIONS.get(d.type),
            ani=d.ani[: self._max_text] if d.HasField("ani") else None,
            dnis=d.dnis[: self._max_text] if d.HasField("dnis") else None,
            language=d.language[: self._max_text] if d.HasField("language") else None,
            attributes=attributes,
        )
        self.dialog = started
        self._session_id = message.session_id
        self.state = DialogState.STREAMING
        logger.debug("dialog %s started (session %s)", d.id, message.session_id)
        events: list[DialogEvent] = [started]
        if dropped:
            # attributes are metadata: too many or too long ones are not worth a refusal
            events.append(
                self._malformed(
                    "attributes_trimmed",
                    f"{dropped} of {len(d.attributes)} dialog attributes dropped (at most "
                    f"{self._max_attributes}, {self._max_attribute_chars} characters each)",
                )
            )
        return events

    def _attributes(self, given: Mapping[str, str]) -> tuple[dict[str, str], int]:
        kept: dict[str, str] = {}
        limit = self._max_attribute_chars
        for key in sorted(given):
            value = given[key]
            if len(kept) < self._max_attributes and len(key) <= limit and len(value) <= limit:
                kept[key] = value
        return kept, len(given) - len(kept)

    def _start(self, s: pb.SegmentStartEvent) -> SegmentStarted:
        sid = self._segment_id(s.segment_id)
        if sid in self._segments:
            raise MalformedMessage("duplicate_segment", f"segment_start for {sid!r} again")
        if len(self._segments) >= self._max_segments:
            raise MalformedMessage(
                "too_many_segments", f"segment {sid!r}: over {self._max_segments} per dialog"
            )
        p = s.participant
        if len(p.id) > self._max_id:
            raise MalformedMessage("bad_participant", f"participant id of {len(p.id)} chars")
        ptype = PARTICIPANT_TYPES.get(p.type, ParticipantType.OTHER)
        fmt = self._format(sid, p.id, s.audio_format if s.HasField("audio_format") else None)
        product_id = product_type = None
        if s.HasField("product"):
            if len(s.product.id) > self._max_id:
                raise MalformedMessage("bad_product", f"product id of {len(s.product.id)} chars")
            product_id = s.product.id
            product_type = PRODUCT_TYPES.get(s.product.type)
        side = Side.LEFT if ptype is ParticipantType.AGENT else Side.RIGHT
        offset = self.mixer.open_segment(sid, side, ptime_ms=fmt.ptime_ms)
        info = SegmentStarted(
            segment_id=sid,
            participant_id=p.id,
            participant_type=ptype,
            name=p.name[: self._max_text] if p.HasField("name") else None,
            product_id=product_id,
            product_type=product_type,
            codec=fmt.codec,
            rate_hz=fmt.rate_hz,
            ptime_ms=fmt.ptime_ms,
            offset_ms=offset,
        )
        self._segments[sid] = _Segment(info, fmt)
        logger.debug("segment %s (%s %s) started at %d ms", sid, ptype, p.id, offset)
        return info

    def _format(self, sid: str, participant: str, given: pb.AudioFormat | None) -> AudioFormat:
        # spec §11.4: "The first SegmentStart of each participant carries its AudioFormat".
        inherited = (
            self._participant_formats.get(participant) or self._dialog_format or DEFAULT_FORMAT
        )
        if given is None:
            return inherited
        if given.codec == pb.CODEC_UNSPECIFIED:
            codec = inherited.codec
        elif given.codec in REFUSED_CODECS:
            self._refuse(
                f"segment {sid!r}: codec {REFUSED_CODECS[given.codec]} is not supported; "
                "callscope decodes PCMU, PCMA and L16 at 8000 Hz",
                "UNIMPLEMENTED",
            )
        elif given.codec in CODECS:
            codec = CODECS[given.codec]
        else:
            self._refuse(f"segment {sid!r}: unknown codec number {given.codec}", "INVALID_ARGUMENT")
        rate = given.rate or inherited.rate_hz
        if rate != ACCEPTED_RATE_HZ:
            self._refuse(
                f"segment {sid!r}: audio at {rate} Hz is not supported; "
                f"callscope accepts {ACCEPTED_RATE_HZ} Hz",
                "UNIMPLEMENTED",
            )
        ptime = given.ptime or inherited.ptime_ms
        if not MIN_PTIME_MS <= ptime <= self._max_chunk_ms:
            self._refuse(
                f"segment {sid!r}: ptime {ptime} ms outside {MIN_PTIME_MS}…{self._max_chunk_ms}",
                "INVALID_ARGUMENT",
            )
        fmt = AudioFormat(codec, rate, ptime)
        if self._dialog_format is None:
            self._dialog_format = fmt
        self._participant_formats.setdefault(participant, fmt)
        return fmt

    def _media(self, m: pb.SegmentMediaEvent, now: float | None) -> None:
        seg = self._live(m.segment_id, "segment_media")
        if not m.HasField("audio_content"):
            raise MalformedMessage("no_audio", f"segment_media for {m.segment_id!r} without audio")
        ac = m.audio_content
        payload = ac.payload
        n = len(payload)
        if n == 0:
            raise MalformedMessage("empty_payload", f"segment {m.segment_id!r} seq {ac.seq}")
        if n > self._max_payload:
            raise MalformedMessage("oversize", f"payload of {n} bytes")
        if ac.duration:
            if ac.duration > self._max_chunk_ms:
                raise MalformedMessage("bad_duration", f"duration {ac.duration} ms")
            if n != ac.duration * seg.bytes_per_ms:
                raise MalformedMessage(
                    "length_mismatch",
                    f"{n} bytes for {ac.duration} ms of {seg.info.codec} "
                    f"(expected {ac.duration * seg.bytes_per_ms})",
                )
        elif n % seg.sample_bytes:
            raise MalformedMessage("length_mismatch", f"{n} bytes of {seg.info.codec}")
        self.mixer.push(m.segment_id, ac.seq, seg.decode(payload), now=now)

    def _info(self, i: pb.SegmentInfoEvent, now: float | None) -> list[DialogEvent]:
        seg = self._live(i.segment_id, "segment_info")
        sid = i.segment_id
        events: list[DialogEvent] = [
            SegmentInfo(
                sid,
                i.event[: self._max_text],
                i.data[: self._max_text] if i.HasField("data") else None,
            )
        ]
        what = i.event.strip().lower()
        if what == "hold" and seg.held_since is None:
            offset = self.mixer.hold(sid, now=now)
            seg.held_since = offset
            events.append(SegmentHeld(sid, offset))
        elif what == "unhold" and seg.held_since is not None:
            offset = self.mixer.resume(sid, now=now)
            self._close_hold(seg, offset)
            events.append(SegmentResumed(sid, offset))
        return events

    def _stop(self, s: pb.SegmentStopEvent, now: float | None) -> SegmentStopped:
        seg = self._live(s.segment_id, "segment_stop")
        offset = self.mixer.close_segment(s.segment_id, now=now)
        if seg.held_since is not None:
            self._close_hold(seg, offset)
        seg.stop = offset
        logger.debug("segment %s stopped at %d ms", s.segment_id, offset)
        return SegmentStopped(s.segment_id, offset)

    # -- helpers -----------------------------------------------------------------------------

    def _segment_id(self, sid: str) -> str:
        if not sid or len(sid) > self._max_id:
            raise MalformedMessage("bad_segment_id", f"segment id of {len(sid)} characters")
        return sid

    def _live(self, sid: str, what: str) -> _Segment:
        seg = self._segments.get(sid)
        if seg is None:
            raise MalformedMessage("unknown_segment", f"{what} for unknown segment {sid!r:.60}")
        if seg.stop is not None:
            raise MalformedMessage("segment_stopped", f"{what} for stopped segment {sid!r:.60}")
        return seg

    def _close_hold(self, seg: _Segment, offset: int) -> None:
        if seg.held_since is not None and len(seg.held) < self._max_held:
            seg.held.append((seg.held_since, offset))
        seg.held_since = None

    def _malformed(self, kind: str, detail: str) -> Malformed:
        self.malformed[kind] += 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("malformed message (%s): %s", kind, detail[:120])
        return Malformed(kind, detail)

    def _refuse(self, reason: str, code: GrpcRefusal) -> Never:
        self.state = DialogState.REFUSED
        logger.debug("dialog refused (%s): %s", code, reason)
        raise DialogRefused(reason, grpc_code=code)
