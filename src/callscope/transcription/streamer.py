"""Per-party streaming transcription: audio in as it arrives, partial and final results out.

:class:`StreamTranscriber` is the one path every transcript takes — a worker process runs
it for live calls, ``callscope transcribe`` runs it in-process on a file. A *stream* is one
call (or file) with one or more channels; each channel is one party, and its speaker label
comes from the channel, never from guessing. Audio goes through a VAD
:class:`~callscope.transcription.vad.Segmenter` per channel; finished segments become
*final* jobs and, every ``partial_interval_ms`` of ongoing speech, the speech so far becomes
a *partial* job. A :class:`~callscope.transcription.scheduler.DecodeScheduler` decides what
is decoded next.

Thread-safety: one thread feeds (:meth:`open`, :meth:`feed`, :meth:`close`), another
decodes (:meth:`decode_next`); they share only the scheduler, under one condition.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from callscope.errors import ConfigError
from callscope.transcription.engines import Engine
from callscope.transcription.scheduler import DecodeScheduler, Job
from callscope.transcription.vad import Segment, Segmenter, SileroProbabilities

__all__ = ["DecodeStats", "Result", "StreamTranscriber"]

#: a partial is not worth decoding before this much speech
MIN_PARTIAL_MS = 500
#: how much arrival history a stream keeps to date the end of a segment
ARRIVALS_KEPT_MS = 30_000
#: partials are decoded only while the decoder was busy less than this share of ...
PARTIAL_BUDGET = 0.5
#: ... the last this many seconds
BUSY_WINDOW_S = 3.0


@dataclass(frozen=True, slots=True)
class Result:
    """A recognised piece of one party's speech. Times are stream-relative milliseconds."""

    stream: int
    channel: int
    speaker: str
    final: bool
    segment: int
    start_ms: int
    end_ms: int
    text: str
    confidence: float
    #: monotonic time the end of the audio reached the transcriber, and time of the result
    ready_at: float
    decoded_at: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class DecodeStats:
    batches: int = 0
    pieces: int = 0
    finals: int = 0
    partials: int = 0
    audio_s: float = 0.0  # speech decoded (finals and partials)
    decode_wall_s: float = 0.0  # time spent in decodes (the engine runs its own threads)
    vad_cpu_s: float = 0.0


@dataclass(slots=True)
class _Channel:
    speaker: str
    segmenter: Segmenter
    segment: int = 0
    partial_at_ms: int = 0  # segmenter position of the last partial


@dataclass(slots=True)
class _Stream:
    channels: list[_Channel]
    offset_ms: int
    closed: bool = False
    in_flight: int = 0  # finals taken for decoding, not yet returned
    fed_ms: int = 0
    #: (stream-relative ms fed so far, monotonic arrival time of that chunk)
    arrivals: deque[tuple[int, float]] = field(default_factory=deque)

    def arrival_of(self, ms: int) -> float:
        for end_ms, at in self.arrivals:
            if end_ms >= ms:
                return at
        return self.arrivals[-1][1] if self.arrivals else time.monotonic()


class StreamTranscriber:
    def __init__(
        self,
        engine: Engine,
        *,
        partial_interval_ms: int = 0,
        segmenter_factory: Callable[[], Segmenter] | None = None,
        scheduler: DecodeScheduler | None = None,
    ) -> None:
        if partial_interval_ms and partial_interval_ms < 200:
            raise ConfigError("the partial interval must be 0 (off) or ≥ 200 ms")
        self.engine = engine
        self.partial_interval_ms = partial_interval_ms
        self._make_segmenter = segmenter_factory or (lambda: Segmenter(SileroProbabilities()))
        self.scheduler = scheduler if scheduler is not None else DecodeScheduler(pack=engine.packs)
        self._streams: dict[int, _Stream] = {}
        self._cond = threading.Condition()
        self.stats = DecodeStats()
        self._decodes: deque[tuple[float, float]] = deque()  # recent (start, end)

    # -- feeding side ----------------------------------------------------------------------

    def open(self, stream: int, speakers: Sequence[str], offset_ms: int = 0) -> None:
        if not speakers:
            raise ValueError("a stream needs at least one channel")
        channels = [_Channel(s, self._make_segmenter()) for s in speakers]
        with self._cond:
            if stream in self._streams:
                raise ValueError(f"stream {stream} is already open")
            self._streams[stream] = _Stream(channels, offset_ms)

    def feed(self, stream: int, pcm: npt.NDArray[np.int16], at: float) -> None:
        """Interleaved int16 samples of every channel of the stream, arrived at ``at``."""
        st = self._streams[stream]
        n = len(st.channels)
        if len(pcm) % n:
            raise ValueError(f"{len(pcm)} samples do not divide into {n} channels")
        cpu0 = time.thread_time()
        st.fed_ms += len(pcm) // n // 8
        st.arrivals.append((st.fed_ms, at))
        while st.arrivals and st.arrivals[0][0] < st.fed_ms - ARRIVALS_KEPT_MS:
            st.arrivals.popleft()
        jobs: list[Job] = []
        ended: list[tuple[int, int]] = []
        for i, ch in enumerate(st.channels):
            mono = pcm[i::n] if n > 1 else pcm
            for seg in ch.segmenter.feed(np.ascontiguousarray(mono)):
                jobs.append(self._final(stream, st, i, ch, seg))
            if not ch.segmenter.in_speech and ch.partial_at_ms:
                ended.append((stream, i))  # speech ended too short for a final
                ch.partial_at_ms = 0
            partial = self._maybe_partial(stream, st, i, ch, at)
            if partial is not None:
                jobs.append(partial)
        self.stats.vad_cpu_s += time.thread_time() - cpu0
        if jobs or ended:
            with self._cond:
                for channel in ended:
                    self.scheduler.discard_partial(channel)
                for job in jobs:
                    self.scheduler.add(job)
                self._cond.notify()

    def drop(self, stream: int) -> None:
        """Forget a stream that broke (bad audio): its queued work goes too."""
        with self._cond:
            self._streams.pop(stream, None)
            self.scheduler.forget(stream)

    def close(self, stream: int, at: float) -> bool:
        """No more audio: open segments become finals. True if the stream is already done
        (nothing of it left to decode); otherwise :meth:`decode_next` reports it later."""
        st = self._streams[stream]
        jobs = [
            self._final(stream, st, i, ch, seg)
            for i, ch in enumerate(st.channels)
            for seg in ch.segmenter.flush()
        ]
        with self._cond:
            for job in jobs:
                self.scheduler.add(job)
            st.closed = True
            done = self._done_locked(stream)
            self._cond.notify()
        return done

    def _final(self, stream: int, st: _Stream, i: int, ch: _Channel, seg: Segment) -> Job:
        ch.segment += 1
        ch.partial_at_ms = 0
        return Job(
            (stream, i),
            ch.segment,
            st.offset_ms + seg.start_ms,
            st.offset_ms + seg.end_ms,
            seg.audio,
            True,
            st.arrival_of(seg.end_ms),
        )

    def _maybe_partial(
        self, stream: int, st: _Stream, i: int, ch: _Channel, at: float
    ) -> Job | None:
        if not self.partial_interval_ms or not ch.segmenter.in_speech:
            return None
        pos = ch.segmenter.position_ms
        if not ch.partial_at_ms:
            ch.partial_at_ms = pos  # speech began: the first partial comes one interval on
            return None
        if pos - ch.partial_at_ms < self.partial_interval_ms:
            return None
        seg = ch.segmenter.in_progress()
        if seg is None or seg.end_ms - seg.start_ms < MIN_PARTIAL_MS:
            return None
        ch.partial_at_ms = pos
        return Job(
            (stream, i),
            ch.segment + 1,
            st.offset_ms + seg.start_ms,
            st.offset_ms + seg.end_ms,
            seg.audio,
            False,
            at,
        )

    # -- decoding side ---------------------------------------------------------------------

    def wake(self) -> None:
        """Wake a decoder blocked in :meth:`wait_for_work` (shutdown)."""
        with self._cond:
            self._cond.notify_all()

    def wait_for_work(self, timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: bool(self.scheduler), timeout_s)

    def decode_next(self) -> tuple[list[Result], list[int]]:
        """Decode one batch. Returns its results (empty texts left out) and the streams that
        became complete: closed, with every final decoded."""
        now = time.monotonic()
        with self._cond:
            batch = self.scheduler.take(now, partials=self.busy(now) < PARTIAL_BUDGET)
            for job in batch:
                if job.final:
                    self._streams[job.channel[0]].in_flight += 1
        if not batch:
            return [], []
        t0 = time.monotonic()
        recognised = self.engine.transcribe_many([j.audio for j in batch])
        decoded_at = time.monotonic()
        s = self.stats
        s.decode_wall_s += decoded_at - t0
        self._decodes.append((t0, decoded_at))
        s.batches += 1
        s.pieces += len(batch)
        s.audio_s += sum(j.seconds for j in batch)
        results: list[Result] = []
        for job, recs in zip(batch, recognised, strict=True):
            if job.final:
                s.finals += 1
            else:
                s.partials += 1
            text = " ".join(r.text for r in recs).strip()
            if not text:
                continue
            st = self._streams[job.channel[0]]
            start = min(job.end_ms, job.start_ms + int(recs[0].start_s * 1000))
            end = max(start, min(job.end_ms, job.start_ms + int(recs[-1].end_s * 1000)))
            if job.final:
                # whisper's last timestamp tends to stop short; VAD end is the better bound
                end = max(end, job.end_ms - 200)
            results.append(
                Result(
                    job.channel[0],
                    job.channel[1],
                    st.channels[job.channel[1]].speaker,
                    job.final,
                    job.segment,
                    start,
                    end,
                    text,
                    round(float(np.mean([r.confidence for r in recs])), 3),
                    job.ready_at,
                    decoded_at,
                )
            )
        done: list[int] = []
        with self._cond:
            for job in batch:
                if job.final:
                    self._streams[job.channel[0]].in_flight -= 1
            for stream in {j.channel[0] for j in batch}:
                if self._done_locked(stream):
                    done.append(stream)
        return sorted(results, key=lambda r: (r.start_ms, r.channel)), done

    def busy(self, now: float) -> float:
        """Share of the last BUSY_WINDOW_S the decoder spent decoding."""
        since = now - BUSY_WINDOW_S
        while self._decodes and self._decodes[0][1] < since:
            self._decodes.popleft()
        spent = sum(end - max(start, since) for start, end in self._decodes)
        return spent / BUSY_WINDOW_S

    def _done_locked(self, stream: int) -> bool:
        st = self._streams.get(stream)
        if st is None or not st.closed or st.in_flight or self.scheduler.pending_for(stream):
            return False
        del self._streams[stream]
        return True

    # -- state -----------------------------------------------------------------------------

    def stream_lag(self, now: float) -> dict[int, dict[str, float]]:
        """Per stream: finals waiting and the age of the oldest (seconds)."""
        with self._cond:
            out: dict[int, dict[str, float]] = {
                sid: {"pendingFinals": 0, "oldestPendingS": 0.0} for sid in self._streams
            }
            for job in self.scheduler.queued_finals():
                entry = out.get(job.channel[0])
                if entry is not None:
                    entry["pendingFinals"] += 1
                    entry["oldestPendingS"] = max(entry["oldestPendingS"], now - job.ready_at)
        return out
