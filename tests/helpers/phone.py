"""A supervisor's web phone on the real device WebSocket, and the requests that set up and
drive supervision: monitoring groups, Supervise Call Session, the Genesys device API."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

from callscope.supervision.webphone import mic_frame, parse_listen
from tests.conftest import Server
from tests.helpers.login import request
from tests.helpers.receiver import TEL
from tests.helpers.wait import until

GROUPS = "/restapi/v1.0/account/~/call-monitoring-groups"
#: a web phone's binary frame: kind (1 audio out, 2 talk in), channel, stream, frame number
HEADER = struct.Struct("<BBHI")


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
                frame = parse_listen(msg.data)  # raises on anything but a listen frame
                self.audio.setdefault(frame.stream, {})[frame.frame] = frame.pcm

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
            await self.ws.send_bytes(mic_frame(pcm, stream=stream, counter=i))
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.session is not None:
            await self.session.close()


def tone(freq_hz: float = 1000.0, level: int = 8000) -> bytes:
    """20 ms of a sine that fits its frame: every frame of it is the same bytes."""
    t = np.arange(160) / 8000
    return (np.sin(2 * np.pi * freq_hz * t) * level).astype("<i2").tobytes()


async def extensions(server: Server) -> dict[str, dict[str, Any]]:
    _, users = await request(
        server, "GET", "/restapi/v1.0/account/~/extension", headers=server.headers
    )
    return {u["extensionNumber"]: u for u in users["records"]}


async def monitoring_group(
    server: Server, members: dict[str, list[str]], exts: dict[str, dict[str, Any]]
) -> str:
    """A group of exactly these members; the demo's own "Demo team" (Sam monitoring every
    agent) is deleted first, so that the rules are those the test sets up."""
    _, groups = await request(server, "GET", GROUPS, headers=server.headers)
    floors = 0
    for g in groups["records"]:
        if g["name"] == "Demo team":
            status, _ = await request(
                server, "DELETE", f"{GROUPS}/{g['id']}", headers=server.headers
            )
            assert status == 204
        else:
            floors += 1
    status, group = await request(  # group names are unique in an account
        server, "POST", GROUPS, headers=server.headers, json={"name": f"Floor {floors + 1}"}
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


async def genesys(server: Server, device_id: str, **body: Any) -> tuple[int, Any]:
    return await request(
        server, "POST", f"/api/v2/me/devices/{device_id}", headers=server.headers, json=body
    )


async def desk_phone_uri(server: Server, ext: dict[str, Any]) -> str:
    _, devices = await request(
        server,
        "GET",
        f"/restapi/v1.0/account/~/extension/{ext['id']}/device",
        headers=server.headers,
    )
    return f"{server.http}/api/v2/devices/{devices['records'][0]['id']}"


async def latest_state(
    phone: Phone, check: Callable[[dict[str, Any]], bool], what: str = "device state"
) -> dict[str, Any]:
    """The device's newest DeviceStateChangeMessage, once it passes ``check`` (state pushes
    travel on the device socket and may land just after the HTTP answer)."""

    def ready() -> dict[str, Any] | None:
        states = phone.states()
        return states[-1] if states and check(states[-1]) else None

    found: dict[str, Any] = await until(ready, what=what)
    return found
