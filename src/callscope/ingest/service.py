"""Ingest service: live calls, their recordings, idle sweeping and crash recovery.

A :class:`LiveCall` ties one stream's sans-I/O receiver (:mod:`callscope.protocols.ringcx`)
to its media pipeline and WAV writer. :class:`IngestService` owns the set of live calls, the
database rows behind them, the idle sweeper, start-up recovery and shutdown. Transport (the
WebSocket) stays in :mod:`callscope.api.ingest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections import Counter as TallyCounter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from callscope.calls.telephony import TelephonyService, party_ids
from callscope.calls.telephony_events import LiveSession
from callscope.config import Settings
from callscope.errors import RecordingError
from callscope.ingest.auth import ProfileView
from callscope.insights.service import new_job
from callscope.lifecycle import Lifecycle
from callscope.logsafe import clean
from callscope.media.jitter import PushResult
from callscope.media.pipeline import BlockSink, CallMediaPipeline, FrameCounters, StereoBlock
from callscope.media.wav import WavWriter, repair_wav
from callscope.metrics import Histogram, Labels, Registry
from callscope.protocols.ringcx import (
    PERSPECTIVES,
    Malformed,
    Media,
    RingCXReceiver,
    Start,
    StartMetadata,
    Stop,
)
from callscope.protocols.twilio import (
    Dtmf,
    Mark,
    Track,
    Transfer,
    TwilioEvent,
    TwilioReceiver,
    build_clear,
    build_mark,
    build_outbound_media,
)
from callscope.store.models import Call, CallStatus, TranscriptStatus
from callscope.store.repo import CallRepository, utcnow
from callscope.store.writer import CallRowWriter
from callscope.transcription.live import CallTranscript, TranscriptHub

__all__ = [
    "CallMedia",
    "IngestService",
    "LiveCall",
    "Talkback",
    "UpgradeParams",
    "start_values",
]

logger = logging.getLogger("callscope.ingest")

#: Upgrade query parameter names (spec §11.3 proposal: the Start metadata key names).
UPGRADE_KEYS = (
    "callId", "sessionId", "ani", "dnis", "accountId", "subaccountId", "rcAccountId",
    "agentId", "productType", "productId",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class UpgradeParams:
    """What the upgrade request's query string says about the call (secret removed)."""

    values: Mapping[str, str]

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> UpgradeParams:
        return cls({k: query[k][:64] for k in UPGRADE_KEYS if query.get(k)})

    def get(self, key: str) -> str | None:
        return self.values.get(key)


class SupervisionHooks(Protocol):
    """What ingest tells supervision about a call's life."""

    def call_started(self, call: LiveCall) -> None: ...
    def call_ended(self, call: LiveCall) -> None: ...
    async def call_transferred(self, call: LiveCall, old_agent: int | None) -> None: ...


class _CallLog(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"[call {self.extra['call_id'] if self.extra else '?'}] {msg}", kwargs


class Tally(Protocol):
    """One side's frame accounting (a jitter buffer, or a dialog side's sum)."""

    @property
    def received(self) -> int: ...
    @property
    def late(self) -> int: ...
    @property
    def duplicate(self) -> int: ...
    @property
    def missing(self) -> int: ...


class CallMedia(Protocol):
    """A call's audio as the rest of callscope sees it: 20 ms stereo blocks to its sinks
    (:class:`~callscope.media.pipeline.CallMediaPipeline` for WebSocket streams,
    :class:`~callscope.ingest.dialog.DialogMedia` for gRPC dialogs)."""

    @property
    def sinks(self) -> list[BlockSink]: ...
    @property
    def written_frames(self) -> int: ...
    @property
    def buffers(self) -> Sequence[Tally]: ...
    def counters(self) -> FrameCounters: ...
    def finish(self, now: float) -> None: ...


CloseFn = Callable[[int, str], Awaitable[None]]
SendFn = Callable[[str], Awaitable[None]]
PingFn = Callable[[], Coroutine[Any, Any, None]]


class Talkback:
    """The way back into a two-way call stream: audio to play to the agent, the customer or
    both (``media`` on the Twilio-style stream), ``mark`` and ``clear``."""

    def __init__(self, stream_sid: str, send: SendFn) -> None:
        self.stream_sid = stream_sid
        self._send = send
        self.frames_sent: TallyCounter[str] = TallyCounter()
        self.marks_sent = 0
        self.marks_played: list[str] = []
        self.closed = False

    async def media(self, tracks: Iterable[Track], ulaw: bytes) -> bool:
        """Play ``ulaw`` (8 kHz μ-law) into each track's direction. False once closed."""
        if self.closed:
            return False
        try:
            for track in tracks:
                await self._send(build_outbound_media(self.stream_sid, track, ulaw))
                self.frames_sent[track.value] += 1
        except (ConnectionError, RuntimeError):
            self.closed = True
            return False
        return True

    async def mark(self, name: str) -> None:
        if not self.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._send(build_mark(self.stream_sid, name))
                self.marks_sent += 1

    async def clear(self) -> None:
        """Drop whatever the platform still holds to play (a coach who stopped talking)."""
        if not self.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._send(build_clear(self.stream_sid))


class LiveCall:
    """One stream being received. Driven message by message by the transport."""

    def __init__(
        self,
        service: IngestService,
        params: UpgradeParams,
        close: CloseFn,
        *,
        receiver: RingCXReceiver | TwilioReceiver | None = None,
        media: CallMedia | None = None,
    ) -> None:
        s = service.settings
        self.service = service
        self.params = params
        self._close_transport = close
        self.receiver = receiver if receiver is not None else RingCXReceiver()
        #: set for a two-way stream: how audio gets back into the call (None: one-way)
        self.talkback: Talkback | None = None
        self.dtmf_digits = 0
        if media is None:
            #: the WebSocket streams' media (on_text feeds it); a gRPC dialog brings its own
            self.pipeline = CallMediaPipeline(
                window_frames=s.ingest_window_frames,
                max_skew_frames=s.ingest_max_skew_frames,
                batch_frames=s.ingest_batch_frames,
                max_gap_frames=s.ingest_max_gap_frames,
                max_concealed_frames=round(s.ingest_max_concealed_s * 50),  # 20 ms frames
                lag_observer=service.frame_lag.observe,
            )
            media = self.pipeline
        #: where the call's stereo blocks come from: recording, transcription and supervision
        #: taps are its sinks
        self.media: CallMedia = media
        self.call_id: str | None = None
        self.row: Call | None = None
        self.writer: WavWriter | None = None
        self.malformed: TallyCounter[str] = TallyCounter()
        #: sequenceId jumps the stream re-anchored at
        self.jumps = 0
        self._ending: asyncio.Task[None] | None = None
        self.last_activity = time.monotonic()
        self.stop_metadata: dict[str, Any] = {}
        self.finished = False
        #: set by whoever ends the call from outside the stream (idle sweeper, shutdown), so
        #: the transport's own clean-up records that reason rather than "disconnected"
        self.end_request: tuple[CallStatus, str] | None = None
        self.session: LiveSession | None = None
        #: the streaming profile the stream proved (set at Start); None: unauthenticated
        self.profile: ProfileView | None = None
        #: None: the transcript is made from the call's two channels; else the call opens a
        #: feed per participant itself, given the transcript (a gRPC dialog's segments)
        self.transcript_feeds: Callable[[CallTranscript], None] | None = None
        self.connected_at = time.monotonic()
        #: set by a WebSocket transport: sends one keepalive ping (never raises)
        self.ping: PingFn | None = None
        self.last_ping = self.connected_at
        self.log = _CallLog(logger, {"call_id": "pending"})

    @property
    def authenticated(self) -> bool:
        """Whether the stream proved its profile's secret (only such a call is supervised)."""
        return self.profile is not None

    # -- messages ------------------------------------------------------------------------

    def on_text(self, data: str | bytes, now: float) -> TwilioEvent:
        """Handle one message. Raises StreamRefused for an unacceptable Start."""
        self.last_activity = now
        event = self.receiver.receive_text(data)
        if type(event) is Media:
            result = self.pipeline.push(event.perspective, event.sequence_id, event.payload, now)
            if result is not PushResult.ACCEPTED:
                self._pushed(event, result)
        elif type(event) is Malformed:
            self._count_malformed(event)
        elif type(event) is Stop:
            for p in PERSPECTIVES if event.all_stopped else (event.closed,):
                self.pipeline.end_channel(p, now)
            self.stop_metadata = {
                k: v
                for k, v in (("duration", event.duration), ("end_time", event.end_time))
                if v is not None
            }
        elif type(event) is Mark:
            if self.talkback is not None:
                self.talkback.marks_played.append(event.name)
                del self.talkback.marks_played[:-16]
        elif type(event) is Dtmf:
            self.dtmf_digits += 1  # the digits themselves are not kept: they can be card numbers
        return event

    def _pushed(self, event: Media, result: PushResult) -> None:
        """A Media frame the pipeline did not simply accept."""
        if result is PushResult.JUMP:
            self._count_malformed(
                Malformed("sequence_jump", f"{event.perspective.wire_name} {event.sequence_id}")
            )
        elif result is PushResult.REANCHORED:
            self.jumps += 1
            if self.jumps == 1:  # once per call: a sender could re-anchor on every frame
                self.log.warning(
                    "%s sequenceId jumped to %d: stream re-anchored there, the gap filled "
                    "with at most %d frames of silence",
                    event.perspective.wire_name,
                    event.sequence_id,
                    self.service.settings.ingest_max_gap_frames,
                )
        elif result is PushResult.REFUSED and self._ending is None and self.end_request is None:
            # Bounded concealment (callscope.media.pipeline): the call ends here, as the
            # idle sweeper would end it, with the reason on its row.
            reason = f"{self.pipeline.refusal}; stream closed"
            self.log.warning("too much silence concealed: closing the stream")
            self._ending = asyncio.get_running_loop().create_task(
                self.end(
                    CallStatus.ABANDONED,
                    reason,
                    close_code=1008,
                    close_reason="too much silence concealed",
                )
            )

    def on_binary(self, data: bytes, now: float) -> None:
        self.last_activity = now
        self._count_malformed(Malformed("wrong_type", f"binary message of {len(data)} bytes"))

    def _count_malformed(self, event: Malformed) -> None:
        first = not self.malformed
        self.malformed[event.kind] += 1
        # Logged once per call (the rest at DEBUG, and totalled when the call ends): a flood
        # of bad frames must not flood the log.
        if first:
            self.log.warning(
                "malformed message (%s): %s; further ones are counted",
                event.kind,
                clean(event.detail),
            )
        elif self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("malformed message (%s): %s", event.kind, clean(event.detail))

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, event: Start) -> None:
        """Create the call row and its recording. Called once the Start was accepted."""
        meta = event.metadata
        p = self.params
        self.call_id = new_call_id()
        self.log = _CallLog(logger, {"call_id": self.call_id})
        path = self.service.settings.recordings_dir / f"{self.call_id}.wav"
        self.writer = WavWriter(path)
        self.add_sink(self._write_block, name="recording", on_error=self._recording_failed)
        if isinstance(self.receiver, TwilioReceiver):
            for missing in self.receiver.missing_perspectives:  # a track not streamed: silence
                self.pipeline.end_channel(missing, time.monotonic())
        start_meta = start_values(meta)
        start_meta.update({k: v for k, v in meta.extra.items() if isinstance(k, str)})
        profile = self.profile
        # what the stream's profile holds fills in what the stream did not say (and what it
        # said agrees with the profile: callscope.ingest.auth)
        held: dict[str, str] = (
            {
                "rcAccountId": profile.account_id,
                "subaccountId": profile.sub_account_id,
                "productType": profile.product_type,
                "productId": str(profile.product_id),
            }
            if profile is not None
            else {}
        )

        def pick(query_key: str, value: str | None) -> str | None:
            return p.get(query_key) or value or held.get(query_key)

        self.row = Call(
            id=self.call_id,
            ringcx_call_id=pick("callId", meta.call_id),
            session_id=pick("sessionId", meta.session_id),
            ani=pick("ani", meta.ani),
            dnis=pick("dnis", meta.dnis),
            account_id=pick("accountId", meta.account_id),
            subaccount_id=pick("subaccountId", meta.subaccount_id),
            rc_account_id=pick("rcAccountId", meta.rc_account_id),
            agent_id=pick("agentId", meta.agent_id),
            product_type=pick("productType", meta.product_type),
            product_id=pick("productId", meta.product_id),
            status=CallStatus.LIVE,
            started_at=utcnow(),
            recording_path=str(path),
            frames_agent=0,
            frames_caller=0,
            late_frames=0,
            duplicate_frames=0,
            missing_frames=0,
            malformed_messages=0,
            upgrade_params=dict(p.values),
            start_metadata=start_meta,
            stop_metadata={},
        )
        hub = self.service.transcripts
        self.row.transcript_status = TranscriptStatus.LIVE if hub else TranscriptStatus.OFF
        self.row.node_id = self.service.node_id
        self.row.profile_id = profile.id if profile is not None else None
        telephony = self.service.telephony
        if profile is not None:
            self.row.account_ref = profile.account_id  # never an account merely named
        elif telephony is not None:  # an unauthenticated stream (the operator's opt-in)
            self.row.account_ref = await telephony.account_for(self.row)
            if self.row.account_ref is None:
                self.log.warning(
                    "rcAccountId %s names no account: the call is recorded but no account "
                    "sees it (create the account, or set ingest_default_account)",
                    clean(self.row.rc_account_id),
                )
        await self.service.register(self)
        if telephony is not None:
            self.session = await telephony.open(self.row)
            if self.finished:  # ended (sweeper, shutdown) while the session was being built
                ended = self.end_request[0] if self.end_request else CallStatus.ABANDONED
                telephony.close(self.session, ended)
        if hub is not None:
            customer, agent = party_ids(self.call_id) if self.session else (None, None)
            stereo = self.transcript_feeds is None
            transcript = hub.attach(
                self.call_id,
                self.row.account_ref,
                (agent, customer),
                self.writer.path,
                stereo=stereo,
            )
            if stereo:
                self.add_sink(transcript.on_block, name="transcription")
            elif self.transcript_feeds is not None:
                self.transcript_feeds(transcript)
            if self.finished:
                hub.detach(self.call_id)
        if self.service.supervision is not None and self.session is not None:
            self.service.supervision.call_started(self)
        self.log.info(
            "started: RingCX call %s, agent %s, ANI %s",
            clean(self.row.ringcx_call_id),
            clean(self.row.agent_id),
            clean(_mask_number(self.row.ani)),
        )

    def _write_block(self, block: StereoBlock) -> None:
        assert self.writer is not None
        self.writer.write_interleaved(block.pcm)

    # -- sinks -----------------------------------------------------------------------------

    def add_sink(
        self,
        sink: BlockSink,
        *,
        name: str,
        on_error: Callable[[Exception], None] | None = None,
    ) -> BlockSink:
        """Give the call's blocks to ``sink``, isolated: a sink that raises is counted
        (``callscope_sink_failures_total``), detached and never called again, and the others
        go on; ``on_error`` then decides what its failure means for the call. Returns the
        guarded sink (what :meth:`remove_sink` takes)."""
        failed = False

        def guarded(block: StereoBlock) -> None:
            nonlocal failed
            if failed:
                return
            try:
                sink(block)
            except Exception as exc:
                failed = True
                self._sink_failed(guarded, name, exc, on_error)

        self.media.sinks.append(guarded)
        return guarded

    def remove_sink(self, sink: BlockSink) -> None:
        with contextlib.suppress(ValueError):
            self.media.sinks.remove(sink)

    def _sink_failed(
        self,
        guarded: BlockSink,
        name: str,
        exc: Exception,
        on_error: Callable[[Exception], None] | None,
    ) -> None:
        self.service.sink_failures.inc(sink=name)
        self.log.error("%s sink failed and was detached: %s", name, clean(str(exc), 300))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._detach_failed(guarded, exc, on_error)
        else:
            # after the pipeline's loop over its sinks: removing now would skip the next one
            loop.call_soon(self._detach_failed, guarded, exc, on_error)

    def _detach_failed(
        self, guarded: BlockSink, exc: Exception, on_error: Callable[[Exception], None] | None
    ) -> None:
        self.remove_sink(guarded)
        if on_error is not None:
            on_error(exc)

    def _recording_failed(self, exc: Exception) -> None:
        """The recording cannot be written (disk full…): the call ends, with that reason."""
        if self._ending is not None or self.end_request is not None or self.finished:
            return
        self._ending = asyncio.get_running_loop().create_task(
            self.end(
                CallStatus.ABANDONED,
                f"recording failed: {exc}",
                close_code=1011,
                close_reason="recording failed",
            )
        )

    async def finish(self, status: CallStatus, reason: str) -> None:
        """Flush, close the recording and store the final state. Idempotent."""
        if self.finished:
            return
        self.finished = True
        self.media.finish(time.monotonic())
        if self.talkback is not None:
            self.talkback.closed = True
        if self.row is None or self.writer is None:
            return
        if self.service.supervision is not None:
            self.service.supervision.call_ended(self)
        if self.service.transcripts is not None and self.call_id is not None:
            self.service.transcripts.detach(self.call_id)
        try:
            self.writer.close()
        except OSError as exc:
            self.log.error("closing recording failed: %s", exc)
        values = {
            **self.checkpoint_values(),
            "status": status,
            "end_reason": reason[:200],
            "ended_at": utcnow(),
            "stop_metadata": self.stop_metadata,
        }
        if self.session is not None and self.service.telephony is not None:
            self.service.telephony.close(self.session, status)
        await self.service.unregister(self, status, values)
        self.log.info(
            "%s (%s): %.1f s recorded, missing %d, late %d, duplicate %d, malformed %d",
            status.value,
            clean(reason, 200),
            self.writer.duration_ms / 1000,
            values["missing_frames"],
            values["late_frames"],
            values["duplicate_frames"],
            values["malformed_messages"],
        )

    async def transfer(self, event: Transfer) -> None:
        """The platform moved the call to another agent: new agent party, presence, and
        supervision follows (Call scope) or lets go (Agent scope)."""
        telephony = self.service.telephony
        if self.session is None or telephony is None or self.row is None or self.finished:
            return
        old = self.session.agent_extension
        new_agent = await telephony.transfer(self.session, self.row, event.agent_id, event.kind)
        if self.service.transcripts is not None and self.call_id is not None:
            transcript = self.service.transcripts.get(self.call_id)
            if transcript is not None and transcript.feeds and self.transcript_feeds is None:
                feed = transcript.feeds[0]  # the call's stereo feed: its agent is new now
                feed.party_ids = (self.session.agent_party, *feed.party_ids[1:])
        self.log.info(
            "transferred (%s) to RingCX agent %s%s",
            clean(event.kind),
            clean(event.agent_id),
            "" if new_agent else " (no extension has that agent id)",
        )
        if self.service.supervision is not None:
            await self.service.supervision.call_transferred(self, old)

    async def end(
        self, status: CallStatus, reason: str, *, close_code: int, close_reason: str
    ) -> None:
        """End the call from outside the stream: record why, close the socket, finish."""
        self.end_request = (status, reason)
        await self._close_transport(close_code, close_reason)
        await self.finish(status, reason)

    def checkpoint_values(self) -> dict[str, Any]:
        c = self.media.counters()
        return {
            "duration_ms": self.writer.duration_ms if self.writer else 0,
            "frames_agent": c.received[0],
            "frames_caller": c.received[1],
            "late_frames": sum(c.late),
            "duplicate_frames": sum(c.duplicate),
            "missing_frames": sum(c.missing),
            "malformed_messages": sum(self.malformed.values()),
        }


def start_values(meta: StartMetadata) -> dict[str, Any]:
    """The Start metadata under its wire names (spec §11.3), as stored with the call."""
    return {
        "callId": meta.call_id,
        "sessionId": meta.session_id,
        "ani": meta.ani,
        "dnis": meta.dnis,
        "accountId": meta.account_id,
        "subaccountId": meta.subaccount_id,
        "rcAccountId": meta.rc_account_id,
        "agentId": meta.agent_id,
        "productType": meta.product_type,
        "productId": meta.product_id,
        "contentType": meta.content_type,
        "sampleRateHertz": meta.sample_rate_hz,
    }


def new_call_id() -> str:
    """Sortable, unique call id: time in ms + 48 random bits."""
    return f"c{int(time.time() * 1000):013x}{secrets.token_hex(6)}"


def _mask_number(number: str | None) -> str:
    # Phone numbers are personal data: logs keep the last four digits only.
    if not number:
        return "-"
    return "…" + number[-4:]


class IngestService:
    """Owns live calls, their metrics and their persistence."""

    def __init__(self, settings: Settings, calls: CallRepository, registry: Registry) -> None:
        self.settings = settings
        self.calls = calls
        self.live: dict[str, LiveCall] = {}
        #: every accepted stream, started or not
        self.connections: set[LiveCall] = set()
        #: set while no stream is open (a drain waits on it)
        self.idle = asyncio.Event()
        self.idle.set()
        #: set by the app: once it drains, new streams are refused (callscope.lifecycle)
        self.lifecycle = Lifecycle()
        #: open streams by client address (both transports)
        self.per_ip: TallyCounter[str] = TallyCounter()
        self.rows = CallRowWriter(calls)
        #: set by the app: turns calls into telephony sessions (None: recording only)
        self.telephony: TelephonyService | None = None
        #: set by the app: live transcription (None: off)
        self.transcripts: TranscriptHub | None = None
        #: set by the app: supervisors listening, coaching, barging (None: off)
        self.supervision: SupervisionHooks | None = None
        #: set by the app: every ended call of an account gets an insights job
        self.insights = False
        #: this node's name, stored on its calls (a cluster recovers a dead node's calls)
        self.node_id: str = settings.effective_node_id
        #: in a cluster, start-up recovery is left to the app (under the node's lease)
        self.recover_at_start = True
        #: why this node refuses new streams (it fenced itself off its cluster); None: it
        #: takes them
        self.fenced: str | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._pings: set[asyncio.Task[None]] = set()
        self._finished_totals: TallyCounter[Labels] = TallyCounter()
        self._malformed_totals: TallyCounter[Labels] = TallyCounter()
        reg = registry
        reg.gauge("callscope_live_calls", "Calls being received now.", lambda: len(self.live))
        reg.gauge(
            "callscope_ingest_connections", "Open ingest WebSockets.", lambda: len(self.connections)
        )
        self.calls_total = reg.counter("callscope_calls_total", "Calls ended, by final status.")
        self.sink_failures = reg.counter(
            "callscope_sink_failures_total",
            "Call audio consumers (recording, transcription, supervision) that failed and "
            "were detached, by sink.",
        )
        self.refused_total = reg.counter(
            "callscope_streams_refused_total", "Streams refused before or at Start, by reason."
        )
        reg.counter(
            "callscope_frames_received_total",
            "Media frames accepted, by perspective.",
            live=lambda: self._frame_totals("received"),
        )
        for kind, text in (
            ("late", "Frames that arrived after their slot was concealed."),
            ("duplicate", "Frames received more than once."),
            ("missing", "Frames never received in time, written as silence."),
        ):
            reg.counter(
                f"callscope_frames_{kind}_total",
                text,
                live=lambda kind=kind: self._frame_totals(kind),  # type: ignore[misc]
            )
        reg.counter(
            "callscope_malformed_messages_total",
            "Messages dropped as malformed, by kind.",
            live=self._malformed_live,
        )
        self.frame_lag: Histogram = reg.histogram(
            "callscope_frame_lag_seconds",
            "Age of a frame when written, against the real-time schedule of its call.",
            (0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0),
        )

    # -- metrics folding -----------------------------------------------------------------

    def _frame_totals(self, kind: str) -> Iterable[tuple[Labels, float]]:
        totals: TallyCounter[Labels] = TallyCounter()
        for key, v in self._finished_totals.items():
            if key[0] == ("kind", kind):
                totals[key[1:]] += v
        for call in self.live.values():
            for p, buf in zip(("agent", "caller"), call.media.buffers, strict=True):
                totals[(("perspective", p),)] += getattr(buf, kind)
        return totals.items()

    def _malformed_live(self) -> Iterable[tuple[Labels, float]]:
        totals = TallyCounter(self._malformed_totals)
        for call in self.live.values():
            for kind, n in call.malformed.items():
                totals[(("kind", kind),)] += n
        return totals.items()

    # -- live calls ----------------------------------------------------------------------

    def admit(self, peer: str) -> bool:
        r"""Count a new stream from ``peer`` (False: it has ``ingest_max_connections_per_ip``
        open already, refused and counted). Every admitted stream is :meth:`release`\ d."""
        if self.per_ip[peer] >= self.settings.ingest_max_connections_per_ip:
            self.refused_total.inc(reason="connections_per_ip")
            return False
        self.per_ip[peer] += 1
        return True

    def release(self, peer: str) -> None:
        self.per_ip[peer] -= 1
        if self.per_ip[peer] <= 0:
            del self.per_ip[peer]

    @property
    def accepting(self) -> bool:
        """Whether new streams are taken (not once the server drains)."""
        return not self.lifecycle.draining

    def attach(self, call: LiveCall) -> None:
        """A connection was accepted: the sweeper watches it even before its Start."""
        self.connections.add(call)
        self.idle.clear()

    def detach(self, call: LiveCall) -> None:
        self.connections.discard(call)
        if not self.connections:
            self.idle.set()

    async def register(self, call: LiveCall) -> None:
        assert call.row is not None
        assert call.call_id is not None
        self.rows.create(call.row)  # write-behind: ingest never waits on the database
        self.live[call.call_id] = call

    async def unregister(self, call: LiveCall, status: CallStatus, values: dict[str, Any]) -> None:
        assert call.call_id is not None
        self.live.pop(call.call_id, None)
        for p, buf in zip(("agent", "caller"), call.media.buffers, strict=True):
            for kind in ("received", "late", "duplicate", "missing"):
                self._finished_totals[(("kind", kind), ("perspective", p))] += getattr(buf, kind)
        for kind, n in call.malformed.items():
            self._malformed_totals[(("kind", kind),)] += n
        self.calls_total.inc(status=status.value)
        # The insights job commits with the call's final state: a restart finds it.
        jobs = [new_job(call.row)] if self.insights and call.row and call.row.account_ref else []
        await self.rows.update(call.call_id, values, creates=jobs)

    async def settle(self, timeout_s: float = 10.0) -> None:
        """Wait (bounded) until no stream is open and every row change is committed."""
        deadline = time.monotonic() + timeout_s
        while self.connections and time.monotonic() < deadline:  # noqa: ASYNC110 - bounded poll, demo only
            await asyncio.sleep(0.05)
        await asyncio.wait_for(self.rows.flush(), max(0.1, deadline - time.monotonic()))

    # -- background work -----------------------------------------------------------------

    async def start(self) -> None:
        if self.recover_at_start:
            await self.recover()
        self.rows.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="callscope-ingest-sweeper")

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for task in self._pings:
            task.cancel()
        await asyncio.gather(
            *(
                call.end(
                    CallStatus.INTERRUPTED,
                    "server shut down mid-call",
                    close_code=1001,
                    close_reason="server shutting down",
                )
                for call in list(self.connections)
            )
        )
        if self.transcripts is not None:
            await self.transcripts.stop()
        await self.rows.stop()

    async def fence(self, reason: str) -> None:
        """This node was cut off from its cluster: refuse new streams and end every open one
        as a crash would end it (``interrupted``, recording closed), the sender told why
        (WebSocket close 1001, gRPC ``UNAVAILABLE``), before another node takes this one for
        dead. Telephony sessions are closed as usual (their Disconnected written once:
        :mod:`callscope.store.writer` guards)."""
        self.fenced = reason
        calls = list(self.connections)
        if calls:
            logger.error("%s: ending %d stream(s)", reason, len(calls))
        await asyncio.gather(
            *(
                call.end(
                    CallStatus.INTERRUPTED,
                    f"{reason}; recording closed",
                    close_code=1001,
                    close_reason="node cut off from its cluster: reconnect",
                )
                for call in calls
            )
        )
        # committed before the others could take this node for dead (bounded: a database
        # that is down too must not hold the node fenced once Redis is back)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.rows.flush(), 10.0)

    def unfence(self) -> None:
        """Back in the cluster: take new streams again."""
        self.fenced = None

    async def _sweep(self) -> None:
        """Close streams silent for longer than the idle timeout; ping WebSocket streams;
        checkpoint counters."""
        timeout = self.settings.ingest_idle_timeout_s
        deadline = self.settings.ingest_start_deadline_s
        checkpoint_s = self.settings.ingest_checkpoint_interval_s
        ping_s = self.settings.ingest_ping_interval_s
        interval = min(1.0, timeout / 4, deadline / 4, checkpoint_s, ping_s or 1.0)
        last_checkpoint = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            if ping_s:
                self._keepalive(now, ping_s)
            # Every connection, started or not: one that never sends Start is closed too.
            idle = [c for c in self.connections if now - c.last_activity > timeout]
            late = [
                c
                for c in self.connections
                if c.call_id is None and now - c.connected_at > deadline and c not in idle
            ]
            if idle:
                # one line per sweep, not per stream: a flood of idle sockets must not
                # flood the log
                logger.warning(
                    "closing %d stream(s) silent for %.0f s (%s)",
                    len(idle),
                    timeout,
                    ", ".join(sorted(c.call_id or "not started" for c in idle)[:5]),
                )
            if late:
                logger.warning(
                    "closing %d stream(s) that sent no Start within %g s", len(late), deadline
                )
            # Concurrently: closing a dead peer's socket waits for its close timeout.
            await asyncio.gather(
                *(
                    call.end(
                        CallStatus.ABANDONED,
                        f"sender silent for {timeout:g} s without Stop",
                        close_code=1001,
                        close_reason="idle timeout",
                    )
                    for call in idle
                ),
                *(
                    call.end(
                        CallStatus.ABANDONED,
                        "no Start",
                        close_code=1008,
                        close_reason=f"no Start within {deadline:g} s",
                    )
                    for call in late
                ),
            )
            if now - last_checkpoint >= checkpoint_s:
                last_checkpoint = now
                self._checkpoint()

    def _keepalive(self, now: float, interval_s: float) -> None:
        """Ping each WebSocket stream every ``interval_s``, whatever it sends us: a proxy
        (nginx ``proxy_read_timeout``, cloud load balancers) cuts a connection that carries
        nothing towards the client for a while, and a RingCX stream is one-way. (aiohttp's
        own ``heartbeat`` pings only a socket that receives nothing, and closes it on a
        missing pong: RingCX's client may answer late under load, and a sender that stops
        sending is the idle timeout's to end.) Each stream pings on its own phase, from its
        connection time; the pings are tasks, so a slow peer holds no sweep."""
        for call in self.connections:
            if call.ping is not None and now - call.last_ping >= interval_s and not call.finished:
                call.last_ping = now
                task = asyncio.create_task(call.ping())
                self._pings.add(task)
                task.add_done_callback(self._pings.discard)

    def _checkpoint(self) -> None:
        """Store every live call's counters and duration: a crash loses one interval of them."""
        self.rows.update_many(
            {
                call.call_id: call.checkpoint_values()
                for call in self.live.values()
                if call.call_id and not call.finished
            }
        )

    async def recover(
        self, node_id: str | None = None, *, reason: str | None = None
    ) -> Sequence[Call]:
        """Repair the recordings of calls left ``live`` by a killed server: all of them
        (one node), or those of cluster node ``node_id`` and of no node.

        Returns:
            The calls marked ``interrupted`` (as they were read: still ``live``).
        """
        why = reason or "server stopped mid-call"
        rows = await self.calls.live(node_id)
        for row in rows:
            path = Path(row.recording_path)
            values: dict[str, Any] = {
                "status": CallStatus.INTERRUPTED,
                "end_reason": f"{why}; recording repaired",
            }
            try:
                info = repair_wav(path)
                values["duration_ms"] = info.duration_ms
                values["ended_at"] = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
            except RecordingError as exc:
                logger.error("call %s: recording could not be repaired: %s", row.id, exc)
                values["end_reason"] = f"{why}; recording unusable: {exc}"[:200]
                values["ended_at"] = utcnow()
            await self.calls.update(row.id, **values)
            self.calls_total.inc(status=CallStatus.INTERRUPTED.value)
            logger.warning("call %s was live when %s: marked interrupted", row.id, why)
        ids = [row.id for row in rows]
        if self.telephony is not None:
            await self.telephony.end_orphans(ids, CallStatus.INTERRUPTED)
        for call_id in await self.calls.unfinished_transcripts(None if node_id is None else ids):
            await self.calls.update(call_id, transcript_status=TranscriptStatus.INCOMPLETE)
            logger.warning("call %s: transcript left incomplete by %s", call_id, why)
        return rows
