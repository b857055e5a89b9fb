"""The bare baselines of ``bench/ingest.py``: the least a server can do with the same load.

``bench/ingest.py`` starts this script in place of ``callscope serve`` (same CPU pinning,
same generator, same capacity criterion) to measure how much a bare receiver keeps up with,
and prints callscope's figure as a ratio of it. It does the minimum a stream needs and no
more: no authentication beyond comparing the secret, no database, no jitter buffer, no
mixing, no telephony session, no taps.

* **WebSocket** (``/ringcx/stream``): an aiohttp ``WebSocketResponse`` per stream, read with
  ``async for``; each text message is parsed with orjson; a Media message's ``media`` is
  base64-decoded and appended to the call's file (one ``os.write``). The second Stop closes
  the stream 1000 "call complete", as callscope does.
* **gRPC** (``ringcentral.ringcx.streaming.v1beta2.Streaming/Stream``): a ``grpc.aio``
  servicer taking raw request bytes; each message is parsed as a ``StreamEvent`` and a
  ``segment_media`` payload is appended to the call's file. The half-close answers ``Empty``.

Both run on uvloop (when installed) in one process with an aiohttp HTTP listener serving
``/health`` and the ``/metrics`` the bench scrapes, with callscope's names:
``callscope_frames_received_total`` (media messages), ``callscope_live_calls`` (streams that
sent Start / ``dialog_init`` and have not ended) and ``callscope_frame_lag_seconds`` (per
media message written: the time it was written minus when its audio ended on the call's
real-time schedule, anchored at the call's first media message as processed; WebSocket per
perspective's ``sequenceId`` × 20 ms, gRPC per segment's ``seq`` × ``duration``), with the
same buckets. The missing, late and duplicate counters are always 0 (nothing is checked).

Run by the bench; by hand: ``python bench/bare_ingest.py --port 8080 --grpc-port 9090
--data-dir /tmp/bare`` (``--data-dir`` gets ``demo-credentials.json`` with the stream
secret, as ``callscope serve`` writes it, and the recordings).
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import bisect
import json
import os
import secrets
import signal
import time
from pathlib import Path
from typing import Any, Final

import grpc
import orjson
from aiohttp import WSCloseCode, WSMsgType, web
from google.protobuf import empty_pb2

from callscope.protocols import ringcx_streaming_pb2 as pb

try:
    import uvloop
except ImportError:  # the plain asyncio loop then, as callscope's "auto"
    uvloop = None  # type: ignore[assignment]  # optional

SERVICE: Final = "ringcentral.ringcx.streaming.v1beta2.Streaming"
#: callscope's frame-lag buckets (callscope.ingest.service)
BUCKETS: Final = (0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0)
BUCKETS_ALL: Final = (*BUCKETS, 5.0)
FRAME_S: Final = 0.020
_OPEN_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_APPEND


class Stats:
    """The counters and the lag histogram ``/metrics`` shows."""

    def __init__(self) -> None:
        self.received = 0
        self.live = 0
        self.lag_counts = [0] * (len(BUCKETS_ALL) + 1)  # the last: +Inf
        self.lag_sum = 0.0

    def observe(self, lag: float) -> None:
        if lag < 0.0:
            lag = 0.0
        self.lag_counts[bisect.bisect_left(BUCKETS_ALL, lag)] += 1
        self.lag_sum += lag

    def text(self) -> str:
        lines = [
            "# TYPE callscope_frames_received_total counter",
            f"callscope_frames_received_total {self.received}",
            "# TYPE callscope_live_calls gauge",
            f"callscope_live_calls {self.live}",
            "callscope_frames_missing_total 0",
            "callscope_frames_late_total 0",
            "callscope_frames_duplicate_total 0",
            "# TYPE callscope_frame_lag_seconds histogram",
        ]
        total = 0
        for le, n in zip((*BUCKETS_ALL, "+Inf"), self.lag_counts, strict=True):
            total += n
            lines.append(f'callscope_frame_lag_seconds_bucket{{le="{le}"}} {total}')
        lines.append(f"callscope_frame_lag_seconds_sum {self.lag_sum}")
        lines.append(f"callscope_frame_lag_seconds_count {total}")
        return "\n".join(lines) + "\n"


class Bare:
    def __init__(self, data_dir: Path, secret: str) -> None:
        self.secret = secret
        self.dir = data_dir / "recordings"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stats = Stats()
        self._n = 0

    def _open(self) -> int:
        self._n += 1
        return os.open(self.dir / f"call-{self._n:06d}.raw", _OPEN_FLAGS, 0o600)

    # -- HTTP --

    async def health(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def metrics(self, _request: web.Request) -> web.Response:
        return web.Response(text=self.stats.text())

    # -- WebSocket --

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Streaming-Secret") != self.secret:
            raise web.HTTPUnauthorized()
        ws = web.WebSocketResponse(max_msg_size=64 * 1024, compress=False, timeout=2.0)
        await ws.prepare(request)
        stats, fd, stops, epoch = self.stats, -1, 0, 0.0
        loads, a2b, write, now_fn = orjson.loads, binascii.a2b_base64, os.write, time.monotonic
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                event = loads(msg.data)
                kind = event.get("event")
                if kind == "Media":
                    payload = a2b(event["media"])
                    write(fd, payload)
                    now = now_fn()
                    seq = int(event["sequenceId"])
                    if not epoch:
                        epoch = now - seq * FRAME_S
                    stats.received += 1
                    stats.observe(now - epoch - seq * FRAME_S)
                elif kind == "Start":
                    fd = self._open()
                    stats.live += 1
                elif kind == "Stop":
                    stops += 1
                    if stops == 2:
                        await ws.close(code=WSCloseCode.OK, message=b"call complete")
                        break
        finally:
            if fd >= 0:
                os.close(fd)
                stats.live -= 1
        return ws

    # -- gRPC --

    async def stream(self, requests: Any, context: grpc.aio.ServicerContext) -> Any:
        token = dict(context.invocation_metadata() or ()).get("authorization", "")
        if token.removeprefix("Bearer ") != self.secret:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong secret")
        stats, fd = self.stats, -1
        epochs: dict[str, float] = {}
        parse, write, now_fn = pb.StreamEvent.FromString, os.write, time.monotonic
        try:
            async for data in requests:
                event = parse(data)
                kind = event.WhichOneof("event")
                if kind == "segment_media":
                    media = event.segment_media
                    ac = media.audio_content
                    write(fd, ac.payload)
                    now = now_fn()
                    sid = media.segment_id
                    ends = (ac.seq * (ac.duration or 100)) / 1000
                    epoch = epochs.get(sid)
                    if epoch is None:
                        epoch = epochs[sid] = now - ends
                    stats.received += 1
                    stats.observe(now - epoch - ends)
                elif kind == "dialog_init":
                    fd = self._open()
                    stats.live += 1
        finally:
            if fd >= 0:
                os.close(fd)
                stats.live -= 1
        return empty_pb2.Empty()


async def serve(args: argparse.Namespace) -> None:
    bare = Bare(args.data_dir, args.secret)
    app = web.Application()
    app.router.add_get("/health", bare.health)
    app.router.add_get("/metrics", bare.metrics)
    app.router.add_get("/ringcx/stream", bare.websocket)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    server = None
    if args.grpc_port:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 * 1024)])
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Stream": grpc.stream_unary_rpc_method_handler(
                    bare.stream,
                    request_deserializer=None,
                    response_serializer=empty_pb2.Empty.SerializeToString,
                )
            },
        )
        server.add_generic_rpc_handlers((handler,))
        server.add_insecure_port(f"127.0.0.1:{args.grpc_port}")
        await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"bare baseline serving on {args.port} (gRPC {args.grpc_port or 'off'})", flush=True)
    await stop.wait()
    if server is not None:
        await server.stop(1.0)
    await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(prog="bench/bare_ingest.py", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--grpc-port", type=int, default=0)
    p.add_argument("--data-dir", type=Path, required=True)
    args = p.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    args.secret = secrets.token_urlsafe(16)
    creds = {"streaming": {"secret": args.secret}}
    (args.data_dir / "demo-credentials.json").write_text(json.dumps(creds))
    factory = uvloop.new_event_loop if uvloop is not None else None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve(args))


if __name__ == "__main__":
    main()
