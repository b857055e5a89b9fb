"""Which speech to decode next: finals first, partials with whatever room is left.

Pure data structure (no threads, no engine), shared by the worker processes and
``callscope transcribe``. The rules, in order:

* **Finals are never dropped.** They queue in arrival order; under overload they wait.
* **Partials are disposable.** A channel has at most one queued partial: a newer one, or
  the final of the same channel, replaces it. A partial older than ``partial_max_age_s``
  when its turn comes is dropped as stale. Partials are decoded only with room left in a
  window after every queued final fits, so an overloaded worker sheds partials first.
* **Busy decoders skip partials.** The caller says when partials may be taken at all (the
  worker allows them while its decoder was busy less than half of the last few seconds),
  so partials never take the time finals need.
* **Packing.** For an engine whose decode costs the same for 1 s or 28 s (whisper), one
  batch holds as many pieces as fit in ``window_s`` with ``gap_s`` of silence after each.
  For other engines a batch is one piece.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["DecodeScheduler", "Job"]


@dataclass(slots=True, eq=False)
class Job:
    """A piece of one channel's speech to recognise. Times are call-relative ms."""

    channel: tuple[int, int]  # (stream id, channel index)
    segment: int  # per-channel segment number; a partial shares it with its final
    start_ms: int
    end_ms: int
    audio: npt.NDArray[np.int16]
    final: bool
    #: monotonic time the end of this audio reached the transcriber (end of speech, for a
    #: final): latency is measured from here
    ready_at: float

    @property
    def seconds(self) -> float:
        return len(self.audio) / 8000


class DecodeScheduler:
    def __init__(
        self,
        *,
        pack: bool = True,
        window_s: float = 28.0,
        gap_s: float = 1.0,
        partial_max_age_s: float = 2.0,
    ) -> None:
        self.pack = pack
        self.window_s = window_s
        self.gap_s = gap_s
        self.partial_max_age_s = partial_max_age_s
        self._finals: deque[Job] = deque()
        self._partials: dict[tuple[int, int], Job] = {}
        self.partials_dropped = 0
        self.finals_queued_s = 0.0

    # -- queueing --------------------------------------------------------------------------

    def add(self, job: Job) -> None:
        old = self._partials.pop(job.channel, None)
        if old is not None:
            self.partials_dropped += 1  # superseded before it was decoded
        if job.final:
            self._finals.append(job)
            self.finals_queued_s += job.seconds
        else:
            self._partials[job.channel] = job

    def discard_partial(self, channel: tuple[int, int]) -> None:
        """The channel's speech ended without a final (too short): its partial is moot."""
        if self._partials.pop(channel, None) is not None:
            self.partials_dropped += 1

    def forget(self, stream: int) -> None:
        """Remove every queued job of a stream (it broke; nothing of it will be read)."""
        kept = [j for j in self._finals if j.channel[0] != stream]
        self._finals = deque(kept)
        self.finals_queued_s = sum(j.seconds for j in kept)
        for c in [c for c in self._partials if c[0] == stream]:
            del self._partials[c]

    # -- state -----------------------------------------------------------------------------

    @property
    def finals_pending(self) -> int:
        return len(self._finals)

    @property
    def partials_pending(self) -> int:
        return len(self._partials)

    def oldest_final_age(self, now: float) -> float:
        return now - self._finals[0].ready_at if self._finals else 0.0

    def queued_finals(self) -> list[Job]:
        return list(self._finals)

    def pending_for(self, stream: int) -> int:
        return sum(1 for j in self._finals if j.channel[0] == stream)

    def __bool__(self) -> bool:
        return bool(self._finals or self._partials)

    # -- taking a batch --------------------------------------------------------------------

    def take(self, now: float, *, partials: bool = True) -> list[Job]:
        """The next batch to decode (empty when nothing is queued). ``partials=False``: the
        decoder is too busy to spend time on them; they wait (and go stale)."""
        self._drop_stale(now)
        batch: list[Job] = []
        room = self.window_s
        while self._finals and self._fits(self._finals[0], room, batch):
            job = self._finals.popleft()
            self.finals_queued_s -= job.seconds
            batch.append(job)
            room -= job.seconds + self.gap_s
        if self._finals or not partials:
            return batch  # finals still wait (or no time to spare): no room for partials
        for job in sorted(self._partials.values(), key=lambda j: j.ready_at):
            if not self._fits(job, room, batch):
                break
            del self._partials[job.channel]
            batch.append(job)
            room -= job.seconds + self.gap_s
        if not self._finals:
            self.finals_queued_s = 0.0  # no float drift once empty
        return batch

    def _fits(self, job: Job, room: float, batch: list[Job]) -> bool:
        if not batch:
            return True  # one piece always goes (a segment is at most max_segment_ms)
        return self.pack and job.seconds + self.gap_s <= room

    def _drop_stale(self, now: float) -> None:
        stale = [c for c, j in self._partials.items() if now - j.ready_at > self.partial_max_age_s]
        for c in stale:
            del self._partials[c]
        self.partials_dropped += len(stale)
