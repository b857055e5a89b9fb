"""Instructions per ingest message, counted by callgrind: a figure other load cannot move.

``bench/ingest.py``'s CPU per call-second depends on what else runs on the machine (caches,
frequency, a shared core's other thread). This counts the server's instructions instead:
``callscope serve`` (or ``--bare``: ``bench/bare_ingest.py``) runs under
``valgrind --tool=callgrind`` with instrumentation off while it starts; ``--calls`` calls
stream through the same generator as ``bench/ingest.py`` (WebSocket: 100 messages per second
per call; gRPC: 20); after ``--warmup`` s instrumentation is switched on
(``callgrind_control --instr=on``) for ``--measure`` s, and the instructions executed in that
window (every thread: the event loop, the database's) are divided by the media messages the
server received in it (``/metrics``). Background work (idle sweeps, database polls) is in the
figure, so compare runs with the same ``--calls``.

    .venv/bin/python bench/ingest_callgrind.py --transport websocket --calls 10
    .venv/bin/python bench/ingest_callgrind.py --transport websocket --calls 10 --bare

Needs ``valgrind`` (with ``callgrind_control``) on the PATH. The server runs about 50 times
slower under instrumentation, so keep ``--calls`` small (≤ 20 WebSocket calls).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import ingest
from ingest import (
    GRPC,
    TRANSPORTS,
    Server,
    free_port,
    make_load,
    snapshot,
    start_server,
    stop_server,
    wait_ready,
)


def _control(*args: str) -> str:
    done = subprocess.run(
        ["callgrind_control", *args], capture_output=True, text=True, timeout=120, check=False
    )
    return done.stdout + done.stderr


def _instructions(data_dir: Path) -> int:
    """Every dump's total (one per thread with --separate-threads, else one)."""
    total = 0
    for dump in data_dir.glob("callgrind.out*"):
        m = re.search(r"^(?:summary|totals):\s+(\d+)", dump.read_text(errors="replace"), re.M)
        if m:
            total += int(m.group(1))
    return total


async def measure(args: argparse.Namespace) -> int:
    (transport,) = TRANSPORTS[args.transport]
    ingest.READY_TIMEOUT_S = 300.0  # start-up runs under valgrind too
    with tempfile.TemporaryDirectory(prefix="callscope-callgrind-") as tmp:
        data_dir = Path(tmp)
        out = data_dir / "callgrind.out"
        port = free_port()
        grpc_port = free_port() if transport is GRPC else 0
        prefix = (
            "valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out}",
        )  # fmt: skip
        proc = start_server(
            port, data_dir, data_dir / "server.log", "auto", grpc_port,
            bare=args.bare, prefix=prefix,
        )  # fmt: skip
        gen = None
        seconds = 0.0
        try:
            await wait_ready(port, proc)
            server = Server(proc, port, grpc_port, data_dir)
            gen = make_load(args, transport, server)
            gen.start()
            await gen.open_calls(args.calls, 2.0)
            await asyncio.sleep(args.warmup)
            _control("--instr=on", str(proc.pid))
            s0 = await snapshot(port, proc.pid, gen, aligned=False)
            await asyncio.sleep(args.measure)
            s1 = await snapshot(port, proc.pid, gen, aligned=False)
            seconds = s1.t - s0.t
            _control("--dump", str(proc.pid))
            _control("--instr=off", str(proc.pid))
            received = s1.received - s0.received
        finally:
            if gen is not None:
                gen.abort_all()
                await gen.close()
            stop_server(proc)
        total = await asyncio.to_thread(_instructions, data_dir)
    name = "bare loop" if args.bare else "callscope"
    rate = f"{total / seconds:,.0f} instructions per second"
    if received <= 0 or total <= 0:
        print(f"{transport.label} {name}, {args.calls} calls: {rate}, no media received")
        return 0 if total > 0 else 1
    print(
        f"{transport.label} {name}: {total / received:,.0f} instructions per message, {rate} "
        f"({total:,} over {received} {transport.unit} in {seconds:.1f} s, {args.calls} calls)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/ingest_callgrind.py", description=__doc__)
    p.add_argument("--transport", choices=("websocket", "grpc"), default="websocket")
    p.add_argument("--calls", type=int, default=10, help="calls streaming (default 10)")
    p.add_argument("--warmup", type=float, default=8.0, help="seconds before counting (8)")
    p.add_argument("--measure", type=float, default=10.0, help="seconds counted (10)")
    p.add_argument("--bare", action="store_true", help="count the bare loop instead")
    p.add_argument("--grpc-channels", type=int, default=1, help="gRPC: HTTP/2 connections")
    args = p.parse_args(argv)
    if args.calls < 1:
        p.error("--calls must be at least 1")
    if shutil.which("callgrind_control") is None:
        print("valgrind (callgrind_control) is not installed", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(measure(args))
    return 130


if __name__ == "__main__":
    sys.exit(main())
