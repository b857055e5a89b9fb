"""Live calls' transcripts: audio from the ingest pipeline to a worker, results back to the
bus, the database and anyone reading the transcript while the call goes on.

One :class:`CallTranscript` per call, from the call's start until its last final is stored.
The call's stereo blocks are gathered for ``send_ms`` and sent to the worker pool as one
stream with two channels — left = agent, right = customer, exactly the recording's layout,
so a speaker label always comes from the channel it was heard on.

Events published on the bus, topic ``<accountId>.calls.<callId>.transcript``:
``transcript.partial`` (not stored, superseded by later ones), ``transcript.final`` (stored
in order, numbered by ``seq``), ``transcript.completed`` (every final of the call is
stored). The ``seq`` of a final is the order in which it was decoded; readers sort by
``startMs``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from callscope.events.bus import Bus
from callscope.media.pipeline import StereoBlock
from callscope.metrics import Histogram, Registry
from callscope.store.models import TranscriptStatus, UtteranceRow
from callscope.store.writer import CallRowWriter
from callscope.transcription.pool import WorkerPool

__all__ = ["CHANNELS", "CallTranscript", "TranscriptHub", "topic_for", "utterance_json"]

logger = logging.getLogger("callscope.asr")

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
class CallTranscript:
    """One call's transcript while it is being made. Implements the pool's StreamSink."""

    hub: TranscriptHub
    call_id: str
    account_id: str | None
    party_ids: tuple[str | None, str | None]
    status: TranscriptStatus = TranscriptStatus.LIVE
    utterances: list[dict[str, Any]] = field(default_factory=list)
    stream: int | None = None
    seq: int = 0
    last_latency_s: float | None = None
    failures: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    _buffer: bytearray = field(default_factory=bytearray)
    _buffer_at: float = 0.0
    _next_frame: int = 0
    _ended: bool = False

    @property
    def topic(self) -> str:
        return topic_for(self.account_id, self.call_id)

    # -- audio in --------------------------------------------------------------------------

    def on_block(self, block: StereoBlock) -> None:
        """Pipeline sink: gather the call's aligned stereo audio, send it every send_ms."""
        if self._ended:
            return
        if self.stream is None:
            self._open(block.start_frame)
        if not self._buffer:
            self._buffer_at = time.monotonic()
        self._buffer += block.pcm
        self._next_frame = block.start_frame + block.frames
        if len(self._buffer) >= self.hub.send_bytes:
            self._send()

    def _open(self, start_frame: int) -> None:
        self.stream = self.hub.pool.open(list(CHANNELS), start_frame * 20, self)

    def _send(self) -> None:
        if self.stream is not None and self._buffer:
            self.hub.pool.feed(self.stream, bytes(self._buffer), self._buffer_at, len(CHANNELS))
        self._buffer.clear()

    def end(self) -> None:
        """The call ended: send what is gathered; the worker decodes the rest, then done."""
        if self._ended:
            return
        self._ended = True
        self._send()
        if self.stream is None:  # no audio at all
            self.on_done()
            return
        self.status = TranscriptStatus.PENDING
        self.hub.rows.update(self.call_id, {"transcript_status": self.status})
        self.hub.pool.close(self.stream)

    # -- results out -----------------------------------------------------------------------

    def on_result(self, r: dict[str, Any]) -> None:
        channel = int(r["channel"])
        base = {
            "callId": self.call_id,
            "speaker": r["speaker"],
            "partyId": self.party_ids[channel] if channel < len(self.party_ids) else None,
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
                party_id=base["partyId"],
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
                "latencyMs": round(latency * 1000),
                **utterance,
            },
        )

    def on_done(self) -> None:
        self.stream = None
        self.status = (
            TranscriptStatus.COMPLETE if not self.failures else TranscriptStatus.INCOMPLETE
        )
        self.hub.finish(self)

    def on_failed(self, reason: str) -> None:
        """The worker died: what it held is lost; a live call goes on on another worker."""
        self.failures += 1
        self.stream = None
        logger.error("[call %s] transcription interrupted: %s", self.call_id, reason)
        if self._ended:
            self.status = TranscriptStatus.INCOMPLETE
            self.hub.finish(self)
        else:
            try:
                self._open(self._next_frame)
            except Exception:
                logger.exception("[call %s] transcription cannot go on", self.call_id)
                self._ended = True
                self.status = TranscriptStatus.INCOMPLETE
                self.hub.finish(self)

    # -- readers ---------------------------------------------------------------------------

    def lag(self) -> dict[str, Any]:
        stats = self.hub.pool.stream_stats(self.stream) if self.stream is not None else None
        return {
            "pendingFinals": int(stats["pendingFinals"]) if stats else 0,
            "oldestPendingMs": round(stats["oldestPendingS"] * 1000) if stats else 0,
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
        send_ms: int = 100,
    ) -> None:
        self.pool = pool
        self.rows = rows
        self.bus = bus
        self.send_bytes = max(1, send_ms // 20) * 160 * 2 * len(CHANNELS)
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
        self, call_id: str, account_id: str | None, party_ids: tuple[str | None, str | None]
    ) -> CallTranscript:
        t = CallTranscript(self, call_id, account_id, party_ids)
        self.live[call_id] = t
        return t

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

    async def settle(self, timeout_s: float) -> None:
        """Wait (bounded) until every ended call's transcript is complete and stored."""
        pending = [t.done.wait() for t in self.live.values() if t._ended]
        if pending:
            await asyncio.wait_for(asyncio.gather(*pending), timeout_s)

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Server shutdown: workers decode what they hold (bounded), the rest is marked
        incomplete."""
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
