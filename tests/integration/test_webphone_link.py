"""A web phone's link on a real socket: a device that stops reading loses its oldest audio,
the sender waits on the socket's drain (not on a timer), and a write that makes no progress
for ``write_timeout_s`` takes the device offline."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from types import SimpleNamespace

from aiohttp import web

from callscope.supervision.links import WRITE_BUFFER_LIMIT, DeviceLink
from callscope.supervision.webphone import FRAME_BYTES, listen_frame
from tests.conftest import free_port, serve_local
from tests.helpers.wait import until


async def stalled_client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket client that completes its upgrade and then never reads again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /device HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def test_a_device_that_stops_reading_is_bounded_then_closed() -> None:
    links: list[DeviceLink] = []

    async def device(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(writer_limit=0)
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        transport.set_write_buffer_limits(high=WRITE_BUFFER_LIMIT)
        transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, WRITE_BUFFER_LIMIT
        )
        link = DeviceLink(
            SimpleNamespace(id=7, account_id="1"),  # type: ignore[arg-type]
            SimpleNamespace(id=101, extension_number="101"),  # type: ignore[arg-type]
            ws,
            queue_frames=50,
            write_timeout_s=0.5,
        )
        link.start()
        links.append(link)
        async for _ in ws:
            pass
        await link.stop()
        return ws

    port = free_port()
    runner = await serve_local(port, web.get("/device", device))
    _reader, writer = await stalled_client(port)
    try:
        link = await until(lambda: links[0] if links else None, what="the device connected")
        pcm = b"\x01\x02" * (FRAME_BYTES // 2)
        n = 0

        async def feed() -> bool:
            nonlocal n
            # 20 ms of audio at a time, as a call would give it, until the device is closed
            for _ in range(10):
                link.send_audio(listen_frame(0, 1, n, pcm), time.monotonic())
                n += 1
            await asyncio.sleep(0)
            return not link.online

        deadline = time.monotonic() + 30
        while not await feed():
            assert time.monotonic() < deadline, "the stalled device was never closed"
        # what it could not take was dropped, oldest first, within its bound
        assert link.dropped > 0
        assert len(link.audio) <= 50
        assert link.sent < n
        queued = len(link.audio)
        link.send_audio(listen_frame(0, 1, n, pcm), time.monotonic())
        assert len(link.audio) == queued  # offline: nothing more is queued
    finally:
        writer.close()
        await runner.cleanup()
