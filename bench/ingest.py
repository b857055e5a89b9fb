"""Ingest capacity: how many concurrent RingCX calls one ``callscope serve`` core keeps up with.

Targets (issues): WebSocket streams ≥ 400 concurrent calls on one server core (aim 600) and
≥ 0.9 × a bare aiohttp + uvloop WebSocket loop; gRPC dialogs ≥ 800 (ten messages per second
per participant instead of fifty).

What it does
------------
``--transport websocket``, ``grpc`` or ``both`` (default: WebSocket first, then gRPC, each
against a fresh server, and a summary comparing them). For each transport it starts
``callscope serve`` as a subprocess (free ports, temporary data directory, ``--log-level
WARNING``, transcription off, the gRPC listener on loopback for gRPC) pinned to CPU 0, and
drives it from this process pinned to CPU 1. Calls present the demo streaming profile's
secret (from the server's ``demo-credentials.json``). Calls are opened in steps (``--steps``
for WebSocket, default 100,200,…,800; ``--grpc-steps`` for gRPC, default 200,400,…,1600).
Each step opens the extra calls over ``--ramp`` seconds, warms up for ``--warmup`` s, waits
(up to 15 s) until the server has worked off any backlog the calls' start-up left (a row, a
recording and a session per call), then measures for ``--measure`` s; calls stay open into
the next step. ``--quick`` is a smoke run of under two minutes for both (about four with
the baselines).

Baselines (``--baseline``, on by default): after each transport's ramp the same steps are
run against that transport's *bare loop* (``bench/bare_ingest.py``), started, pinned and
driven exactly like ``callscope serve``: an aiohttp + uvloop WebSocket handler that parses
each message with orjson, base64-decodes the media and appends it to a file, and a
``grpc.aio`` servicer that parses each ``StreamEvent`` and appends its payload. It serves
the same ``/metrics`` names, so the same capacity criterion applies; the summary prints
callscope's figure as a ratio of the bare loop's.

CPU per call (contention-robust): the machine may be shared, and other processes on the
server's CPU make the wall-clock ramp fail early. So each row also gives ``calls/core_cpu``
= 1 ÷ (server CPU seconds per second of call audio the server received in the window): the
calls one whole core would carry at what this step cost per call. It counts what the server
read, so it holds while other load makes the server fall behind. The summary takes it at
the largest step the server kept up with (nothing left unread at window end, nothing lost,
concealed or dropped, whatever the lag; else the largest step, marked "behind"), and gives
the callscope / bare ratio of CPU per call-second at the largest step both kept up with
(else both ran), with the other processes' mean load on the server's CPU during each ramp.

Every call streams the bundled 77 s demo call in real time, looped:

* WebSocket: one tick loop sends, every 20 ms, one Media message per perspective for every
  open call, from pre-built, pre-masked frames (the frame for sequenceId *s* is the same
  bytes for every call): 100 messages/s per call, all calls in phase.
* gRPC: one ``Stream`` RPC per call (a dialog: caller and agent segments), spread over
  ``--grpc-channels`` HTTP/2 connections; every 100 ms one ``segment_media`` chunk (100 ms of
  PCMU) per segment, from pre-serialized messages: 20 messages/s per call, phases spread
  evenly over the 100 ms. See ``bench/ingest_grpc.py``.

Each figure comes from the server's ``/metrics`` scraped at the start and end of the window
(counter differences), from ``/proc/<pid>`` of the server, and from the generator itself.

Reading the table
-----------------
calls            calls open in the step (connected, Start / dialog_init sent)
lag_*_ms         frame lag, from the ``callscope_frame_lag_seconds`` histogram over the window.
                 WebSocket: the time a block of frames is written to disk minus the due time
                 of its oldest frame on its call's real-time schedule (anchored at the call's
                 first Media *as processed*); 2-frame write batches put p50 near 20 ms.
                 gRPC: the time the dialog mixer emits a block minus when the block's last
                 audio existed on the dialog's real-time schedule (anchored at the first
                 chunk's arrival less its 100 ms): ≈ 0 while the server keeps up (the 100 ms
                 chunking is the sender's). Both include time the messages sat in socket
                 buffers while the server was behind, but not a backlog that built up before
                 a call's first media was processed (watch ``lost`` and the notes for that).
                 p50/p99 are interpolated inside buckets (5, 10, 20, 30, 40, 50, 75, 100,
                 150, 200, 300, 500 ms, …), so values below 5 ms only mean "under 5 ms";
                 the mean is exact.
sent / received  media messages the generator wrote / the server accepted in the window
                 (WebSocket: 20 ms frames; gRPC: 100 ms chunks). The generator's count is read
                 when a scrape is sent, the server's when it answers; a busy server answers
                 later and has read more by then, so near saturation the two differ a little.
lost             growth over the window of the messages the server had not received although
                 they were sent well before the scrape (WebSocket: before the latest tick,
                 which may legitimately be in flight; gRPC: 30 ms before). 0 while the server
                 keeps up: the skew above can make the server look less behind, never more.
                 Negative: it caught up.
missing          frames (gRPC: chunks) the server concealed as silence in the window
server_cpu_%     server process CPU (user + sys, all threads) in % of one core
calls/core_cpu   calls one core carries at this step's server CPU per call-second of audio
                 received (CPU seconds ÷ (media messages received ÷ messages per call-second))
rss_MB           server RSS at window end; rss/call_KB = (RSS − RSS idle before any call) / calls
gen_cpu_%        CPU of this process; near 100 the generator, not the server, is the limit
gen_late_*_ms    how late the generator sent against its schedule: WebSocket, how late the tick
                 loop finished a tick's sends; gRPC, how late a call's task woke for its chunk
                 (this process's loop lag). The server's lag includes this; rows where
                 p99 > 20 ms are flagged '!' because their lag figures are then partly the
                 generator's. (A gRPC call whose write is held by HTTP/2 flow control because
                 the server reads too slowly is the server's lag, not the generator's: those
                 chunks are counted apart, in a note.)

A note line under a row reports anything else unusual: calls the server does not count as
live (Start not processed yet), new calls that could not connect, late or duplicate frames,
calls the server dropped, how far behind the server was at window end, and load from other
processes on the two CPUs (the machine may be shared). Ramping stops early once
p99 ≥ 500 ms, lost > 1 % of sent, or new calls cannot connect. At the end media stops, the
server gets up to 5 s to settle and the cumulative totals are printed (so in-flight messages
are accounted for), every call ends (WebSocket: Stop twice; gRPC: both segment_stop and a
half-close) and the script prints the largest N whose step had p99 < 100 ms and zero loss:
lost ≤ 0, missing = 0, late = 0, every call connected, live on the server and not dropped.
With both transports a last line gives each one's figure and their ratio; with baselines,
two lines per transport give callscope against its bare loop: wall clock and CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter as TallyCounter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import urlencode

from benchlib import (
    core_busy_seconds,
    counts,
    cpu_seconds,
    own_cpu_seconds,
    percentile,
    pin,
    rss_kb,
)
from callscope.errors import UpgradeFailed, UpgradeRefused
from callscope.protocols.ringcx import (
    Perspective,
    build_connected,
    build_media,
    build_start,
    build_stop,
)
from callscope.sim.plan import CallAudio, load_audio
from callscope.sim.runner import default_source
from callscope.sim.wsclient import WebSocketClient, connect
from callscope.sim.wsframes import OP_TEXT, encode_frame
from ingest_grpc import MARK_GRACE_S, OK_ENDING, GrpcGenerator

try:
    import uvloop
except ImportError:  # the server falls back to asyncio's loop too
    uvloop = None  # type: ignore[assignment]  # optional: a plain loop without it

FRAME_S: Final = 0.020
#: Scrape this long after a tick's due time: a server that keeps up has read that tick by then.
SCRAPE_PHASE_S: Final = 0.016
PASS_P99_S: Final = 0.100
ABORT_P99_S: Final = 0.500
ABORT_LOSS: Final = 0.01
GEN_LATE_FLAG_S: Final = 0.020
#: A call whose unsent data exceeds this (≈ 8 s of its audio) makes the tick loop wait a little.
DRAIN_HIGH_BYTES: Final = 256 * 1024
NET_TIMEOUT_S: Final = 10.0
READY_TIMEOUT_S: Final = 30.0
SETTLE_TIMEOUT_S: Final = 5.0
#: after a step's warm-up, how long to wait at most for the server to work off the backlog
#: that starting the step's calls left (each start stores a row and opens a recording)
CATCH_UP_TIMEOUT_S: Final = 15.0
SERVER_CPU, GEN_CPU = 0, 1
LAG: Final = "callscope_frame_lag_seconds"
BARE_SCRIPT: Final = Path(__file__).with_name("bare_ingest.py")


@dataclass(frozen=True, slots=True)
class Transport:
    """What differs between the two ways calls reach the server."""

    name: str  # as --transport says it
    label: str
    unit: str  # what one media message is
    message_ms: int  # audio per media message (per party)
    settle_ms: int  # a message sent this long before a scrape should have been received
    clean_ending: str  # how end_calls tallies a call that ended as it should


WEBSOCKET: Final = Transport(
    "websocket", "WebSocket", "Media frames", 20, round(FRAME_S * 1000), "1000 call complete"
)
GRPC: Final = Transport("grpc", "gRPC", "media chunks", 100, round(MARK_GRACE_S * 1000), OK_ENDING)
TRANSPORTS: Final = {"websocket": (WEBSOCKET,), "grpc": (GRPC,), "both": (WEBSOCKET, GRPC)}
QUICK: Final = {"websocket": [50, 100, 150], "grpc": [100, 200, 300]}


# -- server process --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(
    port: int,
    data_dir: Path,
    log_path: Path,
    event_loop: str = "auto",
    grpc_port: int = 0,
    *,
    bare: bool = False,
    prefix: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start ``callscope serve`` (or the bare loop), under ``prefix`` (valgrind…) if given."""
    cmd = [
        sys.executable, "-m", "callscope", "serve",
        "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(data_dir), "--log-level", "WARNING", "--event-loop", event_loop,
        "--asr-workers", "0",  # ingest alone; transcription capacity is bench/asr.py
        "--grpc-port", str(grpc_port),  # 0: off; plaintext is allowed on loopback
    ]  # fmt: skip
    if bare:  # the baseline (bench/bare_ingest.py): same ports, same metrics, the minimum
        cmd = [
            sys.executable, str(BARE_SCRIPT), "--port", str(port),
            "--grpc-port", str(grpc_port), "--data-dir", str(data_dir),
        ]  # fmt: skip
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [*prefix, *cmd],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only us; we stop the server ourselves
        )


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# -- HTTP and metrics ------------------------------------------------------------------------


async def http_get(port: int, path: str, timeout_s: float = NET_TIMEOUT_S) -> tuple[int, str]:
    """A minimal HTTP/1.0 GET (the server closes the connection after the answer)."""

    async def go() -> tuple[int, str]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            data = await reader.read(-1)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
        return status, body.decode("utf-8", "replace")

    return await asyncio.wait_for(go(), timeout_s)


Buckets = tuple[tuple[float, float], ...]  # (le, cumulative count), sorted by le


def parse_metrics(text: str) -> tuple[dict[str, float], Buckets]:
    """Sum every sample over its labels; keep the frame-lag histogram's buckets apart."""
    sums: dict[str, float] = {}
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, raw = line.rpartition(" ")
        name, _, labels = key.partition("{")
        value = float(raw)
        if name == LAG + "_bucket":
            buckets[float(labels.split('le="', 1)[1].split('"', 1)[0])] = value
        else:
            sums[name] = sums.get(name, 0.0) + value
    return sums, tuple(sorted(buckets.items()))


def quantile(buckets: Buckets, q: float) -> float | None:
    """Prometheus-style quantile of cumulative buckets (linear inside a bucket).

    Returns None without observations, ``inf`` when the rank lies in the +Inf bucket.
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for le, cumulative in buckets:
        if cumulative >= rank and cumulative > below:
            if math.isinf(le):
                return math.inf
            return lower + (le - lower) * (rank - below) / (cumulative - below)
        lower, below = le, cumulative
    return math.inf


@dataclass(frozen=True, slots=True)
class Snapshot:
    t: float
    sent: int
    #: what a server that keeps up has received by the scrape (see ``Load.mark``)
    sent_settled: int
    dropped_calls: int
    metrics: dict[str, float]
    lag: Buckets
    server_cpu_s: float
    server_rss_kb: int
    gen_cpu_s: float
    cores: dict[int, float]

    def m(self, name: str) -> float:
        return self.metrics.get(name, 0.0)

    @property
    def received(self) -> int:
        return int(self.m("callscope_frames_received_total"))

    @property
    def behind(self) -> int:
        """Messages sent well before the scrape that the server has not received yet.

        WebSocket: before the most recent tick (its frames may legitimately be in flight;
        anything older means the server is more than 20 ms behind, or the frames are gone).
        gRPC: 30 ms before the scrape.
        """
        return max(0, self.sent_settled - self.received)


# -- load generator --------------------------------------------------------------------------


class Load(Protocol):
    """What a ramp needs of a generator (:class:`Generator`, :class:`GrpcGenerator`)."""

    @property
    def calls(self) -> Any: ...  # a sized list of the open calls
    @property
    def sent(self) -> int: ...
    @property
    def dropped_calls(self) -> int: ...
    @property
    def failed_connects(self) -> int: ...
    @property
    def errors(self) -> list[str]: ...
    @property
    def stalls(self) -> int: ...

    def start(self) -> None: ...
    async def open_calls(self, count: int, over_s: float) -> None: ...
    async def mark(self, *, aligned: bool = True) -> tuple[int, int]: ...
    def take_lateness(self) -> list[float]: ...
    async def stop_media(self) -> None: ...
    async def end_calls(self) -> TallyCounter[str]: ...
    def abort_all(self) -> None: ...
    async def close(self) -> None: ...


def call_query(index: int, call_id: str) -> dict[str, str]:
    """Upgrade query parameters, shaped like the simulator's (``callscope simulate``)."""
    return {
        "callId": call_id,
        "sessionId": str(index + 1),
        "ani": f"650555{index % 10000:04d}",
        "dnis": "6505550900",
        "accountId": "88800010",
        "subaccountId": "88800012",
        "rcAccountId": "70000001",
        "agentId": str(5501 + index % 3),
        "productType": "Queue",
        "productId": "4401",
    }


def start_metadata(query: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = dict(query)
    meta.update(
        sessionId=int(query["sessionId"]),
        agentId=int(query["agentId"]),
        productId=int(query["productId"]),
    )
    return meta


def transport_of(ws: WebSocketClient) -> asyncio.WriteTransport:
    # The hot path writes pre-encoded frames straight to the transport; WebSocketClient has no
    # public way to send bytes that are already framed and masked.
    return ws.transport


@dataclass(slots=True)
class BenchCall:
    index: int
    ws: WebSocketClient
    transport: asyncio.WriteTransport
    start_tick: int


@dataclass
class Generator:
    """One tick loop for all calls: every 20 ms, frame *k* of both perspectives of each call."""

    audio: CallAudio
    url: str
    #: the streaming profile's secret, presented at the upgrade (X-Streaming-Secret)
    secret: str
    mask_key: bytes = field(default_factory=lambda: os.urandom(4))
    calls: list[BenchCall] = field(default_factory=list)
    tick: int = 0  # the next tick to send
    t0: float = 0.0
    sent: int = 0
    sent_before_last_tick: int = 0
    dropped_calls: int = 0
    failed_connects: int = 0
    stalls: int = 0
    errors: list[str] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    _cache_p: list[bytes] = field(default_factory=list)
    _cache_c: list[bytes] = field(default_factory=list)
    _writes: list[Callable[[Any], None]] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list)
    _running: bool = False
    _dirty: bool = False
    _watchers: set[asyncio.Task[None]] = field(default_factory=set)
    _task: asyncio.Task[None] | None = None
    _next_index: int = 0

    # -- frames --

    def _extend_cache(self, frames: int) -> None:
        """Frame i (sequenceId i + 1) of each perspective, framed and masked, for i < frames."""
        n = self.audio.frames
        for i in range(len(self._cache_p), frames):
            for perspective, source, cache in (
                (Perspective.PARTICIPANT, self.audio.agent, self._cache_p),
                (Perspective.CONFERENCE, self.audio.caller, self._cache_c),
            ):
                msg = build_media(perspective, i + 1, source[i % n])
                cache.append(encode_frame(OP_TEXT, msg, mask_key=self.mask_key))

    # -- calls --

    def _rebuild(self) -> None:
        self._writes = [c.transport.write for c in self.calls]
        self._starts = [c.start_tick for c in self.calls]

    async def open_calls(self, count: int, over_s: float) -> None:
        """Open ``count`` more calls, spread over ``over_s`` seconds."""
        tasks = []
        for j in range(count):
            tasks.append(asyncio.create_task(self._open_one(self._next_index)))
            self._next_index += 1
            if j < count - 1:
                await asyncio.sleep(over_s / count)
        await asyncio.gather(*tasks)

    async def _open_one(self, index: int) -> None:
        call_id = f"bench-{index + 1:05d}"
        query = call_query(index, call_id)
        try:
            ws = await connect(
                f"{self.url}?{urlencode(query)}",
                headers={"X-Streaming-Secret": self.secret},
                timeout_s=NET_TIMEOUT_S,
            )
        except (UpgradeFailed, UpgradeRefused) as exc:
            self.failed_connects += 1
            if len(self.errors) < 5:
                self.errors.append(f"call {index + 1}: {exc}")
            return
        ws.send_text(build_connected())
        ws.send_text(build_start(start_metadata(query)))
        # Media starts with the next tick; lists only change between ticks.
        self.calls.append(BenchCall(index, ws, transport_of(ws), self.tick))
        self._rebuild()
        self._watchers.add(asyncio.create_task(self._watch(ws)))

    async def _watch(self, ws: WebSocketClient) -> None:
        # A connection the server closes is dropped before the next tick writes to it again.
        await ws.closed.wait()
        self._dirty = True

    def _prune(self) -> None:
        self._dirty = False
        alive = [c for c in self.calls if not c.ws.is_closed]
        if len(alive) != len(self.calls):
            self.dropped_calls += len(self.calls) - len(alive)
            self.calls = alive
            self._rebuild()

    # -- tick loop --

    def start(self) -> None:
        self._extend_cache(256)
        self._running = True
        self._task = asyncio.create_task(self._run(), name="bench-ticks")

    async def stop_media(self) -> None:
        self._running = False
        if self._task is not None:
            await asyncio.wait_for(self._task, NET_TIMEOUT_S)

    def next_phase(self, offset_s: float) -> float:
        """Loop time ``offset_s`` after the due time of the next tick."""
        return self.t0 + self.tick * FRAME_S + offset_s

    async def mark(self, *, aligned: bool = True) -> tuple[int, int]:
        """(frames sent, frames sent before the latest tick), ``SCRAPE_PHASE_S`` into a tick
        when ``aligned``. Nothing awaits between this and the scrape's request."""
        loop = asyncio.get_running_loop()
        if aligned and self.t0:
            await asyncio.sleep(max(0.0, self.next_phase(SCRAPE_PHASE_S) - loop.time()))
        return self.sent, self.sent_before_last_tick

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self.t0 = loop.time()
        k = 0
        while self._running:
            due = self.t0 + k * FRAME_S
            delay = due - loop.time()
            # Always yield, even when behind: connects, scrapes and readers must run too.
            await asyncio.sleep(max(delay, 0.0))
            writes, starts = self._writes, self._starts
            if starts and k - starts[0] >= len(self._cache_p):
                self._extend_cache(k - starts[0] + 64)  # the oldest call has the highest seq
            cache_p, cache_c = self._cache_p, self._cache_c
            self.sent_before_last_tick = self.sent
            for write, start in zip(writes, starts, strict=True):
                write(cache_p[k - start])
                write(cache_c[k - start])
            self.sent += 2 * len(writes)
            self.lateness.append(loop.time() - due)
            k += 1
            self.tick = k
            if self._dirty:
                self._prune()
            if k % 5 == 0:
                await self._flow_control()

    async def _flow_control(self) -> None:
        heavy = [c for c in self.calls if c.transport.get_write_buffer_size() > DRAIN_HIGH_BYTES]
        if not heavy:
            return
        self.stalls += 1

        async def drain(ws: WebSocketClient) -> None:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                await ws.drain()

        tasks = [asyncio.create_task(drain(c.ws)) for c in heavy]
        _, pending = await asyncio.wait(tasks, timeout=FRAME_S)
        for t in pending:
            t.cancel()

    def take_lateness(self) -> list[float]:
        out, self.lateness = self.lateness, []
        return out

    # -- end --

    async def end_calls(self) -> TallyCounter[str]:
        """Stop ×2 on every call and wait for the server to close; tallies how calls ended."""
        end = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        for c in self.calls:
            if c.ws.is_closed:
                continue
            stop = build_stop(round((self.tick - c.start_tick) * FRAME_S, 3), end)
            with contextlib.suppress(ConnectionError, RuntimeError):
                c.ws.send_text(stop)
                c.ws.send_text(stop)
        waits = [asyncio.create_task(c.ws.closed.wait()) for c in self.calls]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=NET_TIMEOUT_S)
            for t in pending:
                t.cancel()
        endings: TallyCounter[str] = TallyCounter(
            f"{c.ws.close_code} {c.ws.close_reason}".strip() if c.ws.closed.is_set() else "open"
            for c in self.calls
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(
                    *(c.ws.close(1000, "bench done", timeout_s=1.0) for c in self.calls),
                    return_exceptions=True,
                ),
                NET_TIMEOUT_S,
            )
        return endings

    def abort_all(self) -> None:
        self._running = False
        if self._task is not None and not self._task.done():
            self._task.cancel()
        for t in self._watchers:
            t.cancel()
        for c in self.calls:
            if not c.ws.is_closed:
                with contextlib.suppress(Exception):
                    c.ws.abort()

    async def close(self) -> None:
        """Nothing beyond the calls' sockets (closed by end_calls or abort_all)."""


# -- measurement -----------------------------------------------------------------------------


async def snapshot(port: int, pid: int, gen: Load, *, aligned: bool = True) -> Snapshot:
    """Scrape /metrics and /proc when the generator says (:meth:`Load.mark`)."""
    loop = asyncio.get_running_loop()
    sent, sent_before = await gen.mark(aligned=aligned)
    dropped = gen.dropped_calls
    t, server_cpu, server_rss, own = loop.time(), cpu_seconds(pid), rss_kb(pid), own_cpu_seconds()
    cores = core_busy_seconds()
    status, body = await http_get(port, "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered HTTP {status}")
    metrics, lag = parse_metrics(body)
    return Snapshot(t, sent, sent_before, dropped, metrics, lag, server_cpu, server_rss, own, cores)


@dataclass(slots=True)
class Row:
    transport: str
    target: int
    calls: int
    live: int
    lag_p50_ms: float | None
    lag_p99_ms: float | None
    lag_mean_ms: float | None
    sent: int
    received: int
    lost: int
    behind: int
    missing: int
    late: int
    duplicate: int
    dropped_calls: int
    failed_connects: int
    server_cpu_pct: float
    rss_mb: float
    rss_per_call_kb: float
    gen_cpu_pct: float
    gen_late_p99_ms: float
    gen_late_max_ms: float
    #: busy % of the server's and the generator's CPU not used by them (other processes, irqs)
    other_on_server_cpu_pct: float
    other_on_gen_cpu_pct: float
    window_s: float
    #: audio per media message, and how long after sending one it may still be in flight
    message_ms: int
    settle_ms: int
    #: gRPC: chunks whose call was still waiting on HTTP/2 flow control when they fell due
    held: int = 0
    #: seconds after the warm-up until the server was no longer behind (see ``catch_up``)
    caught_up_s: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.lag_p99_ms is not None
            and self.lag_p99_ms < PASS_P99_S * 1000
            and self.lost <= 0
            and self.missing == 0
            and self.late == 0
            and self.dropped_calls == 0
            and self.failed_connects == 0
            and self.live == self.calls
        )

    @property
    def kept_up(self) -> bool:
        """Nothing left unread at window end (a server working off a backlog reads more
        messages per wake-up, so its CPU per call looks cheaper than it is), nothing
        concealed or dropped, whatever the lag: other load on the machine can fail the lag
        criterion alone."""
        return (
            self.lost <= 0
            and self.behind <= 2 * self.calls  # ≈ one message per side at window end
            and self.missing == 0
            and self.dropped_calls == 0
            and self.failed_connects == 0
            and self.live == self.calls
        )

    @property
    def generator_bound(self) -> bool:
        return self.gen_late_p99_ms > GEN_LATE_FLAG_S * 1000

    @property
    def cpu_ms_per_call_s(self) -> float | None:
        """Server CPU per second of call audio it received in the window, in ms: CPU seconds
        ÷ (media messages received ÷ messages per call-second). Counted on what the server
        read, so a step where it fell behind or caught up still gives its cost per call."""
        per_call_s = 2 * 1000 / self.message_ms  # messages of one call-second, both sides
        if self.server_cpu_pct <= 0 or self.received <= 0:
            return None
        cpu_s = self.server_cpu_pct / 100 * self.window_s
        return 1000 * cpu_s / (self.received / per_call_s)

    @property
    def cpu_calls_per_core(self) -> float | None:
        """Calls one whole core would carry at this step's CPU per call-second of audio.
        Other processes on the machine slow the server's wall clock, not the CPU it spends
        per call, so this stays put where the ramp's wall-clock capacity does not."""
        ms = self.cpu_ms_per_call_s
        return None if ms is None else 1000 / ms


def make_row(
    transport: Transport,
    target: int,
    calls: int,
    s0: Snapshot,
    s1: Snapshot,
    idle_rss_kb: int,
    late: list[float],
    *,
    failed: int,
    dropped: int,
    held: int,
    caught_up_s: float = 0.0,
) -> Row:
    wall = s1.t - s0.t
    lag = tuple((le, c1 - c0) for (le, c1), (_, c0) in zip(s1.lag, s0.lag, strict=True))

    def ms(v: float | None) -> float | None:
        return None if v is None else v * 1000

    def d(name: str) -> int:
        return int(s1.m(name) - s0.m(name))

    def other(cpu: int, used_s: float) -> float:
        busy = s1.cores.get(cpu, 0.0) - s0.cores.get(cpu, 0.0)
        return max(0.0, 100 * (busy - used_s) / wall)

    n_lag = s1.m(LAG + "_count") - s0.m(LAG + "_count")
    sent, received = s1.sent - s0.sent, s1.received - s0.received
    return Row(
        transport=transport.name,
        target=target,
        calls=calls,
        live=int(s1.m("callscope_live_calls")),
        lag_p50_ms=ms(quantile(lag, 0.50)),
        lag_p99_ms=ms(quantile(lag, 0.99)),
        lag_mean_ms=ms((s1.m(LAG + "_sum") - s0.m(LAG + "_sum")) / n_lag) if n_lag else None,
        sent=sent,
        received=received,
        lost=s1.behind - s0.behind,
        behind=s1.behind,
        missing=d("callscope_frames_missing_total"),
        late=d("callscope_frames_late_total"),
        duplicate=d("callscope_frames_duplicate_total"),
        dropped_calls=dropped,
        failed_connects=failed,
        server_cpu_pct=100 * (s1.server_cpu_s - s0.server_cpu_s) / wall,
        rss_mb=s1.server_rss_kb / 1024,
        rss_per_call_kb=(s1.server_rss_kb - idle_rss_kb) / calls,
        gen_cpu_pct=100 * (s1.gen_cpu_s - s0.gen_cpu_s) / wall,
        gen_late_p99_ms=(percentile(late, 0.99) or 0.0) * 1000,
        gen_late_max_ms=max(late, default=0.0) * 1000,
        other_on_server_cpu_pct=other(SERVER_CPU, s1.server_cpu_s - s0.server_cpu_s),
        other_on_gen_cpu_pct=other(GEN_CPU, s1.gen_cpu_s - s0.gen_cpu_s),
        window_s=wall,
        message_ms=transport.message_ms,
        settle_ms=transport.settle_ms,
        held=held,
        caught_up_s=caught_up_s,
    )


COLUMNS: Final = (
    ("calls", 5),
    ("lag_p50_ms", 10),
    ("lag_p99_ms", 10),
    ("lag_mean_ms", 11),
    ("sent", 8),
    ("received", 8),
    ("lost", 6),
    ("missing", 7),
    ("server_cpu_%", 12),
    ("calls/core_cpu", 14),
    ("rss_MB", 7),
    ("rss/call_KB", 11),
    ("gen_cpu_%", 9),
    ("gen_late_p99_ms", 15),
    ("gen_late_max_ms", 15),
)


def header() -> str:
    return "  ".join(f"{name:>{width}}" for name, width in COLUMNS)


def fmt_lag(v: float | None) -> str:
    if v is None:
        return "-"
    return ">5000" if math.isinf(v) else f"{v:.1f}"  # beyond the last finite bucket (5 s)


def format_row(r: Row) -> str:
    cells = (
        str(r.calls),
        fmt_lag(r.lag_p50_ms),
        fmt_lag(r.lag_p99_ms),
        fmt_lag(r.lag_mean_ms),
        str(r.sent),
        str(r.received),
        str(r.lost),
        str(r.missing),
        f"{r.server_cpu_pct:.1f}",
        "-" if r.cpu_calls_per_core is None else f"{r.cpu_calls_per_core:.0f}",
        f"{r.rss_mb:.1f}",
        f"{r.rss_per_call_kb:.1f}",
        f"{r.gen_cpu_pct:.1f}",
        f"{r.gen_late_p99_ms:.1f}",
        f"{r.gen_late_max_ms:.1f}",
    )
    line = "  ".join(f"{c:>{w}}" for c, (_, w) in zip(cells, COLUMNS, strict=True))
    return line + ("  !" if r.generator_bound else "")


def row_notes(r: Row) -> str:
    notes = []
    if r.live != r.calls:
        notes.append(f"server counts {r.live} live calls")
    if r.late or r.duplicate:
        notes.append(f"late {r.late}, duplicate {r.duplicate}")
    if r.dropped_calls:
        notes.append(f"{r.dropped_calls} call(s) closed by the server during the step")
    if r.failed_connects:
        notes.append(f"{r.failed_connects} new call(s) could not connect")
    if r.behind:
        notes.append(
            f"server {r.behind} messages behind at window end "
            f"(≈ {r.behind / (2 * r.calls) * r.message_ms + r.settle_ms:.0f} ms of audio)"
        )
    if r.caught_up_s >= 1.0:
        notes.append(
            f"measured once the server had worked off the ramp's backlog, "
            f"{r.caught_up_s:.0f} s after the warm-up"
            + (" (it had not)" if r.caught_up_s >= CATCH_UP_TIMEOUT_S else "")
        )
    if r.held:
        notes.append(
            f"{r.held} chunks fell due while their call's previous write was pending"
            if r.transport == GRPC.name
            else f"generator waited on full socket buffers {r.held}×"
        )
    if r.other_on_server_cpu_pct > 10 or r.other_on_gen_cpu_pct > 10:
        notes.append(
            f"other load on CPU {SERVER_CPU} (server) {r.other_on_server_cpu_pct:.0f} %, "
            f"on CPU {GEN_CPU} (generator) {r.other_on_gen_cpu_pct:.0f} %"
        )
    if r.generator_bound:
        notes.append("generator late: lag figures include the generator's own delay")
    return "; ".join(notes)


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    rows: list[Row] = field(default_factory=list)
    stopped_early: str = ""
    final: dict[str, Any] = field(default_factory=dict)


async def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_S
    while loop.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} during start-up")
        with contextlib.suppress(OSError, TimeoutError, ValueError, IndexError):
            status, _ = await http_get(port, "/health", timeout_s=2.0)
            if status == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"server not ready on port {port} after {READY_TIMEOUT_S:.0f} s")


async def settle(port: int, pid: int, gen: Load) -> Snapshot:
    """Media has stopped: wait until the server has read everything (or stops making progress)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT_S
    last = await snapshot(port, pid, gen, aligned=False)
    while last.received < gen.sent and loop.time() < deadline:
        await asyncio.sleep(0.5)
        s = await snapshot(port, pid, gen, aligned=False)
        if s.received == last.received:
            return s
        last = s
    return last


async def catch_up(port: int, pid: int, gen: Load) -> float:
    """Wait until the server is no longer behind the generator, at most
    ``CATCH_UP_TIMEOUT_S``; returns the seconds waited. Starting many calls at once (a row, a
    recording, a session each) can leave the server seconds behind; a window measured then
    shows that backlog draining, not the steady state of the step."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while (await snapshot(port, pid, gen)).behind > 0:
        if loop.time() - t0 >= CATCH_UP_TIMEOUT_S:
            break
        await asyncio.sleep(0.5)
    return loop.time() - t0


def stream_secret(data_dir: Path) -> str:
    """The demo streaming profile's secret, which the server's first start writes (streams
    must present it: ``callscope simulate --credentials`` reads it the same way)."""
    creds = json.loads((data_dir / "demo-credentials.json").read_text())
    secret: str = creds["streaming"]["secret"]
    return secret


@dataclass(frozen=True, slots=True)
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    grpc_port: int
    data_dir: Path


def make_load(args: argparse.Namespace, transport: Transport, server: Server) -> Load:
    audio = load_audio(default_source())
    secret = stream_secret(server.data_dir)
    if transport is GRPC:
        return GrpcGenerator(
            audio, f"127.0.0.1:{server.grpc_port}", secret, channels=args.grpc_channels
        )
    return Generator(audio, f"ws://127.0.0.1:{server.port}/ringcx/stream", secret)


async def run_bench(
    args: argparse.Namespace, transport: Transport, steps: list[int], server: Server
) -> Outcome:
    proc, port = server.proc, server.port
    pid = proc.pid
    await wait_ready(port, proc)
    await asyncio.sleep(1.0)
    idle_rss = rss_kb(pid)
    where = f"port {port}" + (f", gRPC port {server.grpc_port}" if transport is GRPC else "")
    print(f"server pid {pid} on {where}, idle RSS {idle_rss / 1024:.1f} MB", flush=True)
    gen = make_load(args, transport, server)
    gc.collect()
    gc.freeze()
    out = Outcome()
    gen.start()
    try:
        print(header(), flush=True)
        for n in steps:
            add, failed_before = n - len(gen.calls), gen.failed_connects
            dropped_before = gen.dropped_calls
            if add > 0:
                await gen.open_calls(add, args.ramp)
            failed = gen.failed_connects - failed_before
            if not gen.calls:
                out.stopped_early = "no call could connect: " + "; ".join(gen.errors)
                break
            await asyncio.sleep(args.warmup)
            caught_up_s = await catch_up(port, pid, gen)
            s0 = await snapshot(port, pid, gen)
            gen.take_lateness()
            held0 = gen.stalls
            await asyncio.sleep(args.measure)
            s1 = await snapshot(port, pid, gen)
            row = make_row(
                transport,
                n,
                len(gen.calls),
                s0,
                s1,
                idle_rss,
                gen.take_lateness(),
                failed=failed,
                dropped=s1.dropped_calls - dropped_before,
                held=gen.stalls - held0,
                caught_up_s=caught_up_s,
            )
            out.rows.append(row)
            print(format_row(row), flush=True)
            notes = row_notes(row)
            if notes:
                print(f"      note: {notes}", flush=True)
            if proc.poll() is not None:
                out.stopped_early = f"server exited with status {proc.returncode}"
                break
            if failed:
                out.stopped_early = (
                    f"{failed} of {add} new calls could not connect (first: {gen.errors[0]})"
                )
                break
            p99 = row.lag_p99_ms if row.lag_p99_ms is not None else math.inf
            if p99 >= ABORT_P99_S * 1000 or row.lost > ABORT_LOSS * max(row.sent, 1):
                out.stopped_early = (
                    f"server saturated at {row.calls} calls (p99 {fmt_lag(row.lag_p99_ms)} ms, "
                    f"lost {row.lost} of {row.sent})"
                )
                break
        if out.stopped_early:
            print(f"stopped ramping: {out.stopped_early}", flush=True)

        await gen.stop_media()
        s = await settle(port, pid, gen)
        calls = len(gen.calls)
        endings = await gen.end_calls()
        clean = endings.get(transport.clean_ending, 0)
        out.final = {
            "sent": gen.sent,
            "received": s.received,
            "never_received": gen.sent - s.received,
            "missing": int(s.m("callscope_frames_missing_total")),
            "late": int(s.m("callscope_frames_late_total")),
            "duplicate": int(s.m("callscope_frames_duplicate_total")),
            "calls_dropped_by_server": gen.dropped_calls,
            "calls_at_end": calls,
            "calls_closed_cleanly": clean,
            "call_endings": dict(endings),
            "generator_stalls": gen.stalls,
        }
        f = out.final
        print(
            f"totals after settling: sent {f['sent']} {transport.unit}, server received "
            f"{f['received']} (never received {f['never_received']}), missing {f['missing']}, "
            f"late {f['late']}, duplicate {f['duplicate']}; "
            f"calls dropped by the server {f['calls_dropped_by_server']}",
            flush=True,
        )
        stalls = ""
        if gen.stalls:
            stalls = (
                f"; {gen.stalls} chunks fell due while their call's previous write was pending"
                if transport is GRPC
                else f"; generator waited on full socket buffers {gen.stalls}×"
            )
        others = ", ".join(
            f"{n} × {'still open after 10 s' if k == 'open' else 'ended ' + repr(k)}"
            for k, n in endings.most_common()
            if k != transport.clean_ending
        )
        how = (
            "segment_stop ×2 and a half-close sent to {} call(s): {} answered OK"
            if transport is GRPC
            else "Stop ×2 sent to {} call(s): {} closed by the server with 1000 (call complete)"
        )
        print(how.format(calls, clean) + (f"; {others}" if others else "") + stalls, flush=True)
    finally:
        gen.abort_all()
        await gen.close()
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/ingest.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--transport",
        choices=tuple(TRANSPORTS),
        default="both",
        help="which ramp to run: WebSocket streams, gRPC dialogs, or both in turn (default)",
    )
    p.add_argument(
        "--steps",
        type=counts("--steps"),
        help="WebSocket: concurrent calls per step, increasing (default "
        f"{_steps_text(DEFAULT_STEPS['websocket'])}; --quick {_steps_text(QUICK['websocket'])})",
    )
    p.add_argument(
        "--grpc-steps",
        type=counts("--grpc-steps"),
        help="gRPC: concurrent calls per step, increasing (default "
        f"{_steps_text(DEFAULT_STEPS['grpc'])}; --quick {_steps_text(QUICK['grpc'])})",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of both transports (about two minutes, four with the baselines): "
        "the --quick steps, ramp 1 s, warm-up 1 s, measure 3 s (flags given still win)",
    )
    p.add_argument("--warmup", type=float, help="seconds before measuring (3; --quick 1)")
    p.add_argument("--measure", type=float, help="seconds measured per step (10; --quick 3)")
    p.add_argument("--ramp", type=float, help="seconds to open a step's calls (2; --quick 1)")
    p.add_argument(
        "--grpc-channels",
        type=int,
        default=4,
        help="gRPC: HTTP/2 connections the dialogs are spread over (default 4)",
    )
    p.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after each transport's ramp, ramp the same steps against its bare loop "
        "(bench/bare_ingest.py) and print callscope's figures as a ratio of it (default on)",
    )
    p.add_argument("--port", type=int, default=0, help="server port, 0 = a free one (default)")
    p.add_argument(
        "--event-loop",
        choices=("auto", "uvloop", "asyncio"),
        default="auto",
        help="the server's event loop (auto = uvloop when installed); run twice to compare",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON")
    p.add_argument(
        "--server-log",
        type=Path,
        metavar="FILE",
        help="keep the server's log here (with both transports: FILE.websocket, FILE.grpc)",
    )
    return p


DEFAULT_STEPS: Final = {
    "websocket": [100, 200, 300, 400, 500, 600, 700, 800],
    "grpc": [200, 400, 600, 800, 1000, 1200, 1400, 1600],
}


def _steps_text(steps: list[int]) -> str:
    return ",".join(map(str, steps))


def settle_args(args: argparse.Namespace) -> None:
    """Fill in what was not given: --quick values, else the defaults."""
    quick = args.quick
    if args.steps is None:
        args.steps = QUICK["websocket"] if quick else DEFAULT_STEPS["websocket"]
    if args.grpc_steps is None:
        args.grpc_steps = QUICK["grpc"] if quick else DEFAULT_STEPS["grpc"]
    for name, normal, fast in (("warmup", 3.0, 1.0), ("measure", 10.0, 3.0), ("ramp", 2.0, 1.0)):
        if getattr(args, name) is None:
            setattr(args, name, fast if quick else normal)


_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
_CALL_ID = re.compile(r"\[call [^\]]+\]")


def print_log_summary(text: str) -> None:
    """The server logs at WARNING: count its messages and exception lines, most frequent first."""
    counts: TallyCounter[str] = TallyCounter()
    for line in text.splitlines():
        if not line.strip() or line[0].isspace() or line.startswith(_LOG_NOISE):
            continue
        counts[_CALL_ID.sub("[call …]", _TIMESTAMP.sub("", line))[:150]] += 1
    if counts:
        print(f"server log (WARNING and above), {sum(counts.values())} entries, most frequent:")
        for msg, n in counts.most_common(10):
            print(f"  {n:5d} × {msg}")


_LOG_NOISE: Final = ("Traceback", "The above", "During handling", "[SQL", "[parameters", "(Back")


def _json_safe(v: Any) -> Any:
    return None if isinstance(v, float) and math.isinf(v) else v


def largest_ok(rows: list[Row]) -> tuple[int, list[int]]:
    """The largest N whose step passed, and the smaller Ns that failed."""
    best = max((r.calls for r in rows if r.ok), default=0)
    return best, [r.calls for r in rows if not r.ok and r.calls < best]


def run_transport(
    args: argparse.Namespace,
    transport: Transport,
    steps: list[int],
    cpus: set[int],
    *,
    bare: bool = False,
) -> tuple[Outcome, bool]:
    """One ramp against a fresh server (``bare``: the baseline, bench/bare_ingest.py);
    returns its outcome and whether both were pinned."""
    kind = "bare" if bare else "callscope"
    label = f"{transport.label} bare loop" if bare else f"{transport.label} callscope"
    tmp = Path(tempfile.mkdtemp(prefix=f"callscope-bench-{transport.name}-{kind}-"))
    log_path = tmp / "server.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        port = args.port or free_port()
        grpc_port = 0
        while transport is GRPC and grpc_port in (0, port):
            grpc_port = free_port()
        proc = start_server(port, tmp / "data", log_path, args.event_loop, grpc_port, bare=bare)
        pinned = {SERVER_CPU, GEN_CPU} <= cpus and pin(proc.pid, SERVER_CPU) and pin(0, GEN_CPU)
        overrides = sorted(k for k in os.environ if k.startswith("CALLSCOPE_"))
        per_s = 2 * 1000 // transport.message_ms
        print(
            f"\n{label} ({per_s} messages/s per call): steps {_steps_text(steps)}, "
            f"ramp {args.ramp:g} s, warm-up {args.warmup:g} s, measure {args.measure:g} s; "
            + (
                f"server on CPU {SERVER_CPU}, generator on CPU {GEN_CPU}"
                if pinned
                else f"NOT pinned (CPUs available: {sorted(cpus)})"
            )
            + (f"; env overrides: {', '.join(overrides)}" if overrides else "")
            + f"; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        t0 = time.monotonic()
        server = Server(proc, port, grpc_port, tmp / "data")
        # gRPC's generator runs on uvloop (a fifth less CPU per message than asyncio's loop
        # with grpc.aio); the WebSocket generator stays on asyncio's, as its figures were taken
        factory = uvloop.new_event_loop if transport is GRPC and uvloop is not None else None
        with asyncio.Runner(loop_factory=factory) as runner:
            outcome = runner.run(run_bench(args, transport, steps, server))
        best, failed_below = largest_ok(outcome.rows)
        print(
            f"{label}: largest N with p99 < {PASS_P99_S * 1000:.0f} ms and zero loss: "
            f"{best or 'none'}"
            + (f" (but failed at {failed_below})" if failed_below else "")
            + f"  [{time.monotonic() - t0:.0f} s]",
            flush=True,
        )
        return outcome, pinned
    finally:
        if proc is not None:
            stop_server(proc)
        with contextlib.suppress(OSError):
            text = log_path.read_text(errors="replace")
            if args.server_log:
                keep = args.server_log
                if args.transport == "both" or bare:
                    suffix = transport.name + ("-bare" if bare else "")
                    keep = keep.with_name(f"{keep.name}.{suffix}")
                keep.write_text(text)
            print_log_summary(text)
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class Result:
    best: int  # largest N that passed (0: none)
    bound: bool  # every step up to the last passed: the capacity is at least ``best``
    #: server CPU in ms per call-second of audio received, by step (calls → ms)
    cpu_ms: dict[int, float] = field(default_factory=dict)
    #: the steps the server kept up with (:attr:`Row.kept_up`)
    kept: frozenset[int] = frozenset()
    #: other processes' load on the server's CPU, mean over the steps, %
    other_pct: float = 0.0

    @property
    def cpu_capacity(self) -> tuple[int, float] | None:
        """(step, calls per core) from the CPU spent per call-second at the largest step the
        server kept up with, else (it never did) at the largest step."""
        if not self.cpu_ms:
            return None
        n = max(self.kept & set(self.cpu_ms), default=max(self.cpu_ms))
        return n, 1000 / self.cpu_ms[n]


def result_of(outcome: Outcome, steps: list[int]) -> Result:
    best, _ = largest_ok(outcome.rows)
    last = outcome.rows[-1] if outcome.rows else None
    top = last is not None and last.ok and last.target == steps[-1] and best == last.calls
    rows = outcome.rows
    cpu = {r.calls: ms for r in rows if (ms := r.cpu_ms_per_call_s) is not None}
    kept = frozenset(r.calls for r in rows if r.kept_up)
    other = sum(r.other_on_server_cpu_pct for r in rows) / len(rows) if rows else 0.0
    return Result(best, top, cpu, kept, other)


def _n(r: Result) -> str:
    return f"≥ {r.best}" if r.bound else str(r.best or "none")


def baseline_lines(t: Transport, own: Result, bare: Result) -> list[str]:
    """callscope against the bare loop of the same transport, measured in the same run:
    wall-clock capacity (the ramp's criterion) and CPU per call at a step both passed."""
    lines = []
    wall = f"{t.label}: callscope {_n(own)}, bare loop {_n(bare)}"
    if own.best and bare.best:
        wall += f"; callscope / bare = {own.best / bare.best:.2f}"
        if bare.bound:
            wall += " (the bare loop passed its last step: add steps for a true ratio)"
    lines.append(wall + " (wall clock, p99 < 100 ms, zero loss)")
    a, b = own.cpu_capacity, bare.cpu_capacity

    def at(r: Result, c: tuple[int, float] | None) -> str:
        if c is None:
            return "-"
        return f"{c[1]:.0f} calls/core (at {c[0]} calls{'' if c[0] in r.kept else ', behind'})"

    cpu = f"{t.label} by CPU per call-second: callscope {at(own, a)}, bare loop {at(bare, b)}"
    common = sorted(set(own.cpu_ms) & set(bare.cpu_ms))
    if common:
        # at the largest step both kept up with, else the largest both ran
        n = max(set(common) & own.kept & bare.kept, default=common[-1])
        cpu += (
            f"; callscope / bare = {bare.cpu_ms[n] / own.cpu_ms[n]:.2f} at {n} calls "
            f"({own.cpu_ms[n]:.2f} vs {bare.cpu_ms[n]:.2f} ms CPU per call-second)"
        )
    lines.append(cpu)
    lines.append(
        f"  other load on the server's CPU during the ramps: callscope {own.other_pct:.0f} %, "
        f"bare loop {bare.other_pct:.0f} % (mean over steps)"
    )
    return lines


def summary(results: dict[str, Result]) -> str:
    """Each transport's largest N, gRPC's against WebSocket's when both ran, and each
    against its bare loop when that ran."""
    parts = []
    for t in (WEBSOCKET, GRPC):
        r = results.get(t.name)
        if r is not None:
            parts.append(f"{t.label} {_n(r)} ({2 * 1000 // t.message_ms} messages/s per call)")
    line = (
        f"calls per server core at p99 < {PASS_P99_S * 1000:.0f} ms with zero loss: "
        + ", ".join(parts)
    )
    ws, grpc = results.get(WEBSOCKET.name), results.get(GRPC.name)
    if ws is not None and grpc is not None and ws.best and grpc.best:
        line += f"; gRPC / WebSocket = {grpc.best / ws.best:.2f}"
        if ws.bound or grpc.bound:
            line += " (not a capacity ratio: a ramp passed its last step; add steps)"
    lines = [line]
    for t in (WEBSOCKET, GRPC):
        own, bare = results.get(t.name), results.get(t.name + "-bare")
        if own is not None and bare is not None:
            lines += baseline_lines(t, own, bare)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settle_args(args)
    if args.measure <= 0 or args.warmup < 0 or args.ramp < 0:
        print("--measure must be > 0; --warmup and --ramp ≥ 0", file=sys.stderr)
        return 2
    if args.grpc_channels < 1:
        print("--grpc-channels must be ≥ 1", file=sys.stderr)
        return 2

    def terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # SIGTERM/SIGHUP (e.g. from `timeout`) must clean up like Ctrl-C: the server runs in its
    # own session and would outlive us otherwise.
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    cpus = os.sched_getaffinity(0)
    t0 = time.monotonic()
    print(f"callscope ingest bench: {args.transport}", flush=True)
    docs: dict[str, Any] = {}
    results: dict[str, Result] = {}
    try:
        runs = [
            (t, bare) for t in TRANSPORTS[args.transport] for bare in (False, True)
            if args.baseline or not bare
        ]  # fmt: skip
        for transport, bare in runs:
            steps: list[int] = args.grpc_steps if transport is GRPC else args.steps
            outcome, pinned = run_transport(args, transport, steps, cpus, bare=bare)
            key = transport.name + ("-bare" if bare else "")
            results[key] = result_of(outcome, steps)
            best = results[key].best
            cpu = results[key].cpu_capacity
            docs[key] = {
                "steps": steps,
                "pinned": pinned,
                "rows": [
                    {k: _json_safe(v) for k, v in asdict(r).items()} | {"ok": r.ok}
                    for r in outcome.rows
                ],
                "stopped_early": outcome.stopped_early,
                "final": outcome.final,
                "largest_ok_calls": best,
                "all_steps_passed": results[key].bound,
                "cpu_calls_per_core": None if cpu is None else round(cpu[1]),
                "cpu_calls_per_core_at": None if cpu is None else cpu[0],
            }
        print(f"\n{summary(results)}  [{time.monotonic() - t0:.0f} s]", flush=True)
        if args.json:
            doc = {
                "warmup_s": args.warmup,
                "measure_s": args.measure,
                "ramp_s": args.ramp,
                "grpc_channels": args.grpc_channels,
                "transports": docs,
                "summary": summary(results),
            }
            args.json.write_text(json.dumps(doc, indent=1) + "\n")
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, TimeoutError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
