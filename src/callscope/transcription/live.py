"""Live calls' transcripts: audio from the ingest pipeline to a worker, results back to the
bus, the database and anyone reading the transcript while the call goes on.

One :class:`CallTranscript` per call, from the call's start until its last final is stored.
The call's stereo blocks are gathered for ``send_ms`` and sent to the worker pool as one
stream with two channels — left = agent, right = customer, exactly the recording's layout,
so a speaker label always comes from the channel it was heard on. A party that joins later
(a supervisor barging in) gets a :class:`PartyFeed` of its own via
:meth:`CallTranscript.add_party`, labelled with its role.

Events published on the bus, topic ``<accountId>.calls.<callId>.transcript``:
``transcript.partial`` (not stored, superseded by later ones), ``transcript.final`` (stored
in order, numbered by ``seq``), ``transcript.completed`` (every final of the call is
stored), and ``assist.alert`` / ``assist.suggestion`` (live assist, callscope.transcription.
assist, raised by finals). A partial and the final that replaces it share ``speaker`` and
``segment``.
The ``seq`` of a final is the order in which it was decoded; readers sort by ``startMs``.

A transcript that ends ``incomplete`` (a worker died, the server stopped mid-call) is made
again from the call's recording — a *backfill*, paced so live calls keep their latency —
so its finals come late but are not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callscope.calls.telephony import party_ids
from callscope.events.bus import Bus
from callscope.insights.analyzers import compound
from callscope.media.pipeline import StereoBlock
from callscope.metrics import Histogram, Registry
from callscope.store.models import TranscriptStatus, UtteranceRow
from callscope.store.repo import CallRepository
from callscope.store.writer import CallRowWriter
from callscope.transcription.assist import AssistRules, LiveAssist
from callscope.transcription.pool import WorkerPool

__all__ = [
    "CHANNELS",
    "CallTranscript",
    "PartyFeed",
    "TranscriptHub",
    "topic_for",
    "utterance_json",
]

logger = logging.getLogger("callscope.asr")

#: how often a call's transcription is resumed after its worker failed it
MAX_REOPENS = 3
#: pace of re-transcribing a recording, × real time: one such job loads a worker like this
#: many live calls, so live calls keep their latency
BACKFILL_SPEED = 4.0


@dataclass(frozen=True, slots=True)
class _Backfill:
    call_id: str
    account_id: str | None
    recording: Path


#: the two channels of a call's stream, in the recording's (and the pipeline's) order
CHANNELS = ("agent", "customer")


def topic_for(account_id: str | None, call_id: str) -> str:
    return f"{account_id or '-'}.calls.{call_id}.transcript"


def utterance_json(row: UtteranceRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "speaker": row.speaker,
        "partyId": row.party_id,
        "startMs": row.start_ms,
        "endMs": row.end_ms,
        "text": row.text,
        "confidence": row.confidence,
    }


@dataclass(eq=False)
class PartyFeed:
    """One stream of a call's transcript on a worker: the call's stereo audio (agent,
    customer), or one more party that joins later — a barging supervisor — as mono audio.
    Implements the pool's StreamSink."""

    transcript: CallTranscript
    speakers: tuple[str, ...]
    party_ids: tuple[str | None, ...]
    stream: int | None = None
    ended: bool = False
    finished: bool = False
    gap: bool = False  # some audio never reached the worker
    _buffer: bytearray = field(default_factory=bytearray)
    _buffer_at: float = 0.0
    _next_frame: int = 0

    def push(self, pcm: bytes, start_frame: int, frames: int) -> None:
        """Audio of this feed's channels (interleaved int16), starting at ``start_frame``
        (20 ms frames from the start of the call). Sent to the worker every send_ms."""
        if self.ended:
            return
        if self.stream is None:
            self._open(start_frame)
        if not self._buffer:
            self._buffer_at = time.monotonic()
        self._buffer += pcm
        self._next_frame = start_frame + frames
        if len(self._buffer) >= self.transcript.hub.send_ms // 20 * 320 * len(self.speakers):
            self._send()

    def _open(self, start_frame: int) -> None:
        self.stream = self.transcript.hub.pool.open(list(self.speakers), start_frame * 20, self)

    def _send(self) -> None:
        if self.stream is not None and self._buffer:
            pool = self.transcript.hub.pool
            sent = pool.feed(self.stream, bytes(self._buffer), self._buffer_at)
            if not sent and not self.gap:
                # The worker could not take it (choked): the live transcript has a hole, so
                # it will end incomplete and be made again from the recording.
                self.gap = True
                self.transcript.failures += 1
        self._buffer.clear()

    def end(self) -> None:
        """No more audio: the worker decodes what is left, then ``on_done``."""
        if self.ended:
            return
        self.ended = True
        self._send()
        if self.stream is None:  # never had audio
            self.on_done()
        else:
            self.transcript.hub.pool.close(self.stream)

    def on_result(self, r: dict[str, Any]) -> None:
        channel = int(r["channel"])
        self.transcript.result(
            r, self.party_ids[channel] if channel < len(self.party_ids) else None
        )

    def on_done(self) -> None:
        self.stream = None
        self.finished = True
        self.transcript.feed_finished()

    def on_failed(self, reason: str) -> None:
        """The worker died: what it held is lost; a live feed goes on on another worker."""
        self.stream = None
        self.transcript.failures += 1
        logger.error("[call %s] transcription interrupted: %s", self.transcript.call_id, reason)
        if not self.ended and self.transcript.failures <= MAX_REOPENS:
            try:
                self._open(self._next_frame)
                return
            except Exception:
                logger.exception("[call %s] transcription cannot go on", self.transcript.call_id)
                self.ended = True
        self.finished = True
        self.transcript.feed_finished()

    def lag(self) -> dict[str, float] | None:
        return self.transcript.hub.pool.stream_stats(self.stream) if self.stream else None


@dataclass(eq=False)
class CallTranscript:
    """One call's transcript while it is being made: its feeds, its finals so far."""

    hub: TranscriptHub
    call_id: str
    account_id: str | None
    status: TranscriptStatus = TranscriptStatus.LIVE
    utterances: list[dict[str, Any]] = field(default_factory=list)
    feeds: list[PartyFeed] = field(default_factory=list)
    seq: int = 0
    last_latency_s: float | None = None
    failures: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False
    finishing: bool = False
    #: the call's recording: what a backfill re-transcribes if this transcript fails
    recording: Path | None = None
    #: made from the recording after the call (latency is not a live figure then)
    backfill: bool = False
    #: live alerts and suggestions (None: assist is off, or this is a backfill)
    assist: LiveAssist | None = None

    @property
    def topic(self) -> str:
        return topic_for(self.account_id, self.call_id)

    # -- audio in --------------------------------------------------------------------------

    def on_block(self, block: StereoBlock) -> None:
        """Pipeline sink: the call's aligned stereo audio goes to the first feed."""
        self.feeds[0].push(block.pcm, block.start_frame, block.frames)

    def add_party(self, speaker: str, party_id: str | None) -> PartyFeed:
        """A party that joins the call later (a supervisor barging in): its mono audio is
        transcribed as its own channel, and its words are labelled ``speaker``. Push its
        audio with :meth:`PartyFeed.push`; call :meth:`PartyFeed.end` when it leaves."""
        if self.ended:
            raise RuntimeError(f"call {self.call_id} has ended")
        feed = PartyFeed(self, (speaker,), (party_id,))
        self.feeds.append(feed)
        return feed

    def end(self) -> None:
        """The call ended: every feed sends what is gathered; the workers decode the rest."""
        if self.ended:
            return
        self.ended = True
        self.status = TranscriptStatus.PENDING
        self.hub.rows.update(self.call_id, {"transcript_status": self.status})
        for feed in list(self.feeds):
            feed.end()
        if not self.feeds:  # a call with no participant feed (a dialog nobody spoke in)
            self.feed_finished()

    # -- results out -----------------------------------------------------------------------

    def result(self, r: dict[str, Any], party_id: str | None) -> None:
        base = {
            "callId": self.call_id,
            "speaker": r["speaker"],
            "partyId": party_id,
            "startMs": r["start_ms"],
            "endMs": r["end_ms"],
            "text": r["text"],
            "confidence": r["confidence"],
        }
        if not r["final"]:
            self.hub.bus.publish(
                self.topic, {"event": "transcript.partial", "segment": r["segment"], **base}
            )
            return
        latency = max(0.0, time.monotonic() - float(r["ready_at"]))
        self.last_latency_s = latency
        if not self.backfill:
            self.hub.final_latency.observe(latency)
        self.seq += 1
        utterance = {"seq": self.seq, **base}
        del utterance["callId"]
        self.utterances.append(utterance)
        self.hub.rows.create(
            UtteranceRow(
                call_id=self.call_id,
                seq=self.seq,
                speaker=r["speaker"],
                party_id=party_id,
                start_ms=r["start_ms"],
                end_ms=r["end_ms"],
                text=r["text"],
                confidence=r["confidence"],
            )
        )
        self.hub.bus.publish(
            self.topic,
            {
                "event": "transcript.final",
                "callId": self.call_id,
                "segment": r["segment"],
                "latencyMs": round(latency * 1000),
                **utterance,
            },
        )
        if self.assist is not None and not self.backfill:
            try:
                items = self.assist.on_final(utterance)
            except Exception:  # a broken rule must not stop the transcript
                logger.exception("live assist failed on call %s", self.call_id)
                items = ()
            for item in items:
                self.hub.bus.publish(
                    self.topic, {"event": f"assist.{item['type']}", "callId": self.call_id, **item}
                )

    def feed_finished(self) -> None:
        if self.ended and not self.finishing and all(f.finished for f in self.feeds):
            self.finishing = True
            self.status = (
                TranscriptStatus.COMPLETE if not self.failures else TranscriptStatus.INCOMPLETE
            )
            self.hub.finish(self)

    # -- readers ---------------------------------------------------------------------------

    def lag(self) -> dict[str, Any]:
        stats = [s for s in (f.lag() for f in self.feeds) if s]
        return {
            "pendingFinals": int(sum(s["pendingFinals"] for s in stats)),
            "oldestPendingMs": round(max((s["oldestPendingS"] for s in stats), default=0) * 1000),
            "lastFinalLatencyMs": (
                round(self.last_latency_s * 1000) if self.last_latency_s is not None else None
            ),
        }


class TranscriptHub:
    """Transcripts of the live calls (and of ended ones until their last final is stored)."""

    def __init__(
        self,
        pool: WorkerPool,
        rows: CallRowWriter,
        bus: Bus,
        registry: Registry,
        *,
        calls: CallRepository,
        send_ms: int = 40,
        backfill_speed: float = BACKFILL_SPEED,
        assist: AssistRules | None = None,
    ) -> None:
        self.pool = pool
        self.assist_rules = assist
        self.rows = rows
        self.bus = bus
        self.calls = calls
        self.backfill_speed = backfill_speed
        self._backfills: asyncio.Queue[_Backfill] = asyncio.Queue()
        self._backfill_task: asyncio.Task[None] | None = None
        self.send_ms = max(20, send_ms)
        self.live: dict[str, CallTranscript] = {}
        self._retiring: set[asyncio.Task[None]] = set()
        self.final_latency: Histogram = registry.histogram(
            "callscope_asr_final_latency_seconds",
            "From the end of a phrase reaching the transcriber to its final result.",
            (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0),
        )
        self.completed_total = registry.counter(
            "callscope_transcripts_total", "Call transcripts finished, by status."
        )
        registry.gauge(
            "callscope_transcripts_open",
            "Transcripts being made (live calls and ended calls still decoding).",
            lambda: len(self.live),
        )

    def attach(
        self,
        call_id: str,
        account_id: str | None,
        party_ids: tuple[str | None, str | None],
        recording: Path | None = None,
        *,
        stereo: bool = True,
    ) -> CallTranscript:
        """A live call's transcript. ``stereo``: from the call's two channels (agent, customer)
        in one feed; False: the caller adds a feed per participant with
        :meth:`CallTranscript.add_party` (a RingCX gRPC dialog's segments)."""
        t = CallTranscript(self, call_id, account_id, recording=recording)
        if self.assist_rules is not None:
            t.assist = LiveAssist(self.assist_rules, sentiment=compound)
        if stereo:
            t.feeds.append(PartyFeed(t, CHANNELS, party_ids))
        self.live[call_id] = t
        return t

    # -- backfill: a failed transcript is made again from the recording --------------------

    async def start_backfills(self) -> None:
        """Once the workers run: queue a backfill of every transcript a previous run left
        incomplete (the server stopped mid-call, or a worker died)."""
        self._backfill_task = asyncio.create_task(self._run_backfills(), name="asr-backfill")
        for row in await self.calls.incomplete_transcripts():
            await self.requeue(row.id, row.account_ref, Path(row.recording_path))

    async def requeue(self, call_id: str, account_id: str | None, recording: Path) -> None:
        """Store the transcript as pending (insights wait for it), then backfill it."""
        await self.calls.update(call_id, transcript_status=TranscriptStatus.PENDING)
        self.backfill(call_id, account_id, recording)

    def backfill(self, call_id: str, account_id: str | None, recording: Path) -> None:
        """Queue a call to be transcribed again from its recording, after the live calls'
        work (paced at ``backfill_speed`` × real time)."""
        self._backfills.put_nowait(_Backfill(call_id, account_id, recording))

    async def _run_backfills(self) -> None:
        while True:
            job = await self._backfills.get()
            try:
                await self._backfill_one(job)
            except Exception:
                logger.exception("[call %s] re-transcribing the recording failed", job.call_id)

    async def _backfill_one(self, job: _Backfill) -> None:
        if job.call_id in self.live:
            return  # being transcribed already
        try:
            reader = wave.open(str(job.recording), "rb")  # noqa: SIM115 - closed below
        except (OSError, EOFError, wave.Error) as exc:
            logger.error("[call %s] no recording to re-transcribe: %s", job.call_id, exc)
            return
        with reader:
            if (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) != (
                8000,
                2,
                2,
            ):
                logger.error("[call %s] recording is not 8 kHz stereo 16-bit", job.call_id)
                return
            await self.rows.flush()
            await self.calls.delete_utterances(job.call_id)
            customer, agent = party_ids(job.call_id) if job.account_id else (None, None)
            t = self.attach(job.call_id, job.account_id, (agent, customer))
            t.backfill = True
            t.status = TranscriptStatus.PENDING
            self.rows.update(job.call_id, {"transcript_status": t.status})
            logger.info("[call %s] re-transcribing the recording", job.call_id)
            frame = 0
            step = 50  # frames (1 s) per push
            try:
                while not t.ended:
                    pcm = reader.readframes(step * 160)
                    if not pcm:
                        break
                    frames = len(pcm) // 640
                    t.feeds[0].push(pcm, frame, max(1, frames))
                    frame += frames
                    await asyncio.sleep(frames * 0.02 / self.backfill_speed)
            except BaseException:
                t.failures += 1  # cut short (shutdown, unreadable file): stays incomplete
                t.end()
                raise
        t.end()
        await t.done.wait()

    def detach(self, call_id: str) -> None:
        t = self.live.get(call_id)
        if t is not None:
            t.end()

    def get(self, call_id: str) -> CallTranscript | None:
        return self.live.get(call_id)

    def finish(self, t: CallTranscript) -> None:
        """Store the final status; forget the transcript once everything is committed."""
        committed = self.rows.update(t.call_id, {"transcript_status": t.status})
        self.completed_total.inc(status=t.status.value)
        self.bus.publish(
            t.topic,
            {
                "event": "transcript.completed",
                "callId": t.call_id,
                "status": t.status.value,
                "utterances": len(t.utterances),
            },
        )
        task = asyncio.get_running_loop().create_task(self._retire(t, committed))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retire(self, t: CallTranscript, committed: asyncio.Future[None]) -> None:
        await committed
        t.done.set()
        if self.live.get(t.call_id) is t:
            del self.live[t.call_id]
        retry = t.status is TranscriptStatus.INCOMPLETE and not t.backfill
        if retry and t.recording is not None and not self.pool.stopping:
            self.backfill(t.call_id, t.account_id, t.recording)

    async def settle(self, timeout_s: float) -> None:
        """Wait (bounded) until every ended call's transcript is complete and stored."""
        pending = [t.done.wait() for t in self.live.values() if t.ended]
        if pending:
            await asyncio.wait_for(asyncio.gather(*pending), timeout_s)

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Server shutdown: workers decode what they hold (bounded), the rest is marked
        incomplete (and backfilled on the next start)."""
        if self._backfill_task is not None:
            self._backfill_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._backfill_task
        for t in list(self.live.values()):
            t.end()
        try:
            await self.settle(timeout_s)
        except TimeoutError:
            logger.warning("transcripts of %d call(s) left incomplete at shutdown", len(self.live))
        await self.pool.stop(5.0)
        for t in list(self.live.values()):
            if not t.done.is_set():
                t.status = TranscriptStatus.INCOMPLETE
                self.rows.update(t.call_id, {"transcript_status": t.status})
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)
