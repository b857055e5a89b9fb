"""Supervision end to end on 127.0.0.1: calls streamed by the simulator (RingCX one-way and
the two-way Twilio-style stream) into a real server; supervisors' web phones on real
WebSockets; audio compared sample for sample with the recording, and what each simulated
party heard compared with what the supervisor said."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from callscope.media.wav import read_wav
from callscope.sim.plan import load_audio
from callscope.sim.runner import CallResult, Progress, SimOptions, run_call
from tests.conftest import Server, make_stereo_fixture
from tests.integration.cp_helpers import request

pytestmark = pytest.mark.slow

TEL = "/restapi/v1.0/account/~/telephony/sessions"
GROUPS = "/restapi/v1.0/account/~/call-monitoring-groups"
HEADER = struct.Struct("<BBHI")


async def until(check: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"not met within {timeout} s: {what}")


@dataclass
class Phone:
    """A supervisor's web phone: every JSON message and every audio frame it receives."""

    server: Server
    token: str
    device_id: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: stream id → frame number → PCM16 bytes
    audio: dict[int, dict[int, bytes]] = field(default_factory=dict)
    session: aiohttp.ClientSession | None = None
    ws: aiohttp.ClientWebSocketResponse | None = None
    task: asyncio.Task[None] | None = None

    async def connect(self, **query: str) -> Phone:
        self.session = aiohttp.ClientSession()
        params = {"access_token": self.token, **query}
        self.ws = await self.session.ws_connect(
            self.server.http + "/supervision/device", params=params
        )
        self.task = asyncio.create_task(self._read())
        hello = await until(lambda: self.first("DeviceConnected"), what="DeviceConnected")
        self.device_id = hello["deviceId"]
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.messages.append(msg.json())
            elif msg.type is aiohttp.WSMsgType.BINARY:
                kind, _channel, stream, frame = HEADER.unpack_from(msg.data)
                assert kind == 1
                self.audio.setdefault(stream, {})[frame] = msg.data[HEADER.size :]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def first(self, kind: str) -> dict[str, Any] | None:
        found = self.of(kind)
        return found[0] if found else None

    def states(self) -> list[dict[str, Any]]:
        return [
            m["data"]["devices"][0] for m in self.messages if m.get("channel") == "/v2/me/devices"
        ]

    async def talk(self, pcm: bytes, frames: int, *, stream: int = 0) -> None:
        assert self.ws is not None
        for i in range(frames):
            await self.ws.send_bytes(HEADER.pack(2, 0, stream, i) + pcm)
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.session is not None:
            await self.session.close()


async def extensions(server: Server) -> dict[str, dict[str, Any]]:
    _, users = await request(
        server, "GET", "/restapi/v1.0/account/~/extension", headers=server.headers
    )
    return {u["extensionNumber"]: u for u in users["records"]}


async def monitoring_group(
    server: Server, members: dict[str, list[str]], exts: dict[str, dict[str, Any]]
) -> str:
    status, group = await request(
        server, "POST", GROUPS, headers=server.headers, json={"name": "Floor 1"}
    )
    assert status == 200, group
    added = [{"id": exts[n]["id"], "permissions": p} for n, p in members.items()]
    status, body = await request(
        server,
        "POST",
        f"{GROUPS}/{group['id']}/bulk-assign",
        headers=server.headers,
        json={"addedExtensions": added},
    )
    assert status == 204, body
    return str(group["id"])


def call_options(server: Server, source: Path, **kw: Any) -> SimOptions:
    two_way = kw.pop("two_way", True)
    path = "/twilio/stream" if two_way else "/ringcx/stream"
    return SimOptions(
        url=server.http.replace("http", "ws") + path,
        sources=(source,),
        protocol="twilio" if two_way else "ringcx",
        **kw,
    )


def start_call(opts: SimOptions, index: int = 0) -> asyncio.Task[CallResult]:
    audio = load_audio(opts.sources[0])
    return asyncio.create_task(run_call(opts, index, audio, Progress()))


async def live_session(server: Server, agent: dict[str, Any]) -> dict[str, Any]:
    """The agent's live call, once it is listed."""

    async def find() -> dict[str, Any] | None:
        _, calls = await request(
            server,
            "GET",
            f"/restapi/v1.0/account/~/extension/{agent['id']}/active-calls",
            headers=server.headers,
        )
        return calls["records"][0] if calls.get("records") else None

    for _ in range(200):
        found = await find()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no live call for extension {agent['extensionNumber']}")


async def supervise(
    server: Server,
    session_id: str,
    body: dict[str, Any],
    *,
    party: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    path = f"{TEL}/{session_id}" + (f"/parties/{party}" if party else "") + "/supervise"
    return await request(server, "POST", path, headers=headers or server.headers, json=body)


def recording(server: Server, call_id: str) -> np.ndarray:
    rate, pcm = read_wav(server.data_dir / "recordings" / f"{call_id}.wav")
    assert rate == 8000
    return pcm


def stream_pcm(frames: dict[int, bytes]) -> tuple[int, np.ndarray]:
    """(first frame, contiguous PCM) of what a stream delivered; frames must be gap-free."""
    first, last = min(frames), max(frames)
    assert len(frames) == last - first + 1, "the device lost frames"
    pcm = b"".join(frames[i] for i in range(first, last + 1))
    return first, np.frombuffer(pcm, dtype="<i2")


def call_id_of(session_id: str) -> str:
    return session_id.removeprefix("s-")


# -- RingCentral Supervise Call Session / Party ----------------------------------------------


async def test_session_and_party_supervision_deliver_the_calls_audio(
    server: Server, tmp_path: Path
) -> None:
    exts = await extensions(server)
    await monitoring_group(server, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=5.0)
    phone = await Phone(server, server.headers["Authorization"][7:]).connect()
    try:
        # The web phone is a device of the supervisor, Online while connected.
        _, devices = await request(
            server, "GET", "/restapi/v1.0/account/~/extension/~/device", headers=server.headers
        )
        mine = next(d for d in devices["records"] if d["id"] == phone.device_id)
        assert (mine["type"], mine["status"]) == ("WebPhone", "Online")

        call = start_call(call_options(server, source, two_way=False))
        active = await live_session(server, exts["102"])
        sid = active["telephonySessionId"]
        status, party = await supervise(
            server,
            sid,
            {
                "mode": "Listen",
                "supervisorDeviceId": phone.device_id,
                "agentExtensionNumber": "102",
            },
        )
        assert status == 201, party
        assert party["status"] == {"code": "Answered", "rcc": False, "reason": "Supervising"}
        assert party["extensionId"] == exts["101"]["id"].__str__()
        assert party["from"]["deviceId"] == phone.device_id
        assert party["to"]["extensionId"] == str(exts["102"]["id"])
        # Each party alone, on the same device: two more streams.
        customer_party = f"p-{call_id_of(sid)}-1"
        streams = {}
        for target, channel in ((customer_party, "customer"), (active["partyId"], "agent")):
            status, p = await supervise(
                server,
                sid,
                {
                    "mode": "Listen",
                    "supervisorDeviceId": phone.device_id,
                    "agentExtensionId": exts["102"]["id"],
                },
                party=target,
            )
            assert status == 201, p
            streams[channel] = p["id"]
        _, session = await request(server, "GET", f"{TEL}/{sid}", headers=server.headers)
        supervisors = [p for p in session["parties"] if p["id"] in (party["id"], *streams.values())]
        assert len(supervisors) == 3
        assert all(p["status"]["reason"] == "Supervising" for p in supervisors)

        result = await asyncio.wait_for(call, 30)
        assert result.status == "completed"
        await until(lambda: len(phone.of("StreamEnded")) == 3, what="streams ended")
    finally:
        await phone.close()

    started = {m["channel"]: m for m in phone.of("StreamStarted")}
    assert set(started) == {"mixed", "customer", "agent"}
    assert started["customer"]["partyId"] == customer_party
    pcm = recording(server, call_id_of(sid)).astype(np.int32)
    expected = {
        "mixed": np.clip(pcm[:, 0] + pcm[:, 1], -32768, 32767),
        "agent": pcm[:, 0],
        "customer": pcm[:, 1],
    }
    for channel, msg in started.items():
        first, got = stream_pcm(phone.audio[msg["stream"]])
        assert len(got) >= 8000, f"{channel}: less than a second of audio"
        want = expected[channel][first * 160 : first * 160 + len(got)]
        assert np.array_equal(got, want), f"{channel} audio differs from the recording"
    # Mixed is both parties: it differs from either channel alone where both speak.
    assert not np.array_equal(expected["mixed"], expected["agent"])
