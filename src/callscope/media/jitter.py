"""Per-perspective jitter buffer: reorder by sequenceId, drop duplicates, conceal gaps.

RingCX: "Media Messages are generally in-sequence ... you could also write additional logic
to pause on not-in-sequence messages and wait for the in-sequence one" (seeds/ringcx-call-
streaming.txt). This buffer does exactly that, inside a bounded window:

* frames are released strictly in sequence order, each sequenceId exactly once;
* a frame that is still missing when a frame ``window_frames`` ahead of it has arrived is
  given up: it is released as ``None`` (silence) and counted *missing*;
* a frame arriving after its slot was given up is counted *late* and dropped;
* a second copy of a frame is counted *duplicate* and dropped;
* a gap of up to ``max_gap_frames`` is concealed in full;
* a sequenceId more than ``max_gap_frames`` ahead is held back (``JUMP``): filling the gap
  would mean writing minutes of silence on the word of a single message (a later one
  replaces it). When another frame that far ahead lands within ``window_frames`` of the
  held one, the jump is believed (``REANCHORED``): the stream continues from there and the
  gap is filled with ``max_gap_frames`` of silence, no more. A single stray sequenceId is
  thus dropped, and a sender whose every message jumps has nothing written for it.

Sequence ids count per perspective from ``first_sequence_id`` (1 on RingCX, spec §11.3).
"""

from __future__ import annotations

import enum
from collections import deque

__all__ = ["JitterBuffer", "PushResult"]


class PushResult(enum.IntEnum):
    ACCEPTED = 0
    DUPLICATE = 1
    LATE = 2
    JUMP = 3
    #: accepted, and the stream re-anchored at a jump this frame confirmed
    REANCHORED = 4
    #: not taken: the call may conceal no more silence (:class:`~callscope.media.pipeline`)
    REFUSED = 5


class JitterBuffer:
    """Reorders one perspective's frames. Pure: no clocks, no I/O.

    Args:
        window_frames: how many frames past a gap to wait before concealing it (≥ 1).
        max_gap_frames: the largest gap concealed; a larger forward jump of sequenceId is
            held back until a second frame confirms it, and then filled with this much.
        history_frames: how many concealed ids are remembered to tell *late* from *duplicate*.
        first_sequence_id: the sequenceId of the stream's first frame.
    """

    __slots__ = (
        "_concealed",
        "_concealed_order",
        "_history",
        "_jump",
        "_max_gap",
        "_pending",
        "_window",
        "duplicate",
        "late",
        "missing",
        "next_seq",
        "reanchors",
        "received",
    )

    def __init__(
        self,
        *,
        window_frames: int = 10,
        max_gap_frames: int = 250,
        history_frames: int = 1000,
        first_sequence_id: int = 1,
    ) -> None:
        if window_frames < 1:
            raise ValueError("window_frames must be ≥ 1")
        if max_gap_frames < window_frames:
            raise ValueError("max_gap_frames must be ≥ window_frames")
        self._window = window_frames
        self._max_gap = max_gap_frames
        #: a frame far ahead, held until another confirms the jump: (sequenceId, payload)
        self._jump: tuple[int, bytes] | None = None
        self._history = history_frames
        self._pending: dict[int, bytes] = {}
        self._concealed: set[int] = set()
        self._concealed_order: deque[int] = deque()
        #: the sequenceId the next released frame will have
        self.next_seq = first_sequence_id
        self.received = 0
        self.duplicate = 0
        self.late = 0
        self.missing = 0
        self.reanchors = 0

    @property
    def pending_frames(self) -> int:
        return len(self._pending)

    def push(self, seq: int, payload: bytes, out: list[bytes | None]) -> PushResult:
        """Offer one frame; frames that become releasable are appended to ``out`` in order.

        ``None`` in ``out`` stands for a concealed (missing) frame.
        """
        next_seq = self.next_seq
        if seq == next_seq and not self._pending:
            # The common case: in order, nothing waiting.
            self.received += 1
            self.next_seq = seq + 1
            out.append(payload)
            return PushResult.ACCEPTED
        if seq < next_seq:
            if seq in self._concealed:
                self._concealed.discard(seq)
                self.late += 1
                return PushResult.LATE
            self.duplicate += 1
            return PushResult.DUPLICATE
        if seq in self._pending:
            self.duplicate += 1
            return PushResult.DUPLICATE
        if seq - next_seq > self._max_gap:
            return self._jumped(seq, payload, out)
        self.received += 1
        self._pending[seq] = payload
        self._release(out, give_up_below=seq - self._window + 1)
        return PushResult.ACCEPTED

    def _jumped(self, seq: int, payload: bytes, out: list[bytes | None]) -> PushResult:
        held = self._jump
        if held is None or held[0] == seq or abs(seq - held[0]) > self._window:
            self._jump = (seq, payload)  # not (yet) believed
            return PushResult.JUMP
        # Two frames agree: the sender really moved on. What was pending goes out first
        # (``seq`` is beyond all of it; the held frame, near the edge, may not be).
        self._jump = None
        self.flush(out)
        if held[0] < self.next_seq:
            self.duplicate += 1
        else:
            self._pending[held[0]] = held[1]
            self.received += 1
        self._pending[seq] = payload
        self.received += 1
        anchor = min(self._pending)
        fill = min(anchor - self.next_seq, self._max_gap)
        out.extend([None] * fill)
        self.missing += fill
        self.next_seq = anchor
        self.reanchors += 1
        self._release(out, give_up_below=max(self._pending) - self._window + 1)
        return PushResult.REANCHORED

    def skip_to(self, seq: int, out: list[bytes | None]) -> None:
        """Release everything below ``seq``, concealing what has not arrived."""
        self._release(out, give_up_below=seq)

    def flush(self, out: list[bytes | None]) -> None:
        """Release every pending frame (end of stream), concealing gaps between them."""
        if self._pending:
            self._release(out, give_up_below=max(self._pending) + 1)

    def _release(self, out: list[bytes | None], *, give_up_below: int) -> None:
        pending = self._pending
        seq = self.next_seq
        while True:
            payload = pending.pop(seq, None)
            if payload is not None:
                out.append(payload)
            elif seq < give_up_below:
                out.append(None)
                self.missing += 1
                self._remember_concealed(seq)
            else:
                break
            seq += 1
        self.next_seq = seq

    def _remember_concealed(self, seq: int) -> None:
        self._concealed.add(seq)
        self._concealed_order.append(seq)
        if len(self._concealed_order) > self._history:
            self._concealed.discard(self._concealed_order.popleft())
