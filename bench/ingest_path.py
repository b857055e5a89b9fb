"""CPU per message of callscope's WebSocket ingest path, beside the bare loop's, in one process.

``bench/ingest.py`` measures whole servers over sockets, which a shared machine makes noisy.
This measures only what callscope adds per message, without sockets or an event loop, so the
figure depends little on other load (and not at all under ``valgrind --tool=callgrind``,
which counts instructions):

* callscope: a real :class:`~callscope.ingest.live_call.LiveCall` of a real
  :class:`~callscope.ingest.service.IngestService` (settings as ``serve`` has them, the frame
  lag histogram, the guarded recording sink, a real WAV file) gets each text message as the
  WebSocket handler hands it over (the in-order fast path, ``callscope.ingest.fastpath``,
  else ``LiveCall.on_text``), then does what the handler's loop does with the result;
* bare: what ``bench/bare_ingest.py``'s loop does per message: orjson, base64, one
  ``os.write`` per frame, the lag observation.

Both take the same pre-built messages (the bundled demo call, both perspectives, in order, as
``str`` like aiohttp's ``msg.data``), ``--calls`` calls interleaved as a server sees them.
Prints µs per message for each, their ratio, and what the per-message difference means for a
loop that costs ``--socket-us`` µs per message in aiohttp and uvloop (the part both servers
share).

    .venv/bin/python bench/ingest_path.py
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
        .venv/bin/python bench/ingest_path.py --frames 2000 --only callscope
"""

from __future__ import annotations

import argparse
import binascii
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from callscope.config import Settings
from callscope.ingest.fastpath import in_order_media
from callscope.ingest.live_call import LiveCall
from callscope.ingest.model import UpgradeParams
from callscope.ingest.service import IngestService
from callscope.media.wav import WavWriter
from callscope.metrics import Registry
from callscope.protocols.ringcx import Media, Perspective, Start, Stop, build_media
from callscope.sim.plan import load_audio
from callscope.sim.runner import default_source
from callscope.store.repo import CallRepository

FRAME_S = 0.02


def messages(frames: int) -> list[str]:
    """Frame i of both perspectives of the demo call, for i < frames, as text."""
    audio = load_audio(default_source())
    out: list[str] = []
    for i in range(frames):
        for perspective, source in (
            (Perspective.PARTICIPANT, audio.agent),
            (Perspective.CONFERENCE, audio.caller),
        ):
            out.append(build_media(perspective, i + 1, source[i % audio.frames]).decode())
    return out


def start_message() -> str:
    return orjson.dumps(
        {
            "event": "Start",
            "metadata": {
                "callId": "bench",
                "contentType": "audio/x-mulaw",
                "sampleRateHertz": 8000,
            },
        }
    ).decode()


async def _close(_code: int, _reason: str) -> None:
    return None


def callscope_path(data_dir: Path, calls: int) -> list[Callable[[str, float], Any]]:
    """One ``handle(text, now)`` per call: LiveCall.on_text and the handler loop's checks."""
    settings = Settings(data_dir=data_dir)
    service = IngestService(settings, CallRepository(None), Registry())  # type: ignore[arg-type]
    handlers = []
    for n in range(calls):
        call = LiveCall(service, UpgradeParams({}), _close)
        event = call.on_text(start_message(), time.monotonic())
        assert type(event) is Start
        # what LiveCall.start does for the media path (the row and session need a database)
        call.call_id = f"bench{n}"
        call.writer = WavWriter(settings.recordings_dir / f"{call.call_id}.wav")
        call.add_sink(call._write_block, name="recording", on_error=call._recording_failed)
        on_text = call.on_text
        fast = in_order_media(call)

        def handle(
            text: str, now: float, call: LiveCall = call, on_text: Any = on_text, fast: Any = fast
        ) -> Any:
            # api/ingest.py IngestHandler._receive, per text message
            if call.finished:
                return None
            if fast is not None and fast(text, now):
                return None
            event = on_text(text, now)
            if type(event) is Media:
                return event
            if type(event) is Stop:
                return event
            return event

        handlers.append(handle)
    return handlers


def bare_path(data_dir: Path, calls: int) -> list[Callable[[str, float], Any]]:
    """bench/bare_ingest.py's loop body, per call."""
    handlers = []
    for n in range(calls):
        fd = os.open(data_dir / f"bare{n}.raw", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        lags: list[float] = [0.0, 0.0]
        epoch = [0.0]

        def handle(
            text: str,
            now: float,
            fd: int = fd,
            lags: list[float] = lags,
            epoch: list[float] = epoch,
            loads: Any = orjson.loads,
            a2b: Any = binascii.a2b_base64,
            write: Any = os.write,
        ) -> Any:
            event = loads(text)
            kind = event.get("event")
            if kind == "Media":
                payload = a2b(event["media"])
                write(fd, payload)
                seq = int(event["sequenceId"])
                if not epoch[0]:
                    epoch[0] = now - seq * FRAME_S
                lags[0] += 1
                lags[1] += now - epoch[0] - seq * FRAME_S
            return event

        handlers.append(handle)
    return handlers


def run(handlers: list[Callable[[str, float], Any]], msgs: list[str]) -> tuple[float, int]:
    """Feed every message to every call, calls interleaved; CPU seconds and messages."""
    clock = time.monotonic
    t0 = time.process_time()
    for text in msgs:
        now = clock()
        for handle in handlers:
            handle(text, now)
    return time.process_time() - t0, len(msgs) * len(handlers)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/ingest_path.py", description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=3000, help="20 ms frames per call (3000 = 60 s)")
    p.add_argument("--calls", type=int, default=20, help="calls interleaved (default 20)")
    p.add_argument("--repeat", type=int, default=5, help="runs of each; the fastest counts")
    p.add_argument("--only", choices=("callscope", "bare"), help="run one side (for callgrind)")
    p.add_argument(
        "--socket-us",
        type=float,
        default=8.0,
        help="µs per message both servers spend in aiohttp and uvloop (for the projection)",
    )
    args = p.parse_args(argv)
    msgs = messages(args.frames)
    best: dict[str, float] = {}
    for name, make in (("callscope", callscope_path), ("bare", bare_path)):
        if args.only and name != args.only:
            continue
        times = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix=f"ingest-path-{name}-") as tmp:
                cpu, n = run(make(Path(tmp), args.calls), msgs)
                times.append(cpu / n * 1e6)
        best[name] = min(times)
        print(f"{name:9s} {best[name]:6.2f} µs per message (best of {args.repeat}, {n} messages)")
    if len(best) == 2:
        own, bare = best["callscope"], best["bare"]
        s = args.socket_us
        print(
            f"callscope adds {own - bare:+.2f} µs per message; with {s:g} µs of shared socket "
            f"work per message the bare/callscope capacity ratio would be "
            f"{(s + bare) / (s + own):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
