"""SIP over TCP and TLS (RFC 3261 §18.3, §26.2): messages framed by Content-Length on a
connection the phone opens. Requests to a phone that registered over one go back on it; when
the connection closes, the registrations it carried end (as RFC 5626 flows do)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Callable
from typing import Final

__all__ = ["MAX_MESSAGE", "SipTcp", "read_message"]

logger = logging.getLogger("callscope.sip")

#: the largest SIP message read (headers, and body)
MAX_MESSAGE: Final = 64 * 1024
_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)


async def read_message(reader: asyncio.StreamReader) -> bytes | None:
    """The next message on the connection (None: closed, or a message that breaks framing).

    Keep-alive CRLFs between messages (RFC 5626) are skipped.
    """
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    head = head.lstrip(b"\r\n")
    if not head.strip():
        return b""
    found = _LENGTH.search(head)
    length = int(found.group(1)) if found else 0  # RFC 3261: required on TCP; 0 if absent
    if length > MAX_MESSAGE:
        return None
    try:
        body = await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return head + body


class SipTcp:
    """The TCP listener: each connection's messages go to ``on_message``; ``writers`` maps a
    connected phone's address to its connection (the agent sends there)."""

    def __init__(
        self,
        on_message: Callable[[bytes, tuple[str, int]], None],
        on_closed: Callable[[tuple[str, int]], None],
    ) -> None:
        self.on_message = on_message
        self.on_closed = on_closed
        self.writers: dict[tuple[str, int], asyncio.StreamWriter] = {}
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.server = await asyncio.start_server(
            self._serve, host, port, limit=MAX_MESSAGE, ssl=tls
        )

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in list(self.writers.values()):
            writer.close()

    def send(self, data: bytes, addr: tuple[str, int]) -> bool:
        """Write on ``addr``'s connection; False if it has none (send over UDP then)."""
        writer = self.writers.get(addr)
        if writer is None:
            return False
        if not writer.is_closing():
            writer.write(data)
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        peer = (str(host), int(port))
        self.writers[peer] = writer
        try:
            while (data := await read_message(reader)) is not None:
                if data:
                    self.on_message(data, peer)
        finally:
            del self.writers[peer]
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self.on_closed(peer)
