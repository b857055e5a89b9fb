"""A RingCX gRPC dialog as a live call (spec §11.4): the receiver's events drive a
:class:`~callscope.ingest.service.LiveCall` exactly as a WebSocket stream's do.

A dialog is a call; each segment is a participant's leg. The call starts (its row,
recording, telephony session, transcript) when the first AGENT segment starts, or once
``START_AFTER_MS`` of dialog audio went by without one (an IVR or bot call); the audio before
that is kept and written first, nothing is lost. The streaming profile is settled then, from
the dialog's account (``sub_account_id``, ``rc_account_id``) and the first segment's
product: the stream's token must be that profile's secret. A later AGENT segment of another
agent is a transfer (parties, events, supervision follow as on two-way streams). Hold and
unhold, and every other segment event, are kept on the call's timeline; the per-segment
track list (participant, type, name, offsets, codec, held intervals, counters) is stored
with the call's Stop metadata. The stream's end is the call's: ``completed`` when every
segment got its ``segment_stop``, else ``abandoned``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from callscope.calls.telephony import participant_party_id, party_ids
from callscope.errors import IngestRefused
from callscope.ingest.auth import IngestAuth, StreamGrant
from callscope.ingest.service import CloseFn, IngestService, LiveCall, UpgradeParams
from callscope.media.dialog_mixer import DialogMixer
from callscope.media.pipeline import BlockSink, FrameCounters, StereoBlock
from callscope.protocols import ringcx_grpc as rx
from callscope.protocols.ringcx import Malformed, Start, StartMetadata
from callscope.protocols.twilio import Transfer
from callscope.store.models import CallStatus
from callscope.transcription.live import CallTranscript, PartyFeed

__all__ = ["START_AFTER_MS", "DialogMedia", "DialogStream"]

logger = logging.getLogger("callscope.ingest")

#: a dialog with no agent yet starts as a call once this much of its audio went by
START_AFTER_MS = 2000
#: timeline entries kept per call (further ones are counted)
MAX_TIMELINE = 200


@dataclass(slots=True)
class _SideTally:
    received: int = 0
    late: int = 0
    duplicate: int = 0
    missing: int = 0


class DialogMedia:
    """A dialog receiver seen as a call's media (:class:`~callscope.ingest.service.CallMedia`):
    the mixer's stereo blocks, and counters summed per side (AGENT segments left, the others
    right). Counts are of chunks (``ptime``, 100 ms by default), not of 20 ms frames."""

    def __init__(
        self, receiver: rx.DialogReceiver, on_finish: Callable[[], None] | None = None
    ) -> None:
        self.receiver = receiver
        self._on_finish = on_finish

    @property
    def sinks(self) -> list[BlockSink]:
        return self.receiver.mixer.sinks

    @property
    def written_frames(self) -> int:
        return self.receiver.mixer.written_frames

    @property
    def buffers(self) -> Sequence[_SideTally]:
        sides = (_SideTally(), _SideTally())
        for track in self.receiver.tracks():
            side = sides[0 if track.participant_type is rx.ParticipantType.AGENT else 1]
            c = track.counters
            side.received += c.received
            side.late += c.late
            side.duplicate += c.duplicate
            side.missing += c.missing
        return sides

    def counters(self) -> FrameCounters:
        agent, caller = self.buffers
        return FrameCounters.of(agent, caller, self.written_frames)

    def finish(self, now: float) -> None:
        self.receiver.finish(now=now)
        if self._on_finish is not None:
            self._on_finish()


def track_json(track: rx.Track) -> dict[str, Any]:
    return {
        "segmentId": track.segment_id,
        "participantId": track.participant_id,
        "participantType": track.participant_type.value,
        "name": track.name,
        "side": "agent" if track.participant_type is rx.ParticipantType.AGENT else "caller",
        "codec": track.codec.value,
        "startOffsetMs": track.start_offset_ms,
        "stopOffsetMs": track.stop_offset_ms,
        "held": [{"fromMs": a, "toMs": b} for a, b in track.held],
        "counters": dataclasses.asdict(track.counters),
    }


class DialogStream:
    """One gRPC ``Stream`` call: receive its messages with :meth:`receive`, end it with
    :meth:`finish`."""

    def __init__(
        self, service: IngestService, auth: IngestAuth, grant: StreamGrant, close: CloseFn
    ) -> None:
        self.auth = auth
        self.grant = grant
        # lag as on WebSocket streams: blocks against the dialog's real-time schedule
        self.receiver = rx.DialogReceiver(mixer=DialogMixer(lag_observer=service.frame_lag.observe))
        self.call = LiveCall(
            service, UpgradeParams({}), close, media=DialogMedia(self.receiver, self._seal)
        )
        # one transcript feed per participant (not the two mixed channels): each segment's
        # own audio, its speaker named by its participant type
        self.call.transcript_feeds = self._open_feeds
        self.transcript: CallTranscript | None = None
        self.participants: dict[str, rx.SegmentStarted] = {}
        self.feeds: dict[str, PartyFeed] = {}
        self._early_own: list[tuple[str, int, bytes]] = []
        if service.transcripts is not None:  # each segment's own audio costs a copy a block
            self.receiver.mixer.segment_sinks.append(self._own_audio)
        self.dialog: rx.DialogStarted | None = None
        self.product: tuple[str, str] | None = None  # (type, id) of the first segment naming one
        #: the RingCX agent id of the agent segment the call is with now
        self.agent_id: str | None = None
        self.timeline: list[dict[str, Any]] = []
        self.timeline_dropped = 0
        #: blocks made before the call started (at most START_AFTER_MS, then it starts)
        self._early: list[StereoBlock] = []
        self.receiver.mixer.sinks.append(self._keep)

    @property
    def started(self) -> bool:
        return self.call.row is not None

    def _keep(self, block: StereoBlock) -> None:
        self._early.append(block)

    # -- messages ----------------------------------------------------------------------------

    async def receive(self, data: bytes, now: float) -> None:
        """One serialized ``StreamEvent``.

        Raises:
            DialogRefused: the dialog cannot be accepted (abort with its gRPC status).
            IngestRefused: the dialog names a product or account its token's profile does not
                hold (abort with PERMISSION_DENIED); nothing was stored.
        """
        pending = self.feed(data, now)
        if pending is not None:
            await pending

    def feed(self, data: bytes, now: float) -> Coroutine[Any, Any, None] | None:
        """:meth:`receive` without a coroutine for the usual message: audio of a call that
        has started is handled here and now (None returned). Anything else returns the
        coroutine that finishes handling it, to be awaited before the next message.

        Raises:
            DialogRefused: as :meth:`receive`.
        """
        self.call.last_activity = now
        events = self.receiver.receive_bytes(data, now=now)
        if not events and self.call.row is not None:
            return None
        return self._handle(events)

    async def _handle(self, events: list[rx.DialogEvent]) -> None:
        for event in events:
            if isinstance(event, rx.DialogStarted):
                self.dialog = event
            elif isinstance(event, rx.SegmentStarted):
                await self._segment(event)
            elif isinstance(event, rx.Malformed):
                self.call._count_malformed(Malformed(event.kind, event.detail))
            else:
                self._note(event)
        if not self.started and self.receiver.mixer.head_ms >= START_AFTER_MS:
            await self._start(None)

    def tick(self, elapsed_ms: int, now: float) -> None:
        """Keep the timeline running while the whole stream pauses (a hold). A stream on
        hold may send nothing for minutes (spec §11.4): it is not idle."""
        self.receiver.tick(elapsed_ms, now=now)
        if self.receiver.on_hold:
            self.call.last_activity = now

    async def _segment(self, event: rx.SegmentStarted) -> None:
        self._note(event)
        self.participants[event.segment_id] = event
        if self.product is None and event.product_type is not None and event.product_id:
            self.product = (event.product_type.value, event.product_id)
        agent = event.participant_type is rx.ParticipantType.AGENT
        if not self.started:
            if agent:
                await self._start(event)
            return
        if agent and self.call.session is not None and event.participant_id != self.agent_id:
            self.agent_id = event.participant_id
            await self.call.transfer(Transfer(event.participant_id, "Blind"))
        self._open_feed(event)  # after a transfer: labelled with the new agent's party

    def _note(self, event: rx.DialogEvent) -> None:
        if len(self.timeline) >= MAX_TIMELINE:
            self.timeline_dropped += 1
            return
        entry: dict[str, Any] = {"event": type(event).__name__}
        for f in dataclasses.fields(event):
            value = getattr(event, f.name)
            if value is not None:
                entry[_camel(f.name)] = value.value if hasattr(value, "value") else value
        self.timeline.append(entry)

    # -- the call ----------------------------------------------------------------------------

    def claim(self) -> dict[str, str]:
        """What the dialog says of its account and product (checked against the profile)."""
        out: dict[str, str] = {}
        if self.dialog is not None:
            if self.dialog.sub_account_id:
                out["subaccountId"] = self.dialog.sub_account_id
            if self.dialog.rc_account_id:
                out["rcAccountId"] = self.dialog.rc_account_id
        if self.product is not None:
            out["productType"], out["productId"] = self.product
        return out

    async def _start(self, agent: rx.SegmentStarted | None) -> None:
        """Settle the profile and start the call; the audio kept so far is written first.

        Raises:
            IngestRefused: the dialog's account or product is not its token's profile's.
        """
        claim = self.claim()
        profile = self.auth.settle(self.grant, claim, {})
        d = self.dialog
        extra: dict[str, Any] = {"transport": "grpc"}
        if d is not None:
            extra.update(
                dialogId=d.dialog_id,
                direction=d.direction.value if d.direction else None,
                language=d.language,
                attributes=dict(d.attributes),
            )
        meta = StartMetadata(
            call_id=d.dialog_id if d else None,
            session_id=d.session_id if d else None,
            ani=d.ani if d else None,
            dnis=d.dnis if d else None,
            account_id=d.account_id if d else None,
            subaccount_id=claim.get("subaccountId"),
            rc_account_id=claim.get("rcAccountId"),
            agent_id=agent.participant_id if agent is not None else None,
            product_type=claim.get("productType"),
            product_id=claim.get("productId"),
            content_type="audio/x-mulaw",
            sample_rate_hz=8000,
            extra={k: v for k, v in extra.items() if v is not None},
        )
        self.call.profile = profile
        self.agent_id = meta.agent_id
        sinks = self.receiver.mixer.sinks
        sinks.remove(self._keep)
        await self.call.start(Start(meta))
        early, self._early = self._early, []
        for block in early:  # what was said before the call started goes first, in order
            for sink in sinks:
                sink(block)
        own, self._early_own = self._early_own, []
        for segment_id, frame, pcm in own:
            self._to_feed(segment_id, frame, pcm)

    async def finish(self, status: CallStatus | None, reason: str) -> None:
        """The stream ended (``status`` None: as its segments say). A dialog that never
        started as a call but has audio is started now: its audio is kept."""
        if not self.started and self.receiver.mixer.head_ms > 0 and not self.call.finished:
            self.receiver.finish(now=time.monotonic())
            try:
                await self._start(None)
            except IngestRefused as exc:
                logger.warning("gRPC dialog refused at its end: %s; nothing stored", exc.message)
                return
        if status is None:
            self.receiver.finish(now=time.monotonic())
            status = self.receiver.final_status
            reason = (
                "every segment stopped"
                if status is CallStatus.COMPLETED
                else "stream ended while segments were open"
            )
        if self.call.end_request is not None:
            status, reason = self.call.end_request
        await self.call.finish(status, reason)

    def _seal(self) -> None:
        """The call's media has finished: its tracks and timeline go with its Stop metadata
        (however the call ended: the stream, the idle sweeper, a shutdown)."""
        self.call.stop_metadata = {
            **self.call.stop_metadata,
            "tracks": [track_json(t) for t in self.receiver.tracks()],
            "timeline": self.timeline,
            "timelineDropped": self.timeline_dropped,
        }

    # -- transcripts: one feed per participant ----------------------------------------------

    def _open_feeds(self, transcript: CallTranscript) -> None:
        """The call's transcript exists (LiveCall.start): a feed for every segment so far."""
        self.transcript = transcript
        for event in self.participants.values():
            self._open_feed(event)

    def _open_feed(self, event: rx.SegmentStarted) -> None:
        transcript = self.transcript
        if transcript is None or transcript.ended or event.segment_id in self.feeds:
            return
        call_id = self.call.call_id or ""
        session = self.call.session
        kind = event.participant_type
        party: str | None
        if kind is rx.ParticipantType.AGENT:
            speaker, party = "agent", session.agent_party if session else None
        elif kind is rx.ParticipantType.CONTACT:
            speaker, party = "customer", party_ids(call_id)[0] if session else None
        else:  # a bot, or a participant RingCX did not type
            speaker = kind.value.lower()
            party = participant_party_id(call_id, event.participant_id)
        self.feeds[event.segment_id] = transcript.add_party(speaker, party)

    def _own_audio(self, segment_id: str, frame: int, pcm: bytes) -> None:
        if self.transcript is None:
            if not self.started:  # kept until the call starts, as its blocks are
                self._early_own.append((segment_id, frame, pcm))
            return
        self._to_feed(segment_id, frame, pcm)

    def _to_feed(self, segment_id: str, frame: int, pcm: bytes) -> None:
        feed = self.feeds.get(segment_id)
        if feed is not None:
            feed.push(pcm, frame, len(pcm) // 320)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)
