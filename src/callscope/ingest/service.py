"""Ingest service: the set of live calls, their metrics and rows, idle sweeping,
keepalive, fencing and crash recovery.

A :class:`~callscope.ingest.live_call.LiveCall` ties one stream to its media, recording and
sinks; :class:`IngestService` owns them all. Transport (the WebSocket, gRPC) stays in
:mod:`callscope.api.ingest` and :mod:`callscope.api.grpc_ingest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter as TallyCounter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from callscope.calls.telephony import TelephonyService
from callscope.config import Settings
from callscope.errors import RecordingError
from callscope.ingest.live_call import LiveCall
from callscope.ingest.model import (
    CallMedia,
    CloseFn,
    SupervisionHooks,
    UpgradeParams,
    new_call_id,
    start_values,
)
from callscope.ingest.talkback import Talkback
from callscope.insights.service import new_job
from callscope.lifecycle import Lifecycle
from callscope.media.wav import repair_wav
from callscope.metrics import Histogram, Labels, Registry
from callscope.store.models import Call, CallStatus, TranscriptStatus
from callscope.store.repo import CallRepository, utcnow
from callscope.store.writer import CallRowWriter
from callscope.transcription.live import TranscriptHub

# The call, its contracts and its talkback live in their own modules (#19); they are
# re-exported here, where callers have always imported them from.
__all__ = [
    "CallMedia",
    "CloseFn",
    "IngestService",
    "LiveCall",
    "Talkback",
    "UpgradeParams",
    "new_call_id",
    "start_values",
]

logger = logging.getLogger("callscope.ingest")


class IngestService:
    """Owns live calls, their metrics and their persistence."""

    def __init__(self, settings: Settings, calls: CallRepository, registry: Registry) -> None:
        self.settings = settings
        self.calls = calls
        self.live: dict[str, LiveCall] = {}
        #: every accepted stream, started or not
        self.connections: set[LiveCall] = set()
        #: set while no stream is open (a drain waits on it)
        self.idle = asyncio.Event()
        self.idle.set()
        #: set by the app: once it drains, new streams are refused (callscope.lifecycle)
        self.lifecycle = Lifecycle()
        #: open streams by client address (both transports)
        self.per_ip: TallyCounter[str] = TallyCounter()
        self.rows = CallRowWriter(calls)
        #: set by the app: turns calls into telephony sessions (None: recording only)
        self.telephony: TelephonyService | None = None
        #: set by the app: live transcription (None: off)
        self.transcripts: TranscriptHub | None = None
        #: set by the app: supervisors listening, coaching, barging (None: off)
        self.supervision: SupervisionHooks | None = None
        #: set by the app: every ended call of an account gets an insights job
        self.insights = False
        #: this node's name, stored on its calls (a cluster recovers a dead node's calls)
        self.node_id: str = settings.effective_node_id
        #: in a cluster, start-up recovery is left to the app (under the node's lease)
        self.recover_at_start = True
        #: why this node refuses new streams (it fenced itself off its cluster); None: it
        #: takes them
        self.fenced: str | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._pings: set[asyncio.Task[None]] = set()
        self._finished_totals: TallyCounter[Labels] = TallyCounter()
        self._malformed_totals: TallyCounter[Labels] = TallyCounter()
        reg = registry
        reg.gauge("callscope_live_calls", "Calls being received now.", lambda: len(self.live))
        reg.gauge(
            "callscope_ingest_connections", "Open ingest WebSockets.", lambda: len(self.connections)
        )
        self.calls_total = reg.counter("callscope_calls_total", "Calls ended, by final status.")
        self.sink_failures = reg.counter(
            "callscope_sink_failures_total",
            "Call audio consumers (recording, transcription, supervision) that failed and "
            "were detached, by sink.",
        )
        self.refused_total = reg.counter(
            "callscope_streams_refused_total", "Streams refused before or at Start, by reason."
        )
        reg.counter(
            "callscope_frames_received_total",
            "Media frames accepted, by perspective.",
            live=lambda: self._frame_totals("received"),
        )
        for kind, text in (
            ("late", "Frames that arrived after their slot was concealed."),
            ("duplicate", "Frames received more than once."),
            ("missing", "Frames never received in time, written as silence."),
        ):
            reg.counter(
                f"callscope_frames_{kind}_total",
                text,
                live=lambda kind=kind: self._frame_totals(kind),  # type: ignore[misc]
            )
        reg.counter(
            "callscope_malformed_messages_total",
            "Messages dropped as malformed, by kind.",
            live=self._malformed_live,
        )
        self.frame_lag: Histogram = reg.histogram(
            "callscope_frame_lag_seconds",
            "Age of a frame when written, against the real-time schedule of its call.",
            (0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0),
        )

    # -- metrics folding -----------------------------------------------------------------

    def _frame_totals(self, kind: str) -> Iterable[tuple[Labels, float]]:
        totals: TallyCounter[Labels] = TallyCounter()
        for key, v in self._finished_totals.items():
            if key[0] == ("kind", kind):
                totals[key[1:]] += v
        for call in self.live.values():
            for p, buf in zip(("agent", "caller"), call.media.buffers, strict=True):
                totals[(("perspective", p),)] += getattr(buf, kind)
        return totals.items()

    def _malformed_live(self) -> Iterable[tuple[Labels, float]]:
        totals = TallyCounter(self._malformed_totals)
        for call in self.live.values():
            for kind, n in call.malformed.items():
                totals[(("kind", kind),)] += n
        return totals.items()

    # -- live calls ----------------------------------------------------------------------

    def admit(self, peer: str) -> bool:
        r"""Count a new stream from ``peer`` (False: it has ``ingest_max_connections_per_ip``
        open already, refused and counted). Every admitted stream is :meth:`release`\ d."""
        if self.per_ip[peer] >= self.settings.ingest_max_connections_per_ip:
            self.refused_total.inc(reason="connections_per_ip")
            return False
        self.per_ip[peer] += 1
        return True

    def release(self, peer: str) -> None:
        self.per_ip[peer] -= 1
        if self.per_ip[peer] <= 0:
            del self.per_ip[peer]

    @property
    def accepting(self) -> bool:
        """Whether new streams are taken (not once the server drains)."""
        return not self.lifecycle.draining

    def attach(self, call: LiveCall) -> None:
        """A connection was accepted: the sweeper watches it even before its Start."""
        self.connections.add(call)
        self.idle.clear()

    def detach(self, call: LiveCall) -> None:
        self.connections.discard(call)
        if not self.connections:
            self.idle.set()

    async def register(self, call: LiveCall) -> None:
        assert call.row is not None
        assert call.call_id is not None
        self.rows.create(call.row)  # write-behind: ingest never waits on the database
        self.live[call.call_id] = call

    async def unregister(self, call: LiveCall, status: CallStatus, values: dict[str, Any]) -> None:
        assert call.call_id is not None
        self.live.pop(call.call_id, None)
        for p, buf in zip(("agent", "caller"), call.media.buffers, strict=True):
            for kind in ("received", "late", "duplicate", "missing"):
                self._finished_totals[(("kind", kind), ("perspective", p))] += getattr(buf, kind)
        for kind, n in call.malformed.items():
            self._malformed_totals[(("kind", kind),)] += n
        self.calls_total.inc(status=status.value)
        # The insights job commits with the call's final state: a restart finds it.
        jobs = [new_job(call.row)] if self.insights and call.row and call.row.account_ref else []
        await self.rows.update(call.call_id, values, creates=jobs)

    async def settle(self, timeout_s: float = 10.0) -> None:
        """Wait (bounded) until no stream is open and every row change is committed."""
        deadline = time.monotonic() + timeout_s
        while self.connections and time.monotonic() < deadline:  # noqa: ASYNC110 - bounded poll, demo only
            await asyncio.sleep(0.05)
        await asyncio.wait_for(self.rows.flush(), max(0.1, deadline - time.monotonic()))

    # -- background work -----------------------------------------------------------------

    async def start(self) -> None:
        if self.recover_at_start:
            await self.recover()
        self.rows.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="callscope-ingest-sweeper")

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for task in self._pings:
            task.cancel()
        await asyncio.gather(
            *(
                call.end(
                    CallStatus.INTERRUPTED,
                    "server shut down mid-call",
                    close_code=1001,
                    close_reason="server shutting down",
                )
                for call in list(self.connections)
            )
        )
        if self.transcripts is not None:
            await self.transcripts.stop()
        await self.rows.stop()

    async def fence(self, reason: str) -> None:
        """This node was cut off from its cluster: refuse new streams and end every open one
        as a crash would end it (``interrupted``, recording closed), the sender told why
        (WebSocket close 1001, gRPC ``UNAVAILABLE``), before another node takes this one for
        dead. Telephony sessions are closed as usual (their Disconnected written once:
        :mod:`callscope.store.writer` guards)."""
        self.fenced = reason
        calls = list(self.connections)
        if calls:
            logger.error("%s: ending %d stream(s)", reason, len(calls))
        await asyncio.gather(
            *(
                call.end(
                    CallStatus.INTERRUPTED,
                    f"{reason}; recording closed",
                    close_code=1001,
                    close_reason="node cut off from its cluster: reconnect",
                )
                for call in calls
            )
        )
        # committed before the others could take this node for dead (bounded: a database
        # that is down too must not hold the node fenced once Redis is back)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.rows.flush(), 10.0)

    def unfence(self) -> None:
        """Back in the cluster: take new streams again."""
        self.fenced = None

    async def _sweep(self) -> None:
        """Close streams silent for longer than the idle timeout; ping WebSocket streams;
        checkpoint counters."""
        timeout = self.settings.ingest_idle_timeout_s
        deadline = self.settings.ingest_start_deadline_s
        checkpoint_s = self.settings.ingest_checkpoint_interval_s
        ping_s = self.settings.ingest_ping_interval_s
        interval = min(1.0, timeout / 4, deadline / 4, checkpoint_s, ping_s or 1.0)
        last_checkpoint = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            if ping_s:
                self._keepalive(now, ping_s)
            # Every connection, started or not: one that never sends Start is closed too.
            idle = [c for c in self.connections if now - c.last_activity > timeout]
            late = [
                c
                for c in self.connections
                if c.call_id is None and now - c.connected_at > deadline and c not in idle
            ]
            if idle:
                # one line per sweep, not per stream: a flood of idle sockets must not
                # flood the log
                logger.warning(
                    "closing %d stream(s) silent for %.0f s (%s)",
                    len(idle),
                    timeout,
                    ", ".join(sorted(c.call_id or "not started" for c in idle)[:5]),
                )
            if late:
                logger.warning(
                    "closing %d stream(s) that sent no Start within %g s", len(late), deadline
                )
            # Concurrently: closing a dead peer's socket waits for its close timeout.
            await asyncio.gather(
                *(
                    call.end(
                        CallStatus.ABANDONED,
                        f"sender silent for {timeout:g} s without Stop",
                        close_code=1001,
                        close_reason="idle timeout",
                    )
                    for call in idle
                ),
                *(
                    call.end(
                        CallStatus.ABANDONED,
                        "no Start",
                        close_code=1008,
                        close_reason=f"no Start within {deadline:g} s",
                    )
                    for call in late
                ),
            )
            if now - last_checkpoint >= checkpoint_s:
                last_checkpoint = now
                self._checkpoint()

    def _keepalive(self, now: float, interval_s: float) -> None:
        """Ping each WebSocket stream every ``interval_s``, whatever it sends us: a proxy
        (nginx ``proxy_read_timeout``, cloud load balancers) cuts a connection that carries
        nothing towards the client for a while, and a RingCX stream is one-way. (aiohttp's
        own ``heartbeat`` pings only a socket that receives nothing, and closes it on a
        missing pong: RingCX's client may answer late under load, and a sender that stops
        sending is the idle timeout's to end.) Each stream pings on its own phase, from its
        connection time; the pings are tasks, so a slow peer holds no sweep."""
        for call in self.connections:
            if call.ping is not None and now - call.last_ping >= interval_s and not call.finished:
                call.last_ping = now
                task = asyncio.create_task(call.ping())
                self._pings.add(task)
                task.add_done_callback(self._pings.discard)

    def _checkpoint(self) -> None:
        """Store every live call's counters and duration: a crash loses one interval of them."""
        self.rows.update_many(
            {
                call.call_id: call.checkpoint_values()
                for call in self.live.values()
                if call.call_id and not call.finished
            }
        )

    async def recover(
        self, node_id: str | None = None, *, reason: str | None = None
    ) -> Sequence[Call]:
        """Repair the recordings of calls left ``live`` by a killed server: all of them
        (one node), or those of cluster node ``node_id`` and of no node.

        Returns:
            The calls marked ``interrupted`` (as they were read: still ``live``).
        """
        why = reason or "server stopped mid-call"
        rows = await self.calls.live(node_id)
        for row in rows:
            path = Path(row.recording_path)
            values: dict[str, Any] = {
                "status": CallStatus.INTERRUPTED,
                "end_reason": f"{why}; recording repaired",
            }
            try:
                info = repair_wav(path)
                values["duration_ms"] = info.duration_ms
                values["ended_at"] = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
            except RecordingError as exc:
                logger.error("call %s: recording could not be repaired: %s", row.id, exc)
                values["end_reason"] = f"{why}; recording unusable: {exc}"[:200]
                values["ended_at"] = utcnow()
            await self.calls.update(row.id, **values)
            self.calls_total.inc(status=CallStatus.INTERRUPTED.value)
            logger.warning("call %s was live when %s: marked interrupted", row.id, why)
        ids = [row.id for row in rows]
        if self.telephony is not None:
            await self.telephony.end_orphans(ids, CallStatus.INTERRUPTED)
        for call_id in await self.calls.unfinished_transcripts(None if node_id is None else ids):
            await self.calls.update(call_id, transcript_status=TranscriptStatus.INCOMPLETE)
            logger.warning("call %s: transcript left incomplete by %s", call_id, why)
        return rows
