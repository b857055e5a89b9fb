"""A transcription worker process: ``python -m callscope.transcription.worker --fd N``.

The server starts one per ``asr_workers`` and talks to it over the inherited Unix socket
``N`` (see :mod:`callscope.transcription.ipc`). Two threads share one
:class:`~callscope.transcription.streamer.StreamTranscriber`: the reader takes frames off
the socket and runs VAD on the audio (cheap, never blocked by a decode), the main thread
decodes batch after batch (CTranslate2 releases the GIL while it works). Decodes therefore
never run in the server's event loop, and audio keeps flowing while a decode is under way.

On ``STOP`` the worker decodes every queued final, then exits; at end of stream (the server
went away) it exits at once. SIGINT is ignored: the server decides when its workers stop.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import orjson

from callscope.errors import ConfigError
from callscope.transcription.engines import ENGINES, load_engine
from callscope.transcription.ipc import AUDIO_HEADER, Kind, json_frame, read_frame
from callscope.transcription.scheduler import DecodeScheduler
from callscope.transcription.streamer import StreamTranscriber
from callscope.transcription.vad import Segmenter, SileroProbabilities

logger = logging.getLogger("callscope.asr.worker")


class Worker:
    def __init__(self, sock: socket.socket, transcriber: StreamTranscriber, stats_s: float):
        self.sock = sock
        self.st = transcriber
        self.stats_s = stats_s
        self._send_lock = threading.Lock()
        self.stopping = threading.Event()  # STOP: drain, then exit
        self.gone = threading.Event()  # the server closed the socket: exit now

    def send(self, data: bytes) -> None:
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                self.gone.set()

    def read_loop(self) -> None:
        try:
            while True:
                item = read_frame(self.sock)
                if item is None:
                    self.gone.set()
                    return
                kind, payload = item
                if kind is Kind.STOP:
                    self.stopping.set()
                    return
                self.handle(kind, payload)
        except Exception:
            logger.exception("transcription worker: reading from the server failed")
            self.gone.set()
        finally:
            self.st.wake()

    def handle(self, kind: Kind, payload: bytes) -> None:
        """One frame. A frame that breaks its stream (unknown id, samples that do not
        divide into its channels) fails that stream alone, never its neighbours."""
        stream = -1
        try:
            if kind is Kind.AUDIO:
                stream, at = AUDIO_HEADER.unpack_from(payload)
                pcm = np.frombuffer(payload, dtype="<i2", offset=AUDIO_HEADER.size)
                self.st.feed(stream, pcm, at)
            elif kind is Kind.OPEN:
                body = orjson.loads(payload)
                stream = int(body["stream"])
                self.st.open(stream, body["speakers"], int(body["offsetMs"]))
            elif kind is Kind.CLOSE:
                stream = int(orjson.loads(payload)["stream"])
                if self.st.close(stream, time.monotonic()):
                    self.send(json_frame(Kind.DONE, {"stream": stream}))
        except (KeyError, ValueError, orjson.JSONDecodeError) as exc:
            logger.error("transcription stream %d: %s frame refused: %r", stream, kind.name, exc)
            if stream >= 0:
                self.st.drop(stream)
                self.send(json_frame(Kind.DONE, {"stream": stream, "error": repr(exc)}))

    def decode_loop(self) -> None:
        next_stats = 0.0
        while not self.gone.is_set():
            if self.stopping.is_set() and not self.st.scheduler.finals_pending:
                break
            if self.st.wait_for_work(0.2):
                results, done = self.st.decode_next()
                for r in results:
                    self.send(json_frame(Kind.RESULT, r.as_dict()))
                for stream in done:
                    self.send(json_frame(Kind.DONE, {"stream": stream}))
            now = time.monotonic()
            if now >= next_stats:
                next_stats = now + self.stats_s
                self.send(json_frame(Kind.STATS, self.stats(now)))
        self.send(json_frame(Kind.STATS, self.stats(time.monotonic())))

    def stats(self, now: float) -> dict[str, object]:
        sch = self.st.scheduler
        s = self.st.stats
        return {
            "at": now,
            "streams": {str(k): v for k, v in self.st.stream_lag(now).items()},
            "finalsPending": sch.finals_pending,
            "partialsPending": sch.partials_pending,
            "partialsDropped": sch.partials_dropped,
            "backlogS": round(sch.finals_queued_s, 3),
            "oldestPendingS": round(sch.oldest_final_age(now), 3),
            "batches": s.batches,
            "pieces": s.pieces,
            "finals": s.finals,
            "partials": s.partials,
            "audioS": round(s.audio_s, 3),
            "decodeWallS": round(s.decode_wall_s, 3),
            "vadCpuS": round(s.vad_cpu_s, 3),
            "cpuS": round(time.process_time(), 3),
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="callscope-asr-worker", description=__doc__)
    p.add_argument("--fd", type=int, required=True, help="inherited Unix socket")
    p.add_argument("--engine", default="whisper-tiny", choices=ENGINES)
    p.add_argument("--model-dir", type=Path)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--partial-interval-ms", type=int, default=0)
    p.add_argument("--partial-max-age-s", type=float, default=2.0)
    p.add_argument("--max-segment-ms", type=int, default=15_000)
    p.add_argument("--hangover-ms", type=int, default=300)
    p.add_argument("--no-pack", action="store_true", help="one decode per segment")
    p.add_argument("--stats-interval-s", type=float, default=0.5)
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
    )
    # faster-whisper logs every decode at INFO ("Processing audio with duration ...")
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    sock = socket.socket(fileno=args.fd)
    try:
        engine = load_engine(args.engine, args.model_dir, threads=args.threads)
        max_segment, hangover = args.max_segment_ms, args.hangover_ms
        transcriber = StreamTranscriber(
            engine,
            partial_interval_ms=args.partial_interval_ms,
            segmenter_factory=lambda: Segmenter(
                SileroProbabilities(), max_segment_ms=max_segment, hangover_ms=hangover
            ),
            scheduler=DecodeScheduler(
                pack=engine.packs and not args.no_pack,
                partial_max_age_s=args.partial_max_age_s,
            ),
        )
    except ConfigError as exc:
        sock.sendall(json_frame(Kind.FAILED, {"error": str(exc)}))
        return 2
    worker = Worker(sock, transcriber, args.stats_interval_s)
    worker.send(json_frame(Kind.READY, {"engine": engine.name, "pid": os.getpid()}))
    reader = threading.Thread(target=worker.read_loop, name="asr-reader", daemon=True)
    reader.start()
    worker.decode_loop()
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
