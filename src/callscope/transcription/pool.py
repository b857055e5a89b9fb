"""The server's side of the transcription workers: start them, route streams, read results.

Each worker is a child process (``python -m callscope.transcription.worker``) on its own
Unix socket pair. A stream (one call) lives on one worker, chosen as the one with the fewest
open streams. Everything here runs in the event loop and never blocks: audio is written to
the socket's buffer; results come back through a reader task per worker and are handed to
the stream's :class:`StreamSink`.

A worker that dies is restarted (at most ``MAX_QUICK_RESTARTS`` times in a row within a
minute); the streams it held are told through :meth:`StreamSink.on_failed` so their owner
can reopen them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from callscope.errors import ConfigError
from callscope.metrics import Registry
from callscope.transcription.ipc import (
    HEADER_SIZE,
    Kind,
    audio_frame,
    frame,
    json_frame,
    split_header,
)

__all__ = ["PoolOptions", "StreamSink", "WorkerPool"]

logger = logging.getLogger("callscope.asr")

MAX_QUICK_RESTARTS = 5


class StreamSink(Protocol):
    def on_result(self, result: dict[str, Any]) -> None: ...

    def on_done(self) -> None: ...

    def on_failed(self, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PoolOptions:
    workers: int = 1
    engine: str = "whisper-tiny"
    model_dir: Path | None = None
    threads: int = 1
    partial_interval_ms: int = 0
    partial_max_age_s: float = 2.0
    max_segment_ms: int = 15_000
    hangover_ms: int = 300
    pack: bool = True
    #: audio queued for one worker beyond this is dropped (the worker cannot even read)
    max_buffer_bytes: int = 64 << 20
    ready_timeout_s: float = 120.0
    log_level: str = "INFO"

    def argv(self, fd: int) -> list[str]:
        out = [
            sys.executable,
            "-m",
            "callscope.transcription.worker",
            "--fd",
            str(fd),
            "--engine",
            self.engine,
            "--threads",
            str(self.threads),
            "--partial-interval-ms",
            str(self.partial_interval_ms),
            "--partial-max-age-s",
            str(self.partial_max_age_s),
            "--max-segment-ms",
            str(self.max_segment_ms),
            "--hangover-ms",
            str(self.hangover_ms),
            "--log-level",
            self.log_level,
        ]
        if self.model_dir is not None:
            out += ["--model-dir", str(self.model_dir)]
        if not self.pack:
            out.append("--no-pack")
        return out


@dataclass(eq=False)
class _Worker:
    index: int
    proc: asyncio.subprocess.Process
    writer: asyncio.StreamWriter
    reader: asyncio.StreamReader
    streams: dict[int, StreamSink] = field(default_factory=dict)
    ready: asyncio.Future[str] | None = None
    task: asyncio.Task[None] | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.monotonic)
    stopping: bool = False

    @property
    def buffered(self) -> int:
        return self.writer.transport.get_write_buffer_size()


@dataclass(eq=False, slots=True)
class _StreamRef:
    worker: _Worker
    channels: int
    closed: bool = False  # CLOSE sent; DONE not back yet: no more audio
    drop_logged: bool = False


class WorkerPool:
    def __init__(self, options: PoolOptions, registry: Registry) -> None:
        if options.workers < 1:
            raise ConfigError("a transcription pool needs at least one worker")
        self.options = options
        self._workers: list[_Worker | None] = [None] * options.workers
        self._streams: dict[int, _StreamRef] = {}  # open streams, until DONE or failure
        self._ids = itertools.count(1)
        self._stopping = False
        self._restarts: list[list[float]] = [[] for _ in range(options.workers)]
        self.engine_name = options.engine
        reg = registry
        reg.gauge(
            "callscope_asr_workers",
            "Transcription worker processes running.",
            lambda: sum(1 for w in self._workers if w is not None and not w.stopping),
        )
        self.restarts_total = reg.counter(
            "callscope_asr_worker_restarts_total", "Transcription workers restarted after dying."
        )
        self.audio_dropped = reg.counter(
            "callscope_asr_audio_dropped_seconds_total",
            "Audio not transcribed because a worker could not take it (buffer full).",
        )
        for key, name, text in (
            ("backlogS", "callscope_asr_backlog_seconds", "Speech queued for final decoding."),
            (
                "oldestPendingS",
                "callscope_asr_oldest_pending_seconds",
                "Age of the oldest final waiting to be decoded.",
            ),
            ("finalsPending", "callscope_asr_finals_pending", "Finals waiting to be decoded."),
        ):
            reg.gauge(name, text, lambda key=key: self._stat_sum(key))  # type: ignore[misc]
        for key, name, text in (
            ("partialsDropped", "callscope_asr_partials_dropped_total", "Partials not decoded."),
            ("finals", "callscope_asr_finals_decoded_total", "Final segments decoded."),
            ("partials", "callscope_asr_partials_decoded_total", "Partial segments decoded."),
            ("audioS", "callscope_asr_audio_decoded_seconds_total", "Speech audio decoded."),
            ("cpuS", "callscope_asr_worker_cpu_seconds_total", "CPU time of the workers."),
        ):
            reg.counter(name, text, live=lambda key=key: [((), self._stat_sum(key))])  # type: ignore[misc]

    def _stat_sum(self, key: str) -> float:
        return float(sum(float(w.stats.get(key, 0)) for w in self._workers if w is not None))

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every worker and wait until each has loaded its engine.

        Raises:
            ConfigError: a worker could not load the engine or model (its message says why).
        """
        await asyncio.gather(*(self._spawn(i) for i in range(self.options.workers)))
        for w in self._workers:
            assert w is not None
            assert w.ready is not None
            try:
                await asyncio.wait_for(asyncio.shield(w.ready), self.options.ready_timeout_s)
            except TimeoutError:
                await self.stop(2)
                raise ConfigError(
                    f"transcription worker {w.index} did not load its engine within "
                    f"{self.options.ready_timeout_s:.0f} s"
                ) from None
            except ConfigError:
                await self.stop(2)
                raise
        logger.info(
            "transcription: %d worker(s), engine %s, partials %s",
            self.options.workers,
            self.engine_name,
            f"every {self.options.partial_interval_ms} ms"
            if self.options.partial_interval_ms
            else "off",
        )

    async def _spawn(self, index: int) -> _Worker:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.options.argv(child.fileno()), pass_fds=(child.fileno(),)
            )
        finally:
            child.close()
        reader, writer = await asyncio.open_unix_connection(sock=parent, limit=1 << 20)
        w = _Worker(index, proc, writer, reader)
        w.ready = asyncio.get_running_loop().create_future()
        w.task = asyncio.create_task(self._read(w), name=f"callscope-asr-worker-{index}")
        self._workers[index] = w
        return w

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Ask every worker to decode what it holds and exit; kill any still running after
        ``timeout_s``."""
        self._stopping = True
        workers = [w for w in self._workers if w is not None]
        for w in workers:
            w.stopping = True
            with contextlib.suppress(Exception):
                w.writer.write(frame(Kind.STOP))
        deadline = time.monotonic() + timeout_s
        for w in workers:
            try:
                await asyncio.wait_for(w.proc.wait(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                logger.warning("transcription worker %d did not stop in time: killed", w.index)
                with contextlib.suppress(ProcessLookupError):
                    w.proc.kill()
                await w.proc.wait()
            if w.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(w.task, 5)
            w.writer.close()
        self._workers = [None] * len(self._workers)

    # -- streams -----------------------------------------------------------------------------

    def open(self, speakers: list[str], offset_ms: int, sink: StreamSink) -> int:
        """Start a stream on the least-loaded worker; returns its id."""
        live = [w for w in self._workers if w is not None and not w.stopping]
        if not live:
            raise ConfigError("no transcription worker is running")
        w = min(live, key=lambda w: len(w.streams))
        stream = next(self._ids)
        w.streams[stream] = sink
        self._streams[stream] = _StreamRef(w, len(speakers))
        w.writer.write(
            json_frame(Kind.OPEN, {"stream": stream, "speakers": speakers, "offsetMs": offset_ms})
        )
        return stream

    def feed(self, stream: int, pcm: bytes, arrived_at: float) -> bool:
        """Queue audio for the stream. False if it was dropped (worker gone or choked)."""
        ref = self._streams.get(stream)
        if ref is None or ref.closed:
            return False
        w = ref.worker
        if w.buffered > self.options.max_buffer_bytes:
            self.audio_dropped.inc(len(pcm) / (2 * ref.channels * 8000))
            if not ref.drop_logged:
                ref.drop_logged = True
                logger.error(
                    "transcription worker %d is %d MB behind reading audio: stream %d loses "
                    "audio from its transcript (the recording keeps it)",
                    w.index,
                    w.buffered >> 20,
                    stream,
                )
            return False
        w.writer.write(audio_frame(stream, arrived_at, pcm))
        return True

    def close(self, stream: int) -> None:
        """No more audio: the stream's sink gets its last results, then ``on_done``."""
        ref = self._streams.get(stream)
        if ref is not None and not ref.closed:
            ref.closed = True
            ref.worker.writer.write(json_frame(Kind.CLOSE, {"stream": stream}))

    def stream_stats(self, stream: int) -> dict[str, float] | None:
        ref = self._streams.get(stream)
        if ref is None:
            return None
        entry: dict[str, float] | None = ref.worker.stats.get("streams", {}).get(str(stream))
        return entry

    @property
    def stopping(self) -> bool:
        return self._stopping

    def worker_pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers if w is not None]

    def worker_stats(self) -> list[dict[str, Any]]:
        return [dict(w.stats) for w in self._workers if w is not None]

    # -- results -----------------------------------------------------------------------------

    async def _read(self, w: _Worker) -> None:
        reason = "the worker closed its connection"
        try:
            while True:
                head = await w.reader.readexactly(HEADER_SIZE)
                length, kind = split_header(head)
                payload = await w.reader.readexactly(length - 1) if length > 1 else b""
                self._dispatch(w, Kind(kind), payload)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        except (ConfigError, asyncio.CancelledError):
            raise
        except Exception as exc:
            reason = f"reading from the worker failed: {exc}"
            logger.exception("transcription worker %d", w.index)
        await self._lost(w, reason)

    def _dispatch(self, w: _Worker, kind: Kind, payload: bytes) -> None:
        if kind is Kind.RESULT:
            result = orjson.loads(payload)
            sink = w.streams.get(result["stream"])
            if sink is not None:
                sink.on_result(result)
        elif kind is Kind.DONE:
            body = orjson.loads(payload)
            stream = int(body["stream"])
            sink = w.streams.pop(stream, None)
            self._streams.pop(stream, None)
            if sink is not None:
                if "error" in body:
                    sink.on_failed(f"the worker refused the stream: {body['error']}")
                else:
                    sink.on_done()
        elif kind is Kind.STATS:
            w.stats = orjson.loads(payload)
        elif kind is Kind.READY:
            body = orjson.loads(payload)
            self.engine_name = body["engine"]
            if w.ready is not None and not w.ready.done():
                w.ready.set_result(body["engine"])
            logger.debug("transcription worker %d ready (pid %s)", w.index, body["pid"])
        elif kind is Kind.FAILED:
            error = orjson.loads(payload)["error"]
            if w.ready is not None and not w.ready.done():
                w.ready.set_exception(ConfigError(error))
            logger.error("transcription worker %d cannot run: %s", w.index, error)

    async def _lost(self, w: _Worker, reason: str) -> None:
        code = await w.proc.wait()
        if w.ready is not None and not w.ready.done():
            w.ready.set_exception(
                ConfigError(f"transcription worker {w.index} exited ({code}) before it was ready")
            )
        sinks = list(w.streams.items())
        w.streams.clear()
        for stream, _ in sinks:
            self._streams.pop(stream, None)
        if w.stopping or self._stopping:
            return
        logger.error("transcription worker %d exited (%s; code %s)", w.index, reason, code)
        recent = [t for t in self._restarts[w.index] if time.monotonic() - t < 60]
        self._restarts[w.index] = recent
        self._workers[w.index] = None
        if len(recent) < MAX_QUICK_RESTARTS and w.ready is not None and w.ready.exception() is None:
            recent.append(time.monotonic())
            self.restarts_total.inc()
            nw = await self._spawn(w.index)
            assert nw.ready is not None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(nw.ready), self.options.ready_timeout_s)
        else:
            logger.error("transcription worker %d keeps failing: not restarted", w.index)
        for _, sink in sinks:
            sink.on_failed(f"transcription worker exited ({reason})")
