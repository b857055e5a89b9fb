"""One RingCX gRPC dialog's media: per-segment ordering → two-sided mix → stereo blocks.

RingCX gRPC streaming (spec §11.4) sends one audio stream per *segment* (a participant's
leg: the caller, each agent a transfer adds, bots) where WebSocket streaming sent two
perspectives. This mixer turns the segments into the same stream of
:class:`~callscope.media.pipeline.StereoBlock` as
:class:`~callscope.media.pipeline.CallMediaPipeline` (20 ms frames, little-endian int16,
agent left, everyone else right), so the WAV writer, transcription and supervision taps
consume it unchanged. Pure: no clocks, no I/O; the caller
feeds decoded PCM (8 kHz int16) and segment lifecycle calls.

Timeline. The wire carries no timestamps, so dialog time is measured in audio. It starts at
0 with the first segment. The *head* is the furthest point any segment's audio has reached
(chunks held for reordering included). A segment opens at the head; hold, resume and stop
are placed at the head too (the ``offset_ms`` they return).

Per segment:

* chunks are reordered by ``seq`` in a :class:`~callscope.media.jitter.JitterBuffer` (a gap
  is waited for ``window_ms`` of later chunks, then concealed with ``ptime`` ms of silence and
  counted *missing*); a repeated ``seq`` is counted *duplicate*, one after its slot was
  concealed *late*, both dropped;
* a ``seq`` jump of more than ``max_gap_ms`` either way *re-anchors* the segment (as
  jitter.py refuses such jumps rather than write minutes of silence on the word of one
  message): what was pending is released and numbering restarts at the new ``seq``; no
  silence is written for the jump;
* an open segment whose audio ends more than ``max_skew_ms`` behind the head is concealed up
  to that bound (counted missing), so a leg that stops sending does not hold the others
  back. It is then *stalled*: its next chunk re-anchors and lands at the head less that
  chunk (on one gRPC stream every leg shares the transport, so a leg that falls behind
  paused at the sender, it was not delayed in the network);
* while a segment is on hold, silence is by design: it is concealed up to ``window_ms``
  behind the head and never counted missing; at resume it is brought to the head and its
  next chunk re-anchors. Streaming may pause entirely while the caller is on hold (spec
  §11.4): :meth:`DialogMixer.tick` keeps the timeline running then.

Mix: AGENT segments are summed on the left channel, all others on the right, clipped to
int16. Blocks are emitted up to the slowest open segment (its audio has passed the jitter
window already), in whole 20 ms frames, at least ``batch_frames`` at a time;
:meth:`DialogMixer.finish` flushes everything. Memory per open segment stays within about
``max_skew_ms`` of audio plus the jitter window.

Lag. The mixer reads no clock: each call that can emit takes ``now`` (monotonic seconds,
from the caller) and, with a ``lag_observer``, each block emitted is observed as
``max(0, now - due)``. ``due`` is when the block's last sample existed on the sender's
real-time schedule: the dialog's *epoch* plus the dialog time at the block's end. The epoch
is dialog time 0 on that schedule, taken from the first chunk of media: it arrived when its
audio ended (a live sender sends a chunk once it has it), so epoch = its arrival − where its
audio ends. A server that keeps up observes about 0 (a sender's ``ptime`` chunking is the
sender's, not counted); one that reads chunks late observes how late. Holds keep the
schedule: while the stream pauses, :meth:`DialogMixer.tick` moves dialog time on. Blocks
emitted by a call without ``now`` are not observed.

UNCONFIRMED (spec §11.4 does not say): that ``seq`` counts chunks, one per chunk, per
segment; whether ``seq`` runs on across a paused hold (both are handled: a resumed segment
re-anchors on its next ``seq``); that a missing chunk lasted ``ptime``. A segment's first
chunk anchors its numbering (its first ``seq`` is not known), so an earlier ``seq`` arriving
after it is dropped as a duplicate. Silence before a segment's first chunk is not counted
missing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from callscope.errors import InvalidState
from callscope.media.dialog_segment import (
    FRAME_SAMPLES,
    SAMPLES_PER_MS,
    Segment,
    SegmentCounters,
    SegmentSink,
    SegmentState,
    Side,
    consume,
    render,
)
from callscope.media.jitter import JitterBuffer, PushResult
from callscope.media.pipeline import FRAME_MS, SAMPLE_RATE_HZ, BlockSink, LagObserver, StereoBlock

__all__ = ["DialogMixer", "PushResult", "SegmentCounters", "SegmentSink", "Side"]

logger = logging.getLogger("callscope.media.dialog")


class DialogMixer:
    """Orders each segment's chunks and mixes the segments into stereo blocks.

    Args:
        window_ms: how long a gap is waited for (in later chunks of that segment) before it is
            concealed; also how far a held segment may lag before silence is written for it.
        max_skew_ms: how far an open segment may fall behind the head before it is concealed
            (missing) so the others are not held back; bounds memory and output delay.
        max_gap_ms: a ``seq`` jump longer than this re-anchors instead of writing silence.
        batch_frames: 20 ms frames gathered before a block is emitted (write granularity).
        sinks: callables receiving each :class:`StereoBlock` in order.
        lag_observer: called with (seconds, frames) for each block emitted by a call given
            ``now``: how late against the dialog's real-time schedule (see the module).

    ``segment_sinks`` receive, with each block, every segment's own audio in it (before the
    mix): ``(segment id, start frame, mono int16 PCM of the block's frames)``, silence where
    the segment has none (a participant's own transcript is made from it).
    """

    __slots__ = (
        "_batch",
        "_epoch",
        "_finished",
        "_head",
        "_lag_observer",
        "_max_gap_ms",
        "_max_skew",
        "_media_since_tick",
        "_now",
        "_pausing",
        "_quiet_since",
        "_segments",
        "_window",
        "_window_ms",
        "_written",
        "segment_sinks",
        "sinks",
    )

    def __init__(
        self,
        *,
        window_ms: int = 300,
        max_skew_ms: int = 2000,
        max_gap_ms: int = 10_000,
        batch_frames: int = 5,
        sinks: list[BlockSink] | None = None,
        lag_observer: LagObserver | None = None,
    ) -> None:
        if window_ms < FRAME_MS:
            raise ValueError(f"window_ms must be at least {FRAME_MS} (one frame)")
        if max_skew_ms < window_ms:
            raise ValueError("max_skew_ms must be at least window_ms")
        if max_gap_ms < max_skew_ms:
            raise ValueError("max_gap_ms must be at least max_skew_ms")
        if batch_frames < 1 or batch_frames * FRAME_MS > max_skew_ms:
            raise ValueError("need 1 ≤ batch_frames and batch_frames × 20 ms ≤ max_skew_ms")
        self._window_ms = window_ms
        self._window = window_ms * SAMPLES_PER_MS
        self._max_skew = max_skew_ms * SAMPLES_PER_MS
        self._max_gap_ms = max_gap_ms
        self._batch = batch_frames
        self.sinks: list[BlockSink] = list(sinks or [])
        self.segment_sinks: list[SegmentSink] = []
        self._segments: dict[str, Segment] = {}
        self._head = 0  # samples
        self._written = 0  # samples, whole frames
        self._media_since_tick = False
        self._finished = False
        self._lag_observer = lag_observer
        #: dialog time 0 on the sender's real-time schedule (None: no media yet)
        self._epoch: float | None = None
        #: the clock value of the call being handled (None: not given, nothing observed)
        self._now: float | None = None
        #: clock value of the last media, hold or paused advance: a pause runs from there
        self._quiet_since: float | None = None
        #: a tick found the whole stream paused on hold (and no media came since)
        self._pausing = False

    # -- state -------------------------------------------------------------------------------

    @property
    def head_ms(self) -> int:
        """Dialog time reached by the furthest segment."""
        return self._head // SAMPLES_PER_MS

    @property
    def written_frames(self) -> int:
        """20 ms frames emitted so far (the ``start_frame`` of the next block)."""
        return self._written // FRAME_SAMPLES

    def counters(self, segment_id: str) -> SegmentCounters:
        return self._get(segment_id).counters()

    # -- segment lifecycle -------------------------------------------------------------------

    def open_segment(self, segment_id: str, side: Side, *, ptime_ms: int) -> int:
        """Start a segment at the head; returns its offset in ms.

        Raises:
            InvalidState: the id is already used, or the mixer has finished.
        """
        if self._finished:
            raise InvalidState("the dialog mixer has finished")
        if segment_id in self._segments:
            raise InvalidState(f"segment {segment_id!r} was already opened")
        if ptime_ms < 1:
            raise ValueError("ptime_ms must be ≥ 1")
        window = max(1, -(-self._window_ms // ptime_ms))
        max_jump = max(window, self._max_gap_ms // ptime_ms)
        self._segments[segment_id] = Segment(
            segment_id, side, ptime_ms * SAMPLES_PER_MS, self._head, window, max_jump
        )
        logger.debug("segment %s opened at %d ms (side %s)", segment_id, self.head_ms, side.name)
        return self.head_ms

    def hold(self, segment_id: str, *, now: float | None = None) -> int:
        """The segment is on hold: its silence is by design from now. Returns the offset."""
        seg = self._live(segment_id)
        self._now = now
        if seg.state is SegmentState.OPEN:
            seg.state = SegmentState.HELD
            if now is not None:
                self._quiet_since = now  # the audio before the hold reaches the head
            logger.debug("segment %s held at %d ms", segment_id, self.head_ms)
            self._settle()
        return self.head_ms

    def resume(self, segment_id: str, *, now: float | None = None) -> int:
        """The segment is off hold: its next chunk lands at the head. Returns the offset."""
        seg = self._live(segment_id)
        self._now = now
        if seg.state is SegmentState.HELD:
            if self._pausing and now is not None and self._quiet_since is not None:
                # the pause ran on since the last tick: the hold lasts until now, not until
                # the tick before (the ticks' phase must not shorten it)
                self._pause(round((now - self._quiet_since) * 1000), now)
            seg.state = SegmentState.OPEN
            if seg.stalled:
                # It went quiet on hold: bring it to now and let its next seq, whatever the
                # sender numbered it, start afresh there.
                self._release_pending(seg)
                self._fill(seg, self._head, counted=False)
                seg.stalled = False
                seg.rebase = True
            logger.debug("segment %s resumed at %d ms", segment_id, self.head_ms)
            self._settle()
        return self.head_ms

    def close_segment(self, segment_id: str, *, now: float | None = None) -> int:
        """The segment stopped: what it holds is released; it no longer holds others back."""
        seg = self._live(segment_id)
        self._now = now
        self._release_pending(seg)
        seg.state = SegmentState.STOPPED
        logger.debug("segment %s stopped at %d ms", segment_id, self.head_ms)
        self._settle()
        return self.head_ms

    # -- media -------------------------------------------------------------------------------

    def push(
        self, segment_id: str, seq: int, pcm: bytes, *, now: float | None = None
    ) -> PushResult:
        """Offer one chunk of a segment: ``pcm`` is 8 kHz little-endian int16, received at
        monotonic time ``now`` (None: blocks it emits are not observed for lag).

        Returns:
            ``ACCEPTED``; ``DUPLICATE`` or ``LATE`` (dropped); ``JUMP``: accepted after
            re-anchoring on a ``seq`` jump beyond ``max_gap_ms``.

        Raises:
            InvalidState: the segment is unknown or stopped, or the mixer has finished.
        """
        seg = self._segments.get(segment_id)
        if seg is None or seg.state is SegmentState.STOPPED or self._finished:
            seg = self._live(segment_id)  # raises InvalidState, saying why
        self._media_since_tick = True
        self._now = now
        self._quiet_since, self._pausing = now, False
        chunk = len(pcm) // 2
        if self._epoch is None and now is not None:
            # the first chunk's audio ends at dialog sample seg.end + chunk, and it is here now
            self._epoch = now - (seg.end + chunk) / SAMPLE_RATE_HZ
        buf = seg.buffer
        if (
            buf is not None
            and seq == buf.next_seq
            and not buf.pending_frames
            and not seg.stalled
            and not seg.rebase
        ):
            # The usual chunk (next in order, nothing held back): what buf.push, _append and
            # _advance would do, without their generality: a fifth less CPU per chunk
            # (bench/ingest.py --transport grpc measures it).
            buf.received += 1
            buf.next_seq = seq + 1
            if seq > seg.max_seq:
                seg.max_seq = seq
            seg.audio += pcm
            end = seg.audio_start + len(seg.audio) // 2
            if end > self._head:
                self._head = end
            self._settle()
            return PushResult.ACCEPTED
        out: list[bytes | None] = []
        result = PushResult.ACCEPTED
        if buf is None or seg.stalled or seg.rebase:
            # its first chunk, the first after a stall (lands at the head) or after a resume
            buf = self._reanchor(seg, seq, chunk, at_head=seg.stalled)
        elif seq + seg.max_jump < buf.next_seq:
            # far behind is a sender numbering afresh, not a late chunk
            result = PushResult.JUMP
            buf = self._reanchor(seg, seq, chunk, at_head=True)
        else:
            result = buf.push(seq, pcm, out)
            if result is not PushResult.JUMP:
                seg.max_seq = max(seg.max_seq, seq)
                self._append(seg, out)
                self._advance(seg)
                return result
            # far ahead: re-anchor rather than write silence for the jump
            buf = self._reanchor(seg, seq, chunk, at_head=True)
        buf.push(seq, pcm, out)
        self._append(seg, out)
        self._advance(seg)
        return result

    def tick(self, elapsed_ms: int, *, now: float | None = None) -> None:
        """Keep the timeline running while the stream pauses during a hold.

        The server calls this on a timer with the time since its previous call. If no media
        arrived in between and some open segment is on hold, every open segment gets
        ``elapsed_ms`` of silence (by design, not missing): RingCX "may pause" streaming
        while the caller is on hold (spec §11.4), and the recording keeps the hold's length.

        With a clock (``now``), the pause is measured from the last media or the hold itself,
        whichever came later, and :meth:`resume` adds the time since the last tick: the hold
        keeps the length the server saw between the stream's last chunk and its ``unhold``,
        whatever the ticks' phase (without a clock, whole ``elapsed_ms`` steps).
        """
        quiet = not self._media_since_tick
        self._media_since_tick = False
        self._now = now
        if self._finished or not quiet or elapsed_ms <= 0:
            return
        if not any(s.state is SegmentState.HELD for s in self._segments.values()):
            return
        if now is not None and self._quiet_since is not None:
            elapsed_ms = round((now - self._quiet_since) * 1000)
        self._pause(elapsed_ms, now)
        self._pausing = True

    def _pause(self, elapsed_ms: int, now: float | None) -> None:
        """``elapsed_ms`` of the whole stream paused on hold: silence on every open segment."""
        self._quiet_since = now
        if elapsed_ms <= 0:
            return
        self._head += elapsed_ms * SAMPLES_PER_MS
        for seg in self._segments.values():
            if seg.state is not SegmentState.STOPPED:
                self._release_pending(seg)
                self._fill(seg, self._head, counted=False)
                seg.stalled = True
        self._settle()

    def finish(self, *, now: float | None = None) -> None:
        """End of dialog: release every segment's pending chunks and emit all audio held,
        the last frame padded with silence. Idempotent."""
        if self._finished:
            return
        self._now = now
        for seg in self._segments.values():
            self._release_pending(seg)
        self._emit(final=True)
        self._finished = True

    # -- internals ---------------------------------------------------------------------------

    def _get(self, segment_id: str) -> Segment:
        seg = self._segments.get(segment_id)
        if seg is None:
            raise InvalidState(f"unknown segment {segment_id!r}")
        return seg

    def _live(self, segment_id: str) -> Segment:
        if self._finished:
            raise InvalidState("the dialog mixer has finished")
        seg = self._get(segment_id)
        if seg.state is SegmentState.STOPPED:
            raise InvalidState(f"segment {segment_id!r} has stopped")
        return seg

    def _reanchor(self, seg: Segment, seq: int, chunk: int, *, at_head: bool) -> JitterBuffer:
        """Start the segment's numbering afresh at ``seq`` (pending chunks are released)."""
        old = seg.buffer
        if old is not None:
            self._release_pending(seg)
            seg.received += old.received
            seg.duplicate += old.duplicate
            seg.late += old.late
            if not seg.rebase:
                seg.reanchored += 1
                logger.debug("segment %s re-anchored at seq %d", seg.id, seq)
        if at_head:
            # The sender paused while the others went on: this chunk is recent audio.
            counted = old is not None and seg.state is not SegmentState.HELD
            self._fill(seg, self._head - chunk, counted=counted)
        buf = JitterBuffer(
            window_frames=seg.window, max_gap_frames=seg.max_jump, first_sequence_id=seq
        )
        seg.buffer = buf
        seg.max_seq = seq
        seg.stalled = seg.rebase = False
        return buf

    def _release_pending(self, seg: Segment) -> None:
        buf = seg.buffer
        if buf is not None and buf.pending_frames:
            out: list[bytes | None] = []
            buf.flush(out)
            self._append(seg, out)

    def _append(self, seg: Segment, released: Iterable[bytes | None]) -> None:
        for item in released:
            if item is None:
                seg.audio += bytes(2 * seg.ptime)
                if seg.state is SegmentState.HELD:
                    seg.paused += seg.ptime
                else:
                    seg.missing += 1
            else:
                seg.audio += item

    def _fill(self, seg: Segment, target: int, *, counted: bool) -> None:
        n = target - seg.end
        if n <= 0:
            return
        seg.audio += bytes(2 * n)
        if counted:
            seg.concealed += n
        else:
            seg.paused += n

    def _advance(self, seg: Segment) -> None:
        self._head = max(self._head, seg.frontier())
        self._settle()

    def _settle(self) -> None:
        head = self._head
        slowest: int | None = None  # where the slowest open segment's audio ends
        for seg in self._segments.values():
            state = seg.state
            if state is SegmentState.STOPPED:
                continue
            held = state is SegmentState.HELD
            bound = head - (self._window if held else self._max_skew)
            end = seg.audio_start + len(seg.audio) // 2
            if end < bound:
                self._release_pending(seg)
                if seg.end < bound:
                    # before its first chunk a segment is silent, not missing anything
                    counted = not held and seg.buffer is not None
                    self._fill(seg, bound, counted=counted)
                    seg.stalled = True
                end = seg.end
            if slowest is None or end < slowest:
                slowest = end
        self._emit(final=False, slowest=slowest)

    def _emit(self, *, final: bool, slowest: int | None = None) -> None:
        """Mix what is ready. ``slowest``: where the slowest open segment's audio ends, when
        the caller knows (:meth:`_settle`); None: looked up, or no segment is open."""
        segments = self._segments.values()
        if not segments:
            return
        if slowest is None and not final:
            slowest = min(
                (s.end for s in segments if s.state is not SegmentState.STOPPED), default=None
            )
        # the slowest open segment bounds output; with none open, or at the end, all goes
        ready = slowest if slowest is not None and not final else max(s.end for s in segments)
        span = ready - self._written
        frames = -(-span // FRAME_SAMPLES) if final else span // FRAME_SAMPLES
        if frames <= 0 or (frames < self._batch and not final):
            return
        self._mix(frames)

    def _mix(self, frames: int) -> None:
        a = self._written
        n = frames * FRAME_SAMPLES
        b = a + n
        pcm, own = render(self._segments.values(), a, n, own=bool(self.segment_sinks))
        for seg in self._segments.values():
            consume(seg, b)
        block = StereoBlock(a // FRAME_SAMPLES, pcm)
        self._written = b
        if self._lag_observer is not None and self._now is not None and self._epoch is not None:
            due = self._epoch + b / SAMPLE_RATE_HZ
            self._lag_observer(max(0.0, self._now - due), frames)
        for sink in self.sinks:
            sink(block)
        for segment_id, mono_pcm in own:
            for segment_sink in self.segment_sinks:
                segment_sink(segment_id, block.start_frame, mono_pcm)
