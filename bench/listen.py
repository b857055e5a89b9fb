"""Listening and coaching latency: N two-way calls, one supervisor device per call.

Issue target: p99 < 50 ms from a frame's arrival to its delivery on the device socket at 100
calls; coach audio to the agent-bound stream; a stalled device never delays ingest or other
devices.

What it does
------------
For each step of ``--calls`` (default 10,50,100) it starts a fresh ``callscope serve``
(temporary data directory, transcription off, pinned to CPU 0). In this process (CPU 1) it
connects one web phone per call plus one that **stops reading** after its first message,
streams N + 1 two-way calls with the simulator's own code (``--seconds`` each, starts ramped
over 2 s), and supervises every call (Listen, session level = both parties mixed) from its
own device: the last call from the stalled device. ``--coach`` of the calls switch to Coach
and their devices talk (a 20 ms frame every 20 ms) into the call.

Reading the table
-----------------
calls       supervised calls with a reading device (+1 with the stalled device)
frames      audio frames the reading devices got
e2e p50/p99 simulator's send of a frame → its arrival at the device, ms (same machine,
            CLOCK_MONOTONIC); includes the server's 2-frame write batch (≤ 20 ms for the
            first frame of a batch), both sockets and this process's own scheduling
srv p50/p99 the server's own figure (callscope_listen_delay_seconds): the frame's arrival
            at the server (the message that completed its block) → written to the device
            socket; bucket upper bounds, ms
coach p50/p99  device's send of a microphone frame → its arrival at the simulated agent leg
lost        frames missing at reading devices (gaps), and frames the server dropped for
            the stalled device (its queue keeps the newest 2 s)
ingest p99  the server's frame lag at the recording write (callscope_frame_lag_seconds),
            bucket bound, ms; it counts the simulator's own slips as lag
bench lag   p99 lateness of a 10 ms timer in this process (simulator and devices share
            it): the part of e2e and ingest lag that is the bench's own, ms
x p99       e2e p99 against the first step's

Run: ``python bench/listen.py`` (about 2 minutes) or ``--quick``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import counts, free_port, percentile, pin, start_server, token
from callscope.sim.plan import CallAudio, load_audio
from callscope.sim.runner import CallResult, Progress, SimOptions, default_source, run_call
from callscope.sim.wsclient import WebSocketClient, connect
from callscope.supervision.webphone import WebPhoneClient, mic_frame

GROUPS = "/restapi/v1.0/account/~/call-monitoring-groups"


class Device:
    """A web phone on the bench's own cheap WebSocket client."""

    def __init__(self, ws: WebSocketClient, index: int) -> None:
        self.ws = ws
        self.index = index
        self.device_id = ""
        self.frames: dict[int, float] = {}  # frame number → arrival time
        self.ticks: list[float] | None = None  # the call's send times, by frame
        self.latencies: list[float] = []
        self.mic_sent: list[float] = []
        #: the web-phone protocol's device side (audio not kept: only arrival times count)
        self.phone = WebPhoneClient(keep_audio=False)
        ws.on_text = self.on_text
        ws.on_binary = self.on_binary

    def on_text(self, raw: bytes) -> None:
        msg = self.phone.receive_text(raw)
        if msg.get("type") == "DeviceConnected":
            self.device_id = msg["deviceId"]

    def on_binary(self, raw: bytes) -> None:
        now = time.monotonic()
        frame = self.phone.receive_bytes(raw).frame
        self.frames[frame] = now
        ticks = self.ticks
        if ticks is not None and frame < len(ticks):
            self.latencies.append(now - ticks[frame])

    def lost(self) -> int:
        if not self.frames:
            return 0
        return max(self.frames) - min(self.frames) + 1 - len(self.frames)


async def open_device(
    base_ws: str, bearer: str, index: int, receive_buffer: int | None = None
) -> Device:
    ws = await connect(
        f"{base_ws}/supervision/device?access_token={bearer}", receive_buffer=receive_buffer
    )
    device = Device(ws, index)
    for _ in range(200):
        if device.device_id:
            return device
        await asyncio.sleep(0.01)
    raise SystemExit("device did not connect")


def histogram_quantile(metrics: str, name: str, q: float) -> float | None:
    """The upper bound of the bucket holding quantile ``q`` of a Prometheus histogram."""
    buckets = [
        (float(le), float(v))
        for le, v in re.findall(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', metrics, re.M)
    ]
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    for le, v in buckets:
        if v >= q * total:
            return le
    return None


def counter(metrics: str, name: str) -> float:
    found = re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", metrics, re.M)
    return sum(float(v) for v in found)


async def demo_team(http: aiohttp.ClientSession, base: str, auth: dict[str, str]) -> None:
    """A monitoring group: the demo supervisor (101) may supervise agents 102-104."""
    async with http.get(base + "/restapi/v1.0/account/~/extension", headers=auth) as r:
        exts = {e["extensionNumber"]: e["id"] for e in (await r.json())["records"]}
    async with http.post(base + GROUPS, headers=auth, json={"name": "bench"}) as r:
        group = (await r.json())["id"]
    members = [{"id": exts["101"], "permissions": ["Monitoring"]}] + [
        {"id": exts[n], "permissions": ["Monitored"]} for n in ("102", "103", "104")
    ]
    async with http.post(
        f"{base}{GROUPS}/{group}/bulk-assign", headers=auth, json={"addedExtensions": members}
    ) as r:
        assert r.status == 204, await r.text()


async def supervise(
    http: aiohttp.ClientSession,
    base: str,
    auth: dict[str, str],
    call_id: str,
    device: Device,
    agent: str,
    mode: str = "Listen",
) -> None:
    """Supervise Call Session from ``device`` (its agent ``agent``); exits on a refusal."""
    async with http.post(
        f"{base}/restapi/v1.0/account/~/telephony/sessions/s-{call_id}/supervise",
        headers=auth,
        json={"mode": mode, "supervisorDeviceId": device.device_id, "agentExtensionNumber": agent},
    ) as r:
        if r.status != 201:
            raise SystemExit(f"supervise failed: {r.status} {await r.text()}")


async def loop_lag(out: list[float]) -> None:
    """How late this process's own event loop runs a 10 ms timer (its share of e2e)."""
    while True:
        t = time.monotonic()
        await asyncio.sleep(0.01)
        out.append(time.monotonic() - t - 0.01)


async def talk(device: Device, stop: asyncio.Event) -> None:
    """A 20 ms microphone frame every 20 ms until ``stop``."""
    t = np.arange(160) / 8000
    pcm = (np.sin(2 * np.pi * 440 * t) * 6000).astype("<i2").tobytes()
    n = 0
    t0 = time.monotonic()
    while not stop.is_set() and not device.ws.is_closed:
        device.ws.send_raw(2, mic_frame(pcm, counter=n))
        device.mic_sent.append(time.monotonic())
        n += 1
        await asyncio.sleep(max(0.0, t0 + n * 0.02 - time.monotonic()))


async def step(args: argparse.Namespace, calls: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="callscope-bench-listen-"))
    port = free_port()
    # A long heartbeat keeps the stalled device connected (by default its missed pong drops
    # it after about 15 s), so its queue fills and the server must drop its audio.
    server = start_server(
        tmp / "data",
        port,
        *("--ingest-idle-timeout-s", "30", "--supervision-heartbeat-s", "120"),
    )
    pin(server.pid, 0)
    base = f"http://127.0.0.1:{port}"
    base_ws = f"ws://127.0.0.1:{port}"
    devices: list[Device] = []
    try:
        async with aiohttp.ClientSession() as http:
            bearer = await token(http, base, tmp / "data")
            auth = {"Authorization": "Bearer " + bearer}
            await demo_team(http, base, auth)
            devices = [await open_device(base_ws, bearer, i) for i in range(calls)]
            devices.append(await open_device(base_ws, bearer, calls, receive_buffer=4096))
            stalled = devices[-1]
            stalled.ws._task.cancel()  # stops reading: the server's writes pile up
            creds = orjson.loads((tmp / "data" / "demo-credentials.json").read_bytes())
            opts = SimOptions(
                url=f"{base_ws}/twilio/stream",
                protocol="twilio",
                sources=(args.source,),
                calls=calls + 1,
                # the demo streaming profile's secret: streams without one are refused
                secret=creds["streaming"]["secret"],
            )
            full = load_audio(args.source)
            n = args.seconds * 50  # plans are built per call: only what is sent
            audio = CallAudio(full.name, full.agent[:n], full.caller[:n])
            lag = asyncio.create_task(loop_lag(lags := []))
            progress = Progress()
            tasks: list[asyncio.Task[CallResult]] = []
            for i in range(calls + 1):
                tasks.append(asyncio.create_task(run_call(opts, i, audio, progress)))
                await asyncio.sleep(2.0 / (calls + 1))
            await asyncio.sleep(0.5)
            # Which server call is which simulated call, then supervise each from its device.
            async with http.get(
                base + "/calls", headers=auth, params={"status": "live", "perPage": "1000"}
            ) as r:
                live = {c["ringcxCallId"]: c["id"] for c in (await r.json())["records"]}
            stop_talk = asyncio.Event()
            talkers = []
            for i, device in enumerate(devices):
                call_id = live.get(f"sim-1-{i + 1:05d}")
                if call_id is None:
                    raise SystemExit(f"call {i} is not live; see {tmp / 'server.log'}")
                coach = i < args.coach
                agent = ("102", "103", "104")[i % 3]
                mode = "Coach" if coach else "Listen"
                await supervise(http, base, auth, call_id, device, agent, mode)
                device.ticks = progress.calls[i].tick_times
                if coach:
                    talkers.append(asyncio.create_task(talk(device, stop_talk)))
            t_end = time.monotonic() + args.seconds + 30
            results = []
            for task in tasks:
                results.append(await asyncio.wait_for(task, max(1.0, t_end - time.monotonic())))
            stop_talk.set()
            await asyncio.gather(*talkers)
            lag.cancel()
            async with http.get(base + "/metrics") as r:
                metrics = await r.text()
    finally:
        for device in devices:
            device.ws.abort()
        server.terminate()
        server.wait(15)
        if os.environ.get("CALLSCOPE_BENCH_KEEP"):
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    reading = devices[:-1]
    e2e = [x for d in reading for x in d.latencies]
    coach_lat = []
    for device, result in zip(devices[: args.coach], results, strict=False):
        if result.heard is not None:
            arrivals = result.heard.arrivals["agent"]
            coach_lat += [a - s for s, a in zip(device.mic_sent, arrivals, strict=False)]
    return {
        "calls": calls,
        "frames": sum(len(d.frames) for d in reading),
        "e2e": (percentile(e2e, 0.5), percentile(e2e, 0.99)),
        "srv": (
            histogram_quantile(metrics, "callscope_listen_delay_seconds", 0.5),
            histogram_quantile(metrics, "callscope_listen_delay_seconds", 0.99),
        ),
        "coach": (percentile(coach_lat, 0.5), percentile(coach_lat, 0.99)),
        "lost": sum(d.lost() for d in reading),
        "stalled_dropped": counter(metrics, "callscope_listen_frames_dropped_total"),
        "ingest_p99": histogram_quantile(metrics, "callscope_frame_lag_seconds", 0.99),
        "failed": sum(r.status != "completed" for r in results),
        "bench_lag": percentile(lags, 0.99),
    }


def ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.1f}"


async def sip_main(args: argparse.Namespace) -> None:
    """``--sip``: one registered SIP phone per call (see bench/sipphones.py)."""
    from sipphones import sip_step

    print(
        f"one SIP phone per call (PCMU RTP); {args.seconds} s calls\n"
        f"{'calls':>5} {'packets':>8} {'e2e p50':>8} {'e2e p99':>8} {'srv p50':>8} "
        f"{'srv p99':>8} {'jitter p50':>10} {'jitter p99':>10} {'|D| p50':>8} {'|D| p99':>8} "
        f"{'lost':>5} {'missed':>6} {'bench lag':>9}",
        flush=True,
    )
    for n in args.calls:
        r = await sip_step(args, n)
        print(
            f"{r['calls']:>5} {r['packets']:>8} {ms(r['e2e'][0]):>8} {ms(r['e2e'][1]):>8} "
            f"{ms(r['srv'][0]):>8} {ms(r['srv'][1]):>8} {ms(r['jitter'][0]):>10} "
            f"{ms(r['jitter'][1]):>10} {ms(r['deviation'][0]):>8} {ms(r['deviation'][1]):>8} "
            f"{r['lost']:>5} {r['missed']:>6} {ms(r['bench_lag']):>9}"
            + (f"  ({r['failed']} call(s) failed)" if r["failed"] else ""),
            flush=True,
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=counts("--calls"), default=[10, 50, 100])
    parser.add_argument("--seconds", type=int, default=20, help="length of each call (s)")
    parser.add_argument("--coach", type=int, default=10, help="calls whose device coaches")
    parser.add_argument("--source", type=Path, default=default_source(), help="call audio")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 and 10 calls, 8 s")
    parser.add_argument(
        "--sip", action="store_true", help="supervisors on SIP phones (RTP) instead of web phones"
    )
    args = parser.parse_args()
    if args.quick:
        args.calls, args.seconds, args.coach = [5, 10], 8, 2
    pin(os.getpid(), 1)
    if args.sip:
        await sip_main(args)
        return
    print(
        f"one web phone per call, +1 call on a device that stops reading; {args.seconds} s "
        f"calls, {args.coach} coaching\n"
        f"{'calls':>5} {'frames':>8} {'e2e p50':>8} {'e2e p99':>8} {'srv p50':>8} "
        f"{'srv p99':>8} {'coach p50':>9} {'coach p99':>9} {'lost':>5} {'stalled drop':>12} "
        f"{'ingest p99':>10} {'bench lag':>9} {'x p99':>6}",
        flush=True,
    )
    base_p99 = None
    for n in args.calls:
        r = await step(args, n)
        p99 = r["e2e"][1]
        base_p99 = base_p99 or p99
        ratio = f"{p99 / base_p99:.2f}" if p99 and base_p99 else "-"
        print(
            f"{r['calls']:>5} {r['frames']:>8} {ms(r['e2e'][0]):>8} {ms(p99):>8} "
            f"{ms(r['srv'][0]):>8} {ms(r['srv'][1]):>8} {ms(r['coach'][0]):>9} "
            f"{ms(r['coach'][1]):>9} {r['lost']:>5} {r['stalled_dropped']:>12.0f} "
            f"{ms(r['ingest_p99']):>10} {ms(r['bench_lag']):>9} {ratio:>6}"
            + (f"  ({r['failed']} call(s) failed)" if r["failed"] else ""),
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
