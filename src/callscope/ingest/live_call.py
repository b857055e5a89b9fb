"""One stream being received: :class:`LiveCall` ties a stream's sans-I/O receiver
(:mod:`callscope.protocols.ringcx`, :mod:`callscope.protocols.twilio`) or a gRPC dialog's
media to the call's recording, transcription and supervision sinks, its database row and its
telephony session. Driven message by message by the transport; owned by
:class:`~callscope.ingest.service.IngestService`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter as TallyCounter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from callscope.calls.telephony import party_ids
from callscope.calls.telephony_events import LiveSession
from callscope.ingest.auth import ProfileView
from callscope.ingest.model import (
    CallLog,
    CallMedia,
    CloseFn,
    PingFn,
    UpgradeParams,
    mask_number,
    new_call_id,
    start_values,
)
from callscope.ingest.talkback import Talkback
from callscope.logsafe import clean
from callscope.media.jitter import PushResult
from callscope.media.pipeline import BlockSink, CallMediaPipeline, StereoBlock
from callscope.media.wav import WavWriter
from callscope.protocols.ringcx import (
    PERSPECTIVES,
    Malformed,
    Media,
    RingCXReceiver,
    Start,
    StartMetadata,
    Stop,
)
from callscope.protocols.twilio import Dtmf, Mark, Transfer, TwilioEvent, TwilioReceiver
from callscope.store.models import Call, CallStatus, TranscriptStatus
from callscope.store.repo import utcnow
from callscope.transcription.live import CallTranscript, TranscriptHub

if TYPE_CHECKING:
    from callscope.ingest.service import IngestService

__all__ = ["LiveCall"]

logger = logging.getLogger("callscope.ingest")


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
        self.log = CallLog(logger, {"call_id": "pending"})

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
            perspective, sequence_id, payload = event
            result = self.pipeline.push(perspective, sequence_id, payload, now)
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
        self.call_id = new_call_id()
        self.log = CallLog(logger, {"call_id": self.call_id})
        path = self.service.settings.recordings_dir / f"{self.call_id}.wav"
        self.writer = WavWriter(path)
        self.add_sink(self._write_block, name="recording", on_error=self._recording_failed)
        if isinstance(self.receiver, TwilioReceiver):
            for missing in self.receiver.missing_perspectives:  # a track not streamed: silence
                self.pipeline.end_channel(missing, time.monotonic())
        self.row = self._new_row(meta, str(path))
        hub = self.service.transcripts
        self.row.transcript_status = TranscriptStatus.LIVE if hub else TranscriptStatus.OFF
        self.row.node_id = self.service.node_id
        profile = self.profile
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
            self._attach_transcript(hub)
        if self.service.supervision is not None and self.session is not None:
            self.service.supervision.call_started(self)
        self.log.info(
            "started: RingCX call %s, agent %s, ANI %s",
            clean(self.row.ringcx_call_id),
            clean(self.row.agent_id),
            clean(mask_number(self.row.ani)),
        )

    def _new_row(self, meta: StartMetadata, path: str) -> Call:
        """The call's row from the upgrade query, the Start and the profile, in that order."""
        assert self.call_id is not None
        p, profile = self.params, self.profile
        start_meta = start_values(meta)
        start_meta.update({k: v for k, v in meta.extra.items() if isinstance(k, str)})
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

        return Call(
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
            recording_path=path,
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

    def _attach_transcript(self, hub: TranscriptHub) -> None:
        """Live transcription: the stereo feed as a sink, or the call's own feeds."""
        assert self.call_id is not None
        assert self.row is not None
        assert self.writer is not None
        customer, agent = party_ids(self.call_id) if self.session else (None, None)
        stereo = self.transcript_feeds is None
        transcript = hub.attach(
            self.call_id, self.row.account_ref, (agent, customer), self.writer.path, stereo=stereo
        )
        if stereo:
            self.add_sink(transcript.on_block, name="transcription")
        elif self.transcript_feeds is not None:
            self.transcript_feeds(transcript)
        if self.finished:
            hub.detach(self.call_id)

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
