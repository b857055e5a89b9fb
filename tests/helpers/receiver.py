"""A WebHook receiver on 127.0.0.1, subscribing it, and the demo account's agents."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from tests.conftest import Server, free_port, serve_local
from tests.helpers.login import request

SUB = "/restapi/v1.0/subscription"
TEL = "/restapi/v1.0/account/~/telephony/sessions"
LIFECYCLE = ["Setup", "Proceeding", "Answered", "Disconnected"]


class Receiver:
    """A WebHook target on 127.0.0.1 that records every notification with its headers.

    ``mode``: ``ok`` answers 200; ``fail`` answers 500; ``hangup`` reads the request and
    closes without an answer (as the vendor's sample receiver does); ``hold`` keeps every
    notification unanswered until ``gate`` is set, then answers 200. Notifications are kept
    when answered 200, hung up on or held; handshakes are always echoed.
    """

    def __init__(self, port: int | None = None, mode: str = "ok") -> None:
        self.port = port or free_port()
        self.mode = mode
        self.notifications: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.refused = 0
        self.gate = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self._raw: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        token = request.headers.get("Validation-Token")
        if token is not None:
            return web.json_response({}, headers={"Validation-Token": token})
        body = await request.json()
        if self.mode == "fail":
            self.refused += 1
            return web.Response(status=500)
        self.notifications.append(body)
        self.headers.append(dict(request.headers))
        if self.mode == "hold":
            await self.gate.wait()
        return web.json_response({})

    async def _hangup(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Plain HTTP by hand: answer the handshake, read notifications and close."""
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        lines = head.split("\r\n")
        fields = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
        body = await reader.readexactly(int(fields.get("content-length", "0")))
        if "validation-token" in fields:
            token = fields["validation-token"]
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                + f"Validation-Token: {token}\r\n\r\n{{}}".encode()
            )
            await writer.drain()
        else:
            self.notifications.append(json.loads(body))
            self.headers.append(fields)
        writer.close()

    async def start(self) -> Receiver:
        if self.mode == "hangup":
            server = await asyncio.start_server(self._hangup, "127.0.0.1", self.port)
            self._raw = server
            return self
        self.runner = await serve_local(self.port, web.post("/hook", self.handle))
        return self

    async def stop(self) -> None:
        if self._raw is not None:
            self._raw.close()
            await self._raw.wait_closed()
            self._raw = None
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def telephony(self, session_id: str | None = None) -> list[dict[str, Any]]:
        return [
            n
            for n in self.notifications
            if "/telephony/sessions" in n["event"]
            and (session_id is None or n["body"]["telephonySessionId"] == session_id)
        ]

    def sessions(self) -> dict[str, list[str]]:
        """telephonySessionId → the status codes of its events, in arrival order."""
        out: dict[str, list[str]] = {}
        for n in self.telephony():
            out.setdefault(n["body"]["telephonySessionId"], []).append(
                n["body"]["parties"][0]["status"]["code"]
            )
        return out


VERIFICATION = "vt-1"


async def subscribe(
    server: Server, address: str, *filters: str, token: str | None = VERIFICATION
) -> dict[str, Any]:
    mode: dict[str, Any] = {"transportType": "WebHook", "address": address}
    if token:
        mode["verificationToken"] = token
    status, sub = await request(
        server,
        "POST",
        SUB,
        headers=server.headers,
        json={"eventFilters": list(filters or (TEL,)), "deliveryMode": mode},
    )
    assert status == 200, sub
    return sub  # type: ignore[no-any-return]


async def agent(server: Server, number: str) -> dict[str, Any]:
    _, users = await request(
        server, "GET", "/restapi/v1.0/account/~/extension", headers=server.headers
    )
    return next(u for u in users["records"] if u["extensionNumber"] == number)  # type: ignore[no-any-return]
