"""Two nodes against one: calls per node and cross-node listen latency.

What it does
------------
For each ``--calls`` N it runs three set-ups, each on a fresh PostgreSQL database (created on
127.0.0.1:5432 and dropped after) and a fresh Redis key prefix, with every node
``callscope serve`` (transcription off) pinned to CPU 0 and this process (simulator and web
phones) on CPU 1:

* ``1 node``   N two-way calls into node A; one web phone per call, also on A, listening
               (both parties mixed). The baseline.
* ``2 cross``  the same calls into A, every web phone on node B: each listened frame goes
               A → Redis → B → device. Supervise requests are sent to B, which passes them
               to A.
* ``2 spread`` N/2 calls into each node; each call's web phone on the other node: calls
               per node halve, every listen still crosses nodes.

Reading the table
-----------------
calls/node  calls each node received
frames      audio frames the web phones got (of calls × seconds × 50)
e2e p50/p99 the simulator's send of a frame → its arrival at the web phone, ms (same
            machine, CLOCK_MONOTONIC; includes the 2-frame write batch)
lost        frames missing at the phones (gaps)
cpu/node    CPU seconds each node used over the run (both nodes share CPU 0)
x p99       e2e p99 against ``1 node`` at the same N

Run: ``python bench/cluster.py`` (about 3 minutes) or ``--quick``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import counts, cpu_seconds, free_port, percentile, pin, start_server, token
from callscope.sim.plan import CallAudio, load_audio
from callscope.sim.runner import CallResult, Progress, SimOptions, default_source, run_call
from listen import Device, demo_team, loop_lag, ms, open_device, supervise

PG = {
    "host": "127.0.0.1",
    "port": 5432,
    "user": os.environ.get("CALLSCOPE_BENCH_PG_USER", "postgres"),
}
REDIS_URL = os.environ.get("CALLSCOPE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SETUPS = ("1 node", "2 cross", "2 spread")


class Cluster:
    """Nodes on a database and key prefix of their own, removed afterwards."""

    def __init__(self, nodes: int) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="callscope-bench-cluster-"))
        self.db = f"callscope_bench_{secrets.token_hex(4)}"
        self.prefix = f"callscope-bench-{secrets.token_hex(4)}"
        self.n = nodes
        self.procs: list[subprocess.Popen[bytes]] = []
        self.bases: list[str] = []

    async def __aenter__(self) -> Cluster:
        admin = await asyncpg.connect(database="test", **PG)
        try:
            await admin.execute(f'CREATE DATABASE "{self.db}"')
        finally:
            await admin.close()
        url = f"postgresql+asyncpg://{PG['user']}@127.0.0.1:5432/{self.db}"
        for i in range(self.n):
            port = free_port()
            proc = start_server(
                self.tmp / "data",
                port,
                *("--database-url", url, "--redis-url", REDIS_URL),
                *("--redis-prefix", self.prefix, "--node-id", f"bench-{i}"),
                *("--ingest-idle-timeout-s", "30", "--no-insights-enabled"),
            )
            pin(proc.pid, 0)
            self.procs.append(proc)
            self.bases.append(f"127.0.0.1:{port}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        admin = await asyncpg.connect(database="test", **PG)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        finally:
            await admin.close()
        r = aioredis.Redis.from_url(REDIS_URL)
        keys = [k async for k in r.scan_iter(match=f"{self.prefix}:*", count=500)]
        if keys:
            await r.delete(*keys)
        await r.aclose()
        if os.environ.get("CALLSCOPE_BENCH_KEEP"):
            print(f"kept {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


async def run(args: argparse.Namespace, setup: str, calls: int) -> dict[str, Any]:
    nodes = 1 if setup == "1 node" else 2
    async with Cluster(nodes) as cluster:
        http_base = [f"http://{b}" for b in cluster.bases]
        ws_base = [f"ws://{b}" for b in cluster.bases]
        # call i goes into node call_node[i]; its phone is on node phone_node[i]
        call_node = [0 if setup != "2 spread" else i % 2 for i in range(calls)]
        phone_node = [0 if nodes == 1 else 1 - n for n in call_node]
        cpu0 = [cpu_seconds(p.pid) for p in cluster.procs]
        async with aiohttp.ClientSession() as http:
            bearer = await token(http, http_base[0], cluster.tmp / "data")
            auth = {"Authorization": "Bearer " + bearer}
            base = http_base[0]
            await demo_team(http, base, auth)
            devices: list[Device] = [
                await open_device(ws_base[phone_node[i]], bearer, i) for i in range(calls)
            ]
            full = load_audio(args.source)
            n = args.seconds * 50
            audio = CallAudio(full.name, full.agent[:n], full.caller[:n])
            progress = Progress()
            lag = asyncio.create_task(loop_lag(lags := []))
            tasks: list[asyncio.Task[CallResult]] = []
            for i in range(calls):
                opts = SimOptions(
                    url=f"{ws_base[call_node[i]]}/twilio/stream",
                    protocol="twilio",
                    sources=(args.source,),
                    calls=calls,
                )
                tasks.append(asyncio.create_task(run_call(opts, i, audio, progress)))
                await asyncio.sleep(2.0 / calls)
            await asyncio.sleep(0.5)
            async with http.get(
                base + "/calls", headers=auth, params={"status": "live", "perPage": "1000"}
            ) as r:
                live = {c["ringcxCallId"]: c["id"] for c in (await r.json())["records"]}

            async def listen(i: int, device: Device) -> None:
                call_id = live.get(f"sim-1-{i + 1:05d}")
                if call_id is None:
                    raise SystemExit(f"call {i} is not live; see {cluster.tmp / 'server.log'}")
                # to the phone's node: across nodes it passes the request on
                base = http_base[phone_node[i]]
                await supervise(http, base, auth, call_id, device, ("102", "103", "104")[i % 3])
                device.ticks = progress.calls[i].tick_times

            # all at once, as supervisors do: sequential requests would start the last late
            await asyncio.gather(*(listen(i, d) for i, d in enumerate(devices)))
            t_end = time.monotonic() + args.seconds + 30
            results = [await asyncio.wait_for(t, max(1.0, t_end - time.monotonic())) for t in tasks]
            lag.cancel()
            cpu = [cpu_seconds(p.pid) - c for p, c in zip(cluster.procs, cpu0, strict=True)]
            for device in devices:
                device.ws.abort()
    e2e = [x for d in devices for x in d.latencies]
    return {
        "setup": setup,
        "per_node": [call_node.count(k) for k in range(nodes)],
        "frames": sum(len(d.frames) for d in devices),
        "e2e": (percentile(e2e, 0.5), percentile(e2e, 0.99)),
        "lost": sum(d.lost() for d in devices),
        "cpu": cpu,
        "failed": sum(r.status != "completed" for r in results),
        "bench_lag": percentile(lags, 0.99),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=counts("--calls"), default=[20, 40])
    parser.add_argument("--seconds", type=int, default=20, help="length of each call (s)")
    parser.add_argument("--source", type=Path, default=default_source(), help="call audio")
    parser.add_argument("--quick", action="store_true", help="smoke run: 6 calls of 6 s")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.seconds = [6], 6
    pin(os.getpid(), 1)
    print(
        f"{args.seconds} s two-way calls, one listening web phone per call; nodes on CPU 0, "
        "bench on CPU 1\n"
        f"{'calls':>5} {'setup':>9} {'calls/node':>11} {'frames':>8} {'e2e p50':>8} "
        f"{'e2e p99':>8} {'lost':>5} {'cpu/node (s)':>13} {'bench lag':>9} {'x p99':>6}",
        flush=True,
    )
    for n in args.calls:
        base_p99 = None
        for setup in SETUPS:
            r = await run(args, setup, n)
            p99 = r["e2e"][1]
            if setup == "1 node":
                base_p99 = p99
            ratio = f"{p99 / base_p99:.2f}" if p99 and base_p99 else "-"
            print(
                f"{n:>5} {setup:>9} {'/'.join(map(str, r['per_node'])):>11} {r['frames']:>8} "
                f"{ms(r['e2e'][0]):>8} {ms(p99):>8} {r['lost']:>5} "
                f"{'/'.join(f'{c:.1f}' for c in r['cpu']):>13} {ms(r['bench_lag']):>9} "
                f"{ratio:>6}" + (f"  ({r['failed']} call(s) failed)" if r["failed"] else ""),
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
