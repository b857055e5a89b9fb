"""One live call's media path: two jitter buffers → time-aligned stereo PCM blocks → sinks.

Pure: the caller passes the clock value in; sinks are plain callables. The adapter around it
(``callscope.ingest``) owns sockets and timers.

Alignment: frame *i* of each perspective covers call time ``[i·20 ms, (i+1)·20 ms)``. A stereo
block is emitted once both channels have the frames for it. A channel that has said Stop
counts as endless silence. If one channel runs more than ``max_skew_frames`` ahead (its peer is
silent or stalled), the peer's missing frames are concealed so memory stays bounded and the
channels stay aligned; peer frames that arrive later are counted *late*.

Concealed silence is bounded, so that sequenceIds alone cannot fill the disk: a gap is filled
with at most ``max_gap_frames`` (see :class:`JitterBuffer`), and each perspective's concealed
frames may not exceed ``max_concealed_frames``, nor the audio actually received (both
perspectives) plus the wall time since the first Media plus ``conceal_slack_frames``. The
second bound is what real time allows: a sender that streams for a minute cannot have an hour
of silence, while a sender faster than real time (a replay, the simulator) is still held to
the audio it sends. Recorded audio itself is not bounded by wall time: fast senders are
legitimate. Past either bound the pipeline takes no more frames (``PushResult.REFUSED``) and
says why in :attr:`CallMediaPipeline.refusal`; the frame that tipped it over may overshoot
the bound by one gap (``max_gap_frames`` plus ``max_skew_frames``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from callscope.media.g711 import MULAW_SILENCE, ulaw2lin_stereo
from callscope.media.jitter import JitterBuffer, PushResult
from callscope.protocols.ringcx import PERSPECTIVES, Perspective

__all__ = ["CallMediaPipeline", "FrameCounters", "StereoBlock"]

logger = logging.getLogger("callscope.media")

FRAME_MS = 20
SAMPLE_RATE_HZ = 8000


class StereoBlock(NamedTuple):
    """Time-aligned PCM for both parties. ``start_frame`` counts 20 ms frames from call start.

    ``pcm`` is little-endian int16 bytes, agent then caller per sample (WAV order); the
    per-party arrays are numpy views made on demand. (A named tuple: one is made for every
    block of every call, and a tuple costs a third of a frozen dataclass.)
    """

    start_frame: int
    pcm: bytes

    @property
    def interleaved(self) -> npt.NDArray[np.int16]:
        return np.frombuffer(self.pcm, dtype="<i2")

    @property
    def agent(self) -> npt.NDArray[np.int16]:
        return self.interleaved[0::2]

    @property
    def caller(self) -> npt.NDArray[np.int16]:
        return self.interleaved[1::2]

    @property
    def frames(self) -> int:
        return len(self.pcm) // (4 * SAMPLE_RATE_HZ * FRAME_MS // 1000)


@dataclass(slots=True)
class FrameCounters:
    """Per-channel counters as stored with the call (index 0 = agent, 1 = caller side)."""

    received: tuple[int, int]
    duplicate: tuple[int, int]
    late: tuple[int, int]
    missing: tuple[int, int]
    written: int

    @classmethod
    def of(cls, agent: Any, caller: Any, written: int) -> FrameCounters:
        """From each side's tally (anything with received, duplicate, late and missing)."""
        return cls(
            received=(agent.received, caller.received),
            duplicate=(agent.duplicate, caller.duplicate),
            late=(agent.late, caller.late),
            missing=(agent.missing, caller.missing),
            written=written,
        )


_new_tuple = tuple.__new__
_ACCEPTED, _REANCHORED, _LATE, _REFUSED = (
    PushResult.ACCEPTED,
    PushResult.REANCHORED,
    PushResult.LATE,
    PushResult.REFUSED,
)

BlockSink = Callable[[StereoBlock], None]
LagObserver = Callable[[float, int], None]


class CallMediaPipeline:
    """Reorders, aligns and decodes one call's two perspectives.

    Args:
        frame_bytes: μ-law bytes per frame (160 = 20 ms at 8 kHz).
        window_frames: jitter buffer window (see :class:`JitterBuffer`).
        max_skew_frames: how far one channel may run ahead of the other before the other's
            missing frames are concealed; bounds memory to about that many frames.
        max_gap_frames: the most silence one gap or jump of sequenceId is filled with.
        max_concealed_frames: the most silence concealed per perspective over the call.
        conceal_slack_frames: concealment allowed beyond received audio and elapsed time.
        batch_frames: stereo frames gathered before a block is emitted (write granularity).
        sinks: callables receiving each :class:`StereoBlock` in order.
        lag_observer: called with (seconds, frames) for each block: the age of its oldest frame
            against a real-time schedule anchored at the first Media message.
    """

    __slots__ = (
        "_any_ended",
        "_batch",
        "_conceal_ok",
        "_ended",
        "_epoch",
        "_lag_observer",
        "_max_concealed",
        "_max_skew",
        "_ready",
        "_silence",
        "_slack",
        "_started",
        "buffers",
        "frame_bytes",
        "refusal",
        "sinks",
        "written_frames",
        "wrong_size",
    )

    def __init__(
        self,
        *,
        frame_bytes: int = 160,
        window_frames: int = 10,
        max_skew_frames: int = 50,
        batch_frames: int = 2,
        max_gap_frames: int = 250,
        max_concealed_frames: int = 30_000,
        conceal_slack_frames: int = 500,
        sinks: list[BlockSink] | None = None,
        lag_observer: LagObserver | None = None,
    ) -> None:
        if batch_frames < 1 or max_skew_frames < batch_frames:
            raise ValueError("need 1 ≤ batch_frames ≤ max_skew_frames")
        if max_concealed_frames < 0 or conceal_slack_frames < 0:
            raise ValueError("max_concealed_frames and conceal_slack_frames must be ≥ 0")
        self.frame_bytes = frame_bytes
        self._silence = bytes([MULAW_SILENCE]) * frame_bytes
        self.buffers = (
            JitterBuffer(window_frames=window_frames, max_gap_frames=max_gap_frames),
            JitterBuffer(window_frames=window_frames, max_gap_frames=max_gap_frames),
        )
        self._ready: tuple[list[bytes | None], list[bytes | None]] = ([], [])
        self._ended = [False, False]
        self._any_ended = False
        self._max_skew = max_skew_frames
        self._batch = batch_frames
        self.sinks: list[BlockSink] = list(sinks or [])
        self._lag_observer = lag_observer
        self._epoch: float | None = None
        self._started = 0.0
        self._max_concealed = max_concealed_frames
        self._slack = conceal_slack_frames
        #: concealment below this needs no look (the bound last computed; it only grows)
        self._conceal_ok = min(max_concealed_frames, conceal_slack_frames)
        #: why no more frames are taken (None: they are)
        self.refusal: str | None = None
        self.written_frames = 0
        self.wrong_size = 0

    # -- input ---------------------------------------------------------------------------

    def push(self, perspective: Perspective, seq: int, payload: bytes, now: float) -> PushResult:
        """Offer one Media frame received at monotonic time ``now``.

        Returns ``REFUSED`` from the frame on which the call exceeded its concealment bound
        (see :attr:`refusal`); later frames are not taken.
        """
        if self.refusal is not None:
            return _REFUSED
        if self._epoch is None:
            # Frame `seq` (1-based) is complete on the sender's schedule at epoch + seq·20 ms.
            self._epoch = now - FRAME_MS / 1000 * max(seq, 1)
            self._started = now
        # `perspective` indexes as it is (an IntEnum): this runs for every frame of every call
        if self._ended[perspective]:
            return _LATE
        if len(payload) != self.frame_bytes:
            payload = self._fit(payload)
        ready = self._ready
        buffers = self.buffers
        result = buffers[perspective].push(seq, payload, ready[perspective])
        if result is _ACCEPTED or result is _REANCHORED:
            # Hot path: both channels in step and a batch ready; anything else goes the long way.
            nl, nr = len(ready[0]), len(ready[1])
            batch, skew = self._batch, self._max_skew
            if nl >= batch and nr >= batch and -skew <= nl - nr <= skew:
                self._emit(min(nl, nr), now)
            elif nl - nr > skew or nr - nl > skew or self._any_ended:
                self._drain(now)
        ok = self._conceal_ok
        if (buffers[0].missing > ok or buffers[1].missing > ok) and self._over(now):
            return _REFUSED
        return result

    def end_channel(self, perspective: Perspective, now: float) -> None:
        """The perspective said Stop: release what it holds; from now on it is silence."""
        ch = int(perspective)
        if not self._ended[ch]:
            self.buffers[ch].flush(self._ready[ch])
            self._ended[ch] = True
            self._any_ended = True
        self._drain(now)

    def finish(self, now: float) -> None:
        """End of call (both Stops, vanish or shutdown): emit everything still held."""
        for p in PERSPECTIVES:
            ch = int(p)
            if not self._ended[ch]:
                self.buffers[ch].flush(self._ready[ch])
                self._ended[ch] = True
        self._any_ended = True
        self._drain(now, final=True)

    @property
    def ended(self) -> bool:
        return all(self._ended)

    def counters(self) -> FrameCounters:
        agent, caller = self.buffers
        return FrameCounters.of(agent, caller, self.written_frames)

    # -- internals -----------------------------------------------------------------------

    def _over(self, now: float) -> bool:
        """Whether concealment is past its bounds now; if so, :attr:`refusal` says why."""
        a, c = self.buffers
        elapsed_s = max(0.0, now - self._started)
        received = a.received + c.received
        allowed = min(
            self._max_concealed, received + int(elapsed_s * 1000 / FRAME_MS) + self._slack
        )
        concealed = max(a.missing, c.missing)
        if concealed <= allowed:
            self._conceal_ok = allowed
            return False
        frame_s = FRAME_MS / 1000
        if concealed > self._max_concealed:
            self.refusal = (
                f"sequenceId gaps asked for more than {self._max_concealed * frame_s:g} s "
                "of silence in one call"
            )
        else:
            self.refusal = (
                f"sequenceId gaps asked for {concealed * frame_s:.1f} s of silence with "
                f"{received * frame_s:.1f} s of audio received over {elapsed_s:.1f} s"
            )
        return True

    def _fit(self, payload: bytes) -> bytes:
        # A short frame (typically the last one) is padded with silence; a long one is cut.
        # Either way the sequence timeline stays 20 ms per sequenceId.
        self.wrong_size += 1
        if len(payload) < self.frame_bytes:
            return payload + self._silence[len(payload) :]
        return payload[: self.frame_bytes]

    def _drain(self, now: float, *, final: bool = False) -> None:
        left, right = self._ready
        # Keep the channels within max_skew of each other (bounded memory, alignment kept).
        for ch, other in ((0, 1), (1, 0)):
            lead = len(self._ready[other]) - len(self._ready[ch])
            if lead > self._max_skew and not self._ended[ch]:
                buf = self.buffers[ch]
                buf.skip_to(buf.next_seq + lead - self._max_skew, self._ready[ch])
        n = min(len(left), len(right))
        if self._ended[0]:
            n = max(n, len(right))
        if self._ended[1]:
            n = max(n, len(left))
        if n == 0 or (n < self._batch and not final):
            return
        self._emit(n, now)

    def _channel_bytes(self, ch: int, n: int) -> bytes:
        frames = self._ready[ch]
        taken = frames[:n]
        del frames[:n]
        if len(taken) < n:  # an ended channel: silence to the end of the block
            taken += [None] * (n - len(taken))
        try:
            return b"".join(taken)  # type: ignore[arg-type]
        except TypeError:  # concealed frames (None) among them
            silence = self._silence
            return b"".join(f if f is not None else silence for f in taken)

    def _emit(self, n: int, now: float) -> None:
        ulaw = bytearray(2 * n * self.frame_bytes)
        ulaw[0::2] = self._channel_bytes(0, n)
        ulaw[1::2] = self._channel_bytes(1, n)
        start = self.written_frames
        block = _new_tuple(StereoBlock, (start, ulaw2lin_stereo(ulaw)))  # one frame less
        self.written_frames += n
        if self._lag_observer is not None and self._epoch is not None:
            due = self._epoch + (start + 1) * FRAME_MS / 1000
            self._lag_observer(max(0.0, now - due), n)
        for sink in self.sinks:
            sink(block)
