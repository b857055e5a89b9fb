"""A RingCX gRPC dialog's segments as :class:`~callscope.media.dialog_mixer.DialogMixer`
holds them, and the mix of their audio into stereo (split from the mixer, #19).

A :class:`Segment` is one participant's leg: its state, its ordered audio not mixed yet and
its counters. :func:`render` mixes dialog samples ``[a, a + n)`` of every segment (AGENT
side left, every other participant right, summed and clipped to int16); :func:`consume`
drops what was mixed. Pure: no clocks, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from callscope.media.jitter import JitterBuffer
from callscope.media.pipeline import FRAME_MS, SAMPLE_RATE_HZ

__all__ = [
    "FRAME_SAMPLES",
    "SAMPLES_PER_MS",
    "Segment",
    "SegmentCounters",
    "SegmentSink",
    "SegmentState",
    "Side",
    "consume",
    "render",
]

SAMPLES_PER_MS = SAMPLE_RATE_HZ // 1000
FRAME_SAMPLES = SAMPLES_PER_MS * FRAME_MS


#: a segment's own audio with each block: (segment id, start frame, mono int16 PCM)
SegmentSink = Callable[[str, int, bytes], None]


class Side(enum.IntEnum):
    """The stereo channel a segment is mixed into (RingCX: "the left channel will be agent's
    audio, and the right channel will have audio for caller and all other existing legs")."""

    LEFT = 0  # agents
    RIGHT = 1  # the contact, bots and every other participant


class SegmentState(enum.Enum):
    OPEN = "open"
    HELD = "held"
    STOPPED = "stopped"


@dataclass(slots=True, frozen=True)
class SegmentCounters:
    """One segment's chunk accounting, as stored with the call.

    ``missing`` counts chunks of ``ptime`` concealed while the segment was expected to send;
    ``hold_silence_ms`` is the silence written by design while it was on hold (or the whole
    stream paused during a hold); ``reanchored`` counts seq jumps and resumes after a stall.
    """

    received: int
    duplicate: int
    late: int
    missing: int
    reanchored: int
    hold_silence_ms: int


class Segment:
    __slots__ = (
        "audio",
        "audio_start",
        "buffer",
        "concealed",
        "duplicate",
        "id",
        "late",
        "max_jump",
        "max_seq",
        "missing",
        "paused",
        "ptime",
        "reanchored",
        "rebase",
        "received",
        "side",
        "stalled",
        "state",
        "window",
    )

    def __init__(
        self, segment_id: str, side: Side, ptime: int, at: int, window: int, max_jump: int
    ) -> None:
        self.id = segment_id
        self.side = side
        self.ptime = ptime  # samples per chunk
        self.window = window  # chunks
        self.max_jump = max_jump  # chunks
        self.state = SegmentState.OPEN
        #: int16 little-endian audio from dialog sample ``audio_start`` up to ``end``
        self.audio = bytearray()
        self.audio_start = at
        self.buffer: JitterBuffer | None = None
        self.max_seq = 0
        #: fell behind (or paused with the stream): the next chunk re-anchors at the head
        self.stalled = False
        #: resumed from hold: the next chunk re-anchors where the segment stands
        self.rebase = False
        # totals of earlier buffers (a re-anchor starts a new one) and of concealment
        self.received = self.duplicate = self.late = self.missing = self.reanchored = 0
        self.concealed = 0  # samples of silence written because the segment fell behind
        self.paused = 0  # samples of silence written by design (hold)

    @property
    def end(self) -> int:
        return self.audio_start + len(self.audio) // 2

    def frontier(self) -> int:
        """How far this segment's audio reaches, counting chunks still held for reordering."""
        buf = self.buffer
        if buf is None or not buf.pending_frames:
            return self.end
        return self.end + (self.max_seq - buf.next_seq + 1) * self.ptime

    def counters(self) -> SegmentCounters:
        buf = self.buffer
        return SegmentCounters(
            received=self.received + (buf.received if buf else 0),
            duplicate=self.duplicate + (buf.duplicate if buf else 0),
            late=self.late + (buf.late if buf else 0),
            missing=self.missing + -(-self.concealed // self.ptime),
            reanchored=self.reanchored,
            hold_silence_ms=self.paused // SAMPLES_PER_MS,
        )


def render(
    segments: Iterable[Segment], a: int, n: int, *, own: bool
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Dialog samples ``[a, a + n)``: the stereo mix, and (``own``) each segment's own audio.
    The views of the segments' buffers it takes die with it, so the buffers can be cut
    afterwards."""
    parts: list[tuple[Segment, int, int, npt.NDArray[np.int16]]] = []
    per_side = [0, 0]
    for seg in segments:
        s0 = seg.audio_start
        lo, hi = max(a, s0), min(a + n, seg.end)
        if lo < hi:
            view = np.frombuffer(seg.audio, dtype="<i2", count=hi - lo, offset=2 * (lo - s0))
            parts.append((seg, lo - a, hi - a, view))
            per_side[seg.side] += 1
    if per_side[0] <= 1 and per_side[1] <= 1:
        # The usual case (a caller and an agent): nothing is summed, so nothing can clip;
        # each segment is copied straight into its interleaved channel.
        out = np.zeros(2 * n, dtype="<i2")
        for seg, lo, hi, view in parts:
            out[2 * lo + seg.side : 2 * hi : 2] = view
        pcm = out.tobytes()
    else:
        acc = np.zeros((2, n), dtype=np.int32)
        for seg, lo, hi, view in parts:
            acc[seg.side, lo:hi] += view
        np.clip(acc, -32768, 32767, out=acc)
        inter = np.empty(2 * n, dtype="<i2")
        inter[0::2] = acc[0]
        inter[1::2] = acc[1]
        pcm = inter.tobytes()
    mono_parts: list[tuple[str, bytes]] = []
    if own:
        for seg, lo, hi, view in parts:
            mono = np.zeros(n, dtype="<i2")
            mono[lo:hi] = view
            mono_parts.append((seg.id, mono.tobytes()))
    return pcm, mono_parts


def consume(seg: Segment, b: int) -> None:
    """Drop the segment's audio before dialog sample ``b`` (it has been mixed)."""
    used = min(b, seg.end) - seg.audio_start
    if used > 0:
        del seg.audio[: 2 * used]
        seg.audio_start += used
