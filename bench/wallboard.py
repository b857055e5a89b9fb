"""The wallboard under load: ``GET /calls/wallboard`` with N live calls.

Issue #21: the supervisor's wallboard re-reads this summary on every telephony event, so it
must stay cheap as calls grow. For each step of ``--calls`` (default 10,50,100) it starts a
fresh ``callscope serve`` (temporary data directory, transcription off), streams N
concurrent demo calls (RingCX, agents 5501-5503 rotating) with ``callscope simulate``, waits
until the wallboard lists all N, then reads it ``--reads`` times in a row as the demo
supervisor (an admin: every call).

Reading the table
-----------------
calls     live calls listed
p50/p99   time of one GET /calls/wallboard as this client sees it (127.0.0.1), ms
max       slowest read, ms
KB        size of the JSON body
agents    agents in the body (with their presence)

Run: ``python bench/wallboard.py`` (about a minute) or ``--calls 10,100 --reads 100``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import counts, free_port, percentile, start_server, token


async def measure(
    base: str, data: Path, calls: int, reads: int
) -> tuple[float, float, float, float, int]:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {await token(http, base, data)}"}
        deadline = time.monotonic() + 60
        while True:  # until every call is listed
            async with http.get(base + "/calls/wallboard", headers=headers) as r:
                body = await r.json()
            if len(body["calls"]) >= calls:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(body['calls'])} of {calls} calls listed")
            await asyncio.sleep(0.2)
        times, size = [], 0
        for _ in range(reads):
            t0 = time.perf_counter()
            async with http.get(base + "/calls/wallboard", headers=headers) as r:
                raw = await r.read()
            times.append((time.perf_counter() - t0) * 1000)
            size = len(raw)
    p50 = percentile(times, 0.5) or 0.0
    p99 = percentile(times, 0.99) or 0.0
    return p50, p99, max(times), size / 1024, len(body["agents"])


def step(calls: int, reads: int) -> tuple[float, float, float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        port = free_port()
        server = start_server(data, port)
        sim = subprocess.Popen(
            [
                *(sys.executable, "-m", "callscope", "simulate", "--quiet"),
                *("--url", f"ws://127.0.0.1:{port}/ringcx/stream"),
                *("--credentials", str(data / "demo-credentials.json")),
                *("--calls", str(calls), "--max-frames", "3000", "--speed", "1"),
                *("--agent-id", "5501", "--agent-id", "5502", "--agent-id", "5503"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            return asyncio.run(measure(f"http://127.0.0.1:{port}", data, calls, reads))
        finally:
            sim.kill()
            sim.wait()
            server.terminate()
            server.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--calls", type=counts("--calls"), default=[10, 50, 100])
    ap.add_argument("--reads", type=int, default=50)
    args = ap.parse_args()
    print(f"{'calls':>6} {'p50':>8} {'p99':>8} {'max':>8} {'KB':>7} {'agents':>7}")
    for n in args.calls:
        p50, p99, worst, kb, agents = step(n, args.reads)
        print(f"{n:>6} {p50:>8.1f} {p99:>8.1f} {worst:>8.1f} {kb:>7.1f} {agents:>7}")


if __name__ == "__main__":
    main()
