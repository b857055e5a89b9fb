"""Event delivery: notifications per second to many WebHook subscribers, and their delay.

Issue target: show events/s delivered to 50 webhook subscribers and the p99 delay.

What it does
------------
For each step of ``--subscribers`` (default 1,10,50) it starts a fresh ``callscope serve``
(temporary data directory, transcription off, pinned to CPU 0) and that many WebHook
receivers in this process (aiohttp on 127.0.0.1, pinned to CPU 1), each subscribed to the
account's telephony sessions. ``--stalled`` extra receivers accept the connection and never
answer (each attempt waits for the webhook timeout): they show whether one dead target holds
back the others. Then ``callscope simulate`` streams ``--calls`` short calls (ramped over
``--ramp`` s); each call makes four events (Setup, Proceeding, Answered, Disconnected), so
every healthy receiver must get 4 × calls notifications.

Reading the table
-----------------
subs          healthy subscribers (+ stalled ones)
delivered     notifications the healthy receivers got, of the expected 4 × calls × subs
events/s      delivered ÷ (last arrival − first event time)
delay_*_ms    arrival at the receiver − the event's ``eventTime`` (the state change), p50 /
              p99 / max. ``eventTime`` has millisecond resolution; same clock.
order         sessions whose events arrived out of ``sequence`` order at some receiver (0)
server_cpu_s  CPU the server used over the step (user + sys)

Run: ``python bench/events.py`` (about a minute) or ``--quick``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchlib import counts, cpu_seconds, free_port, percentile, pin, start_server, token

ROOT = Path(__file__).resolve().parent.parent
TEL = "/restapi/v1.0/account/~/telephony/sessions"


class Receivers:
    """Many WebHook targets in one aiohttp app: ``/hook/<n>``; ``/stall/<n>`` never answers."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        self.runner: web.AppRunner | None = None

    async def hook(self, request: web.Request) -> web.Response:
        token = request.headers.get("Validation-Token")
        if token is not None:
            return web.Response(headers={"Validation-Token": token})
        body = await request.json()
        self.arrivals.setdefault(request.match_info["n"], []).append((time.time(), body))
        return web.Response()

    async def stall(self, request: web.Request) -> web.Response:
        token = request.headers.get("Validation-Token")
        if token is not None:
            return web.Response(headers={"Validation-Token": token})
        await asyncio.sleep(3600)
        return web.Response()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook/{n}", self.hook)
        app.router.add_post("/stall/{n}", self.stall)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, backlog=1024).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def new_app(data_dir: Path, name: str) -> tuple[str, str]:
    """Another OAuth app of the demo account: a user holds at most 30 subscriptions per app."""
    out = subprocess.run(
        [
            *(sys.executable, "-m", "callscope", "admin", "app"),
            *("--account", "70000001", "--name", name, "--data-dir", str(data_dir)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    app = json.loads(out.stdout)
    return str(app["clientId"]), str(app["clientSecret"])


def _time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def step(args: argparse.Namespace, subs: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="callscope-bench-events-"))
    port = free_port()
    # the receivers are on 127.0.0.1: a lab setting (by default only public targets pass)
    server = start_server(
        tmp / "data", port, "--events-webhook-timeout-s", "5", "--events-webhook-allow-private"
    )
    pin(server.pid, 0)
    base = f"http://127.0.0.1:{port}"
    receivers = Receivers()
    await receivers.start()
    try:
        async with aiohttp.ClientSession() as http:
            bearer = {"Authorization": "Bearer " + await token(http, base, tmp / "data")}
            targets = [f"hook/{i}" for i in range(subs)] + [
                f"stall/{i}" for i in range(args.stalled)
            ]
            for i, path in enumerate(targets):
                if i and i % 25 == 0:
                    app = new_app(tmp / "data", f"bench-{i}")
                    bearer = {
                        "Authorization": "Bearer " + await token(http, base, tmp / "data", app)
                    }
                async with http.post(
                    base + "/restapi/v1.0/subscription",
                    headers=bearer,
                    json={
                        "eventFilters": [TEL],
                        "deliveryMode": {
                            "transportType": "WebHook",
                            "address": f"http://127.0.0.1:{receivers.port}/{path}",
                        },
                    },
                ) as r:
                    if r.status != 200:
                        raise SystemExit(f"subscription failed: {r.status} {await r.text()}")
        cpu0 = cpu_seconds(server.pid)
        sim = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "callscope",
            "simulate",
            "--quiet",
            "--url",
            f"ws://127.0.0.1:{port}/ringcx/stream",
            # the demo streaming profile's secret: streams without one are refused
            "--credentials",
            str(tmp / "data" / "demo-credentials.json"),
            "--calls",
            str(args.calls),
            "--ramp",
            str(args.ramp),
            "--speed",
            "20",
            "--max-frames",
            "50",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await sim.wait()
        expected = 4 * args.calls
        deadline = time.monotonic() + args.timeout
        healthy = [str(i) for i in range(subs)]
        while time.monotonic() < deadline:
            if all(len(receivers.arrivals.get(n, [])) >= expected for n in healthy):
                break
            await asyncio.sleep(0.1)
        cpu = cpu_seconds(server.pid) - cpu0
        delays: list[float] = []
        first, last = float("inf"), 0.0
        out_of_order = 0
        delivered = 0
        for n in healthy:
            per_session: dict[str, list[int]] = {}
            for arrived, body in receivers.arrivals.get(n, []):
                delivered += 1
                t = _time(body["body"]["eventTime"])
                delays.append((arrived - t) * 1000)
                first, last = min(first, t), max(last, arrived)
                per_session.setdefault(body["body"]["telephonySessionId"], []).append(
                    body["body"]["sequence"]
                )
            out_of_order += sum(seq != sorted(seq) for seq in per_session.values())
        return {
            "subs": f"{subs}+{args.stalled}" if args.stalled else str(subs),
            "delivered": f"{delivered}/{expected * subs}",
            "events_s": delivered / (last - first) if last > first else 0.0,
            "p50": percentile(delays, 0.5),
            "p99": percentile(delays, 0.99),
            "max": max(delays) if delays else None,
            "order": out_of_order,
            "cpu": cpu,
        }
    finally:
        await receivers.stop()
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(10)
        if server.poll() is None:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=counts("--subscribers"), default=[1, 10, 50])
    parser.add_argument("--calls", type=int, default=100, help="calls per step (default 100)")
    parser.add_argument("--ramp", type=float, default=5.0, help="spread call starts (s)")
    parser.add_argument("--stalled", type=int, default=1, help="never-answering targets")
    parser.add_argument("--timeout", type=float, default=120.0, help="wait per step (s)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 calls, 1 and 5 subs")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.subscribers, args.ramp = 10, [1, 5], 1.0
    pin(os.getpid(), 1)
    print(
        f"{args.calls} calls x 4 events per step; {args.stalled} stalled target(s) besides\n"
        f"{'subs':>6} {'delivered':>13} {'events/s':>9} {'p50_ms':>7} {'p99_ms':>7} "
        f"{'max_ms':>7} {'order':>5} {'server_cpu_s':>12}",
        flush=True,
    )
    for subs in args.subscribers:
        r = await step(args, subs)
        print(
            f"{r['subs']:>6} {r['delivered']:>13} {r['events_s']:>9.0f} {fmt(r['p50']):>7} "
            f"{fmt(r['p99']):>7} {fmt(r['max']):>7} {r['order']:>5} {r['cpu']:>12.1f}",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
