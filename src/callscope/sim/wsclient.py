"""A small asyncio WebSocket client over :mod:`callscope.sim.wsframes`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

from callscope.errors import UpgradeFailed, UpgradeRefused
from callscope.sim.wsframes import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    accept_key,
    encode_close,
    encode_frame,
)

__all__ = ["WebSocketClient", "connect"]


class WebSocketClient:
    """An open connection. ``send_text`` queues a frame; ``drain`` waits for the socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._frames = FrameReader()
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed = asyncio.Event()
        self.received_text: list[str] = []
        #: called with every text message (the first 100 are also kept in received_text)
        self.on_text: Callable[[bytes], None] | None = None
        #: called with every binary message (none are kept)
        self.on_binary: Callable[[bytes], None] | None = None
        self._task = asyncio.create_task(self._read_loop())

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    break
                for frame in self._frames.feed(data):
                    if frame.opcode == OP_CLOSE:
                        self.close_code = frame.close_code or 1005
                        self.close_reason = frame.close_reason
                        with contextlib.suppress(ConnectionError, RuntimeError):
                            self._writer.write(encode_close(self.close_code))
                        return
                    if frame.opcode == OP_PING:
                        self._writer.write(encode_frame(OP_PONG, frame.payload))
                    elif frame.opcode == OP_BINARY:
                        if self.on_binary is not None:
                            self.on_binary(frame.payload)
                    elif frame.opcode == OP_TEXT:
                        if self.on_text is not None:
                            self.on_text(frame.payload)
                        if len(self.received_text) < 100:
                            self.received_text.append(frame.payload.decode("utf-8", "replace"))
        except (ConnectionError, ValueError):
            pass
        finally:
            if self.close_code is None:
                self.close_code = 1006  # closed without a close frame (RFC 6455 §7.1.5)
            self.closed.set()

    @property
    def is_closed(self) -> bool:
        return self.closed.is_set() or self._writer.is_closing()

    def send_text(self, data: bytes) -> None:
        self._writer.write(encode_frame(OP_TEXT, data))

    def send_raw(self, opcode: int, data: bytes) -> None:
        self._writer.write(encode_frame(opcode, data))

    @property
    def transport(self) -> asyncio.WriteTransport:
        """The socket transport, for load generators that write pre-encoded frames."""
        transport: asyncio.WriteTransport = self._writer.transport
        return transport

    async def drain(self) -> None:
        await self._writer.drain()

    async def close(self, code: int = 1000, reason: str = "", *, timeout_s: float = 5.0) -> None:
        """Close handshake: send Close, wait for the server's, then close the socket."""
        if not self.closed.is_set():
            with contextlib.suppress(ConnectionError, RuntimeError):
                self._writer.write(encode_close(code, reason))
                await self._writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closed.wait(), timeout_s)
        await self._shutdown()

    def abort(self) -> None:
        """Vanish: drop the TCP connection with no close frame."""
        transport = self._writer.transport
        transport.abort()
        self._task.cancel()

    async def _shutdown(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


async def connect(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout_s: float = 10.0,
    receive_buffer: int | None = None,
) -> WebSocketClient:
    """Open a WebSocket to ``ws://`` or ``wss://`` ``url``.

    ``receive_buffer`` sets SO_RCVBUF before connecting and bounds what the client buffers
    unread (a slow reader that the sender feels at once).

    Raises:
        UpgradeRefused: the server answered 4xx (final).
        UpgradeFailed: 5xx, a bad handshake or a network error (worth retrying).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise UpgradeRefused(0, f"not a ws:// or wss:// URL: {url}")
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    ctx = ssl.create_default_context() if parts.scheme == "wss" else None
    try:
        if receive_buffer is None:
            opened = asyncio.open_connection(parts.hostname, port, ssl=ctx, limit=1 << 20)
        else:  # a small receive window (set before connecting), for slow-reader tests
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, port))
            opened = asyncio.open_connection(sock=sock, ssl=ctx, limit=receive_buffer)
        reader, writer = await asyncio.wait_for(opened, timeout_s)
    except (OSError, TimeoutError) as exc:
        raise UpgradeFailed(f"cannot connect to {parts.hostname}:{port}: {exc}") from exc
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {parts.hostname}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "User-Agent: callscope-simulator",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout_s)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        writer.close()
        raise UpgradeFailed(f"no upgrade answer from {parts.hostname}:{port}: {exc}") from exc
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(status_line.split(" ", 2)[1])
    except (IndexError, ValueError) as exc:
        writer.close()
        raise UpgradeFailed(f"bad status line {status_line!r}") from exc
    resp = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        resp[name.strip().lower()] = value.strip()
    if status != 101:
        body = b""
        length = int(resp.get("content-length", "0") or 0)
        if 0 < length <= 65536:
            with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError):
                body = await asyncio.wait_for(reader.readexactly(length), timeout_s)
        writer.close()
        text = body.decode("utf-8", "replace")
        if 400 <= status < 500:
            raise UpgradeRefused(status, text)
        raise UpgradeFailed(f"upgrade failed with HTTP {status}: {text[:200]}", status=status)
    if resp.get("sec-websocket-accept") != accept_key(key):
        writer.close()
        raise UpgradeFailed("server answered 101 with a wrong Sec-WebSocket-Accept")
    return WebSocketClient(reader, writer)
