"""``bench/listen.py --sip``: supervisors on SIP phones instead of web phones.

Each phone is a small SIP user agent in this process (aiosipua for messages, callscope's own
digest and RTP helpers): it registers with its SIP account (``admin device --sip``), answers
callscope's INVITE with PCMU, and timestamps every RTP packet. Which call frame a packet
carries is found from its payload (μ-law of the call's mixed frame, unique for speech), so
e2e latency is the simulator's send of that frame → the packet's arrival. Jitter is RFC 3550
interarrival jitter (J += (|D| − J)/16) per phone at the call's end (p50 and p99 over the
phones), in ms; |D| is each packet's own deviation from its 20 ms (p50 and p99 over all
packets).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from aiosipua import SipMessage, SipRequest, SipResponse, parse_sdp

from benchlib import free_port, percentile, pin, start_server, token
from callscope.identity.service import IdentityService
from callscope.media.g711 import lin2ulaw, ulaw2lin
from callscope.sim.plan import CallAudio, load_audio
from callscope.sim.runner import Progress, SimOptions, run_call
from callscope.sip.accounts import SipAccounts
from callscope.sip.digest import ha1, response
from callscope.sip.media import PACKET_SAMPLES, parse_rtp
from callscope.store.db import create_engine, sessionmaker


def mixed_frames(audio: CallAudio) -> dict[bytes, int]:
    """μ-law of each mixed frame → its frame number (frames that repeat are left out)."""
    seen: dict[bytes, int] = {}
    twice: set[bytes] = set()
    for i, (a, c) in enumerate(zip(audio.agent, audio.caller, strict=True)):
        mixed = np.clip(ulaw2lin(a).astype(np.int32) + ulaw2lin(c), -32768, 32767)
        key = lin2ulaw(mixed.astype(np.int16))
        if key in seen:
            twice.add(key)
        seen[key] = i
    return {k: v for k, v in seen.items() if k not in twice}


class Rtp(asyncio.DatagramProtocol):
    def __init__(self, phone: SipPhone) -> None:
        self.phone = phone

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.phone.on_rtp(data, time.monotonic())


class SipPhone(asyncio.DatagramProtocol):
    """One registered phone that answers and records arrivals."""

    def __init__(self, username: str, password: str, registrar: int, frames: dict[bytes, int]):
        self.username, self.password, self.registrar = username, password, registrar
        self.frames = frames
        self.transport: asyncio.DatagramTransport | None = None
        self.rtp_port = 0
        self.registered = asyncio.Event()
        self.answered = asyncio.Event()
        self.arrivals: dict[int, float] = {}  # frame → arrival
        self.ticks: list[float] | None = None
        self.packets = 0
        self.seqs: list[int] = []
        self.jitter = 0.0
        #: |D| of each packet against the one before (RFC 3550 §6.4.1), seconds
        self.deviations: list[float] = []
        self._last: tuple[float, int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        self.transport = transport  # type: ignore[assignment]
        rtp, _ = await loop.create_datagram_endpoint(lambda: Rtp(self), local_addr=("127.0.0.1", 0))
        self.rtp_port = rtp.get_extra_info("sockname")[1]
        self.register()

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def register(self, auth: str | None = None) -> None:
        req = SipRequest(method="REGISTER", uri=f"sip:127.0.0.1:{self.registrar}")
        h = req.headers
        h.set_single(
            "Via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{secrets.token_hex(6)}"
        )
        h.set_single("From", f"<sip:{self.username}@127.0.0.1>;tag=b{self.port}")
        h.set_single("To", f"<sip:{self.username}@127.0.0.1>")
        h.set_single("Call-ID", f"reg-{self.port}")
        h.set_single("CSeq", f"{2 if auth else 1} REGISTER")
        h.set_single("Contact", f"<sip:{self.username}@127.0.0.1:{self.port}>")
        h.set_single("Expires", "600")
        if auth:
            h.set_single("Authorization", auth)
        self._send(req, ("127.0.0.1", self.registrar))

    def _send(self, msg: SipMessage, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(bytes(msg), addr)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        msg = SipMessage.parse(data)
        peer = (str(addr[0]), int(addr[1]))
        if isinstance(msg, SipResponse):
            self._on_response(msg)
        elif msg.method == "INVITE":
            self._answer(msg, peer)
        elif msg.method == "BYE":
            self._reply(msg, peer, 200, "OK")

    def _on_response(self, msg: SipResponse) -> None:
        if msg.status_code == 401:
            challenge = msg.headers.get_first("WWW-Authenticate") or ""
            params = dict(
                p.strip().split("=", 1) for p in challenge.removeprefix("Digest ").split(",")
            )
            realm, nonce = params["realm"].strip('"'), params["nonce"].strip('"')
            uri = f"sip:127.0.0.1:{self.registrar}"
            key = ha1(self.username, realm, self.password)
            r = response(key, "REGISTER", uri, nonce, "00000001", "bench", "auth")
            self.register(
                f'Digest username="{self.username}", realm="{realm}", nonce="{nonce}", '
                f'uri="{uri}", response="{r}", algorithm=MD5, qop=auth, nc=00000001, '
                'cnonce="bench"'
            )
        elif msg.status_code == 200 and msg.cseq is not None and msg.cseq.method == "REGISTER":
            self.registered.set()

    def _reply(
        self, req: SipRequest, peer: tuple[str, int], code: int, reason: str, body: bytes = b""
    ) -> None:
        res = SipResponse(status_code=code, reason_phrase=reason, body=body)
        for via in req.headers.get("Via"):
            res.headers.append("Via", via)
        for name in ("From", "Call-ID", "CSeq"):
            res.headers.set_single(name, req.headers.get_first(name) or "")
        res.headers.set_single("To", f"{req.headers.get_first('To')};tag=p{self.port}")
        res.headers.set_single("Contact", f"<sip:{self.username}@127.0.0.1:{self.port}>")
        if body:
            res.headers.set_single("Content-Type", "application/sdp")
        self._send(res, peer)

    def _answer(self, req: SipRequest, peer: tuple[str, int]) -> None:
        assert parse_sdp(req.body.decode()).audio is not None
        sdp = (
            f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {self.rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n"
        ).encode()
        self._reply(req, peer, 200, "OK", sdp)
        self.answered.set()

    def on_rtp(self, data: bytes, now: float) -> None:
        packet = parse_rtp(data)
        self.packets += 1
        self.seqs.append(packet.sequence)
        if self._last is not None:  # RFC 3550 §6.4.1, in seconds
            last_at, last_ts = self._last
            d = (now - last_at) - ((packet.timestamp - last_ts) & 0xFFFFFFFF) / 8000
            self.jitter += (abs(d) - self.jitter) / 16
            self.deviations.append(abs(d))
        self._last = (now, packet.timestamp)
        frame = self.frames.get(packet.payload)
        if frame is not None:
            self.arrivals[frame] = now

    def latencies(self) -> list[float]:
        ticks = self.ticks or []
        return [at - ticks[f] for f, at in self.arrivals.items() if f < len(ticks)]

    def lost(self) -> int:
        if not self.seqs:
            return 0
        return (self.seqs[-1] - self.seqs[0]) % 65536 + 1 - len(set(self.seqs))

    def missed(self) -> int:
        """Call frames (those its payload names) between the first and last heard that
        never arrived: dropped on the way, even if sequence numbers show no gap."""
        if not self.arrivals:
            return 0
        lo, hi = min(self.arrivals), max(self.arrivals)
        return sum(lo <= f <= hi and f not in self.arrivals for f in self.frames.values())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def sip_accounts(data_dir: Path, n: int) -> list[tuple[str, str, str]]:
    """``n`` SIP devices of the demo supervisor (as ``admin device --sip`` makes them, in
    this process: fifty CLI runs would take a minute): (device id, username, password)."""
    creds = json.loads((data_dir / "demo-credentials.json").read_text())
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'callscope.db'}")
    try:
        identity = IdentityService(sessionmaker(engine))
        accounts = SipAccounts(sessionmaker(engine))
        out = []
        for i in range(n):
            device = await identity.create_device(
                creds["accountId"], int(creds["supervisor"]["extensionId"]), name=f"bench {i}"
            )
            user, password = await accounts.create(device, "callscope")
            out.append((str(device.id), user, password))
        return out
    finally:
        await engine.dispose()


async def sip_step(args: Any, calls: int) -> dict[str, Any]:
    """One step of ``--sip``: ``calls`` two-way calls, each supervised (Listen, mixed) from
    its own registered SIP phone."""
    from listen import demo_team, histogram_quantile, loop_lag

    tmp = Path(tempfile.mkdtemp(prefix="callscope-bench-sip-"))
    port, sip_port = free_port(), free_port()
    server = start_server(
        tmp / "data", port, "--ingest-idle-timeout-s", "30", "--sip-port", str(sip_port)
    )
    pin(server.pid, 0)
    base = f"http://127.0.0.1:{port}"
    full = load_audio(args.source)
    n = args.seconds * 50
    audio = CallAudio(full.name, full.agent[:n], full.caller[:n])
    frames = mixed_frames(audio)
    phones: list[SipPhone] = []
    try:
        async with aiohttp.ClientSession() as http:
            bearer = await token(http, base, tmp / "data")
            auth = {"Authorization": "Bearer " + bearer}
            await demo_team(http, base, auth)
            made = await sip_accounts(tmp / "data", calls)
            for _, user, password in made:
                phone = SipPhone(user, password, sip_port, frames)
                await phone.start()
                phones.append(phone)
            await asyncio.wait_for(asyncio.gather(*(p.registered.wait() for p in phones)), 30)
            creds = json.loads((tmp / "data" / "demo-credentials.json").read_text())
            opts = SimOptions(
                url=f"ws://127.0.0.1:{port}/twilio/stream",
                protocol="twilio",
                sources=(args.source,),
                calls=calls,
                secret=creds["streaming"]["secret"],
            )
            lag = asyncio.create_task(loop_lag(lags := []))
            progress = Progress()
            tasks = []
            for i in range(calls):
                tasks.append(asyncio.create_task(run_call(opts, i, audio, progress)))
                await asyncio.sleep(2.0 / calls)
            await asyncio.sleep(0.5)
            async with http.get(
                base + "/calls", headers=auth, params={"status": "live", "perPage": "1000"}
            ) as r:
                live = {c["ringcxCallId"]: c["id"] for c in (await r.json())["records"]}
            for i, phone in enumerate(phones):
                call_id = live[f"sim-1-{i + 1:05d}"]
                async with http.post(
                    f"{base}/restapi/v1.0/account/~/telephony/sessions/s-{call_id}/supervise",
                    headers=auth,
                    json={
                        "mode": "Listen",
                        "supervisorDeviceId": made[i][0],
                        "agentExtensionNumber": ("102", "103", "104")[i % 3],
                    },
                ) as r:
                    if r.status != 201:
                        raise SystemExit(f"supervise failed: {r.status} {await r.text()}")
                phone.ticks = progress.calls[i].tick_times
            results = await asyncio.wait_for(asyncio.gather(*tasks), args.seconds + 30)
            lag.cancel()
            async with http.get(base + "/metrics") as r:
                metrics = await r.text()
    finally:
        for phone in phones:
            phone.close()
        server.terminate()
        server.wait(15)
        shutil.rmtree(tmp, ignore_errors=True)
    e2e = [x for p in phones for x in p.latencies()]
    jitter = [p.jitter for p in phones if p.packets > 1]
    deviations = [d for p in phones for d in p.deviations]
    return {
        "calls": calls,
        "packets": sum(p.packets for p in phones),
        "e2e": (percentile(e2e, 0.5), percentile(e2e, 0.99)),
        "srv": (
            histogram_quantile(metrics, "callscope_listen_delay_seconds", 0.5),
            histogram_quantile(metrics, "callscope_listen_delay_seconds", 0.99),
        ),
        "jitter": (percentile(jitter, 0.5), percentile(jitter, 0.99)),
        "deviation": (percentile(deviations, 0.5), percentile(deviations, 0.99)),
        "lost": sum(p.lost() for p in phones),
        "missed": sum(p.missed() for p in phones),
        "failed": sum(r.status != "completed" for r in results),
        "bench_lag": percentile(lags, 0.99),
    }


__all__ = ["PACKET_SAMPLES", "SipPhone", "mixed_frames", "sip_accounts", "sip_step"]
