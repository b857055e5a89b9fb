"""Per-perspective jitter buffer: reorder by sequenceId, drop duplicates, conceal gaps.

RingCX: "Media Messages are generally in-sequence ... you could also write additional logic
to pause on not-in-sequence messages and wait for the in-sequence one" (seeds/ringcx-call-
streaming.txt). This buffer does exactly that, inside a bounded window:

* frames are released strictly in sequence order, each sequenceId exactly once;
* a frame that is still missing when a frame ``window_frames`` ahead of it has arrived is
  given up: it is released as ``None`` (silence) and counted *missing*;
* a frame arriving after its slot was given up is counted *late* and dropped;
* a second copy of a frame is counted *duplicate* and dropped;
* a sequenceId more than ``max_jump_frames`` ahead is refused (``JUMP``): accepting it would
  mean writing minutes of silence on the word of a single message.

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


class JitterBuffer:
    """Reorders one perspective's frames. Pure: no clocks, no I/O.

    Args:
        window_frames: how many frames past a gap to wait before concealing it (≥ 1).
        max_jump_frames: the largest forward jump of sequenceId accepted.
        history_frames: how many concealed ids are remembered to tell *late* from *duplicate*.
        first_sequence_id: the sequenceId of the stream's first frame.
    """

    __slots__ = (
        "_concealed",
        "_concealed_order",
        "_history",
        "_max_jump",
        "_pending",
        "_window",
        "duplicate",
        "late",
        "missing",
        "next_seq",
        "received",
    )

    def __init__(
        self,
        *,
        window_frames: int = 10,
        max_jump_frames: int = 3000,
        history_frames: int = 1000,
        first_sequence_id: int = 1,
    ) -> None:
        if window_frames < 1:
            raise ValueError("window_frames must be ≥ 1")
        if max_jump_frames < window_frames:
            raise ValueError("max_jump_frames must be ≥ window_frames")
        self._window = window_frames
        self._max_jump = max_jump_frames
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
        if seq - next_seq > self._max_jump:
            return PushResult.JUMP
        self.received += 1
        self._pending[seq] = payload
        self._release(out, give_up_below=seq - self._window + 1)
        return PushResult.ACCEPTED

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
