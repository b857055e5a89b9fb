"""One connection of a WebSocket gateway session (spec §8.3): what the dispatcher sends the
session's subscription through.

Notifications are moved into the session's recovery buffer as they are written, and count
as delivered once a pong confirms the client read them; at most ``recoveryBufferSize`` go
unconfirmed (the rules are ``events/wsg.py``'s :class:`RecoveryWindow`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from callscope.events.delivery import Dispatcher
from callscope.events.sending import notification
from callscope.events.wsg import RecoveryWindow, notification_frame
from callscope.identity.model import AuthContext
from callscope.store.models import Delivery
from callscope.store.repo import utcnow
from callscope.store.ws_sessions import Superseded, WsSessionRepository

__all__ = ["CLOSE_TAKEN_OVER", "WsLink"]

#: close code of a connection whose session another connection recovered
CLOSE_TAKEN_OVER = 4409


@dataclass(eq=False, slots=True)
class WsLink:
    """One connection of a gateway session; the dispatcher sends its subscription's queue
    through :meth:`deliver` (``events.delivery.WsTransport``)."""

    token: str
    auth: AuthContext
    ws: web.WebSocketResponse
    #: the gateway's sessions and recovery buffers in the database
    sessions: WsSessionRepository
    #: the sender of the subscription's queue (and its delivery counters)
    dispatcher: Dispatcher
    #: runs a coroutine in the background, owned by the gateway (closes are not awaited)
    spawn: Callable[[Coroutine[Any, Any, None]], None]
    subscription_id: str | None = None
    #: the session's epoch this connection holds (0: not stored yet)
    epoch: int = 0
    window: RecoveryWindow = field(default_factory=RecoveryWindow)
    #: set when the window gains space or the connection ends
    space: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    async def send(self, frame: list[Any]) -> None:
        await self.ws.send_str(orjson.dumps(frame).decode())

    async def deliver(self, batch: Sequence[Delivery]) -> int:
        """Move the first of ``batch`` (as many as the window allows, at least one, waiting
        for confirmations if need be) into the recovery buffer and write them; returns how
        many. Raises ``ConnectionError`` when the connection is gone or was taken over."""
        while True:
            if self.closed or self.ws.closed:
                raise ConnectionResetError("the WebSocket is closed")
            space = self.window.space()
            if space:
                break
            self.space.clear()
            await self.space.wait()
        now = utcnow()
        items = [(d.id, notification(d.envelope, now)) for d in batch[:space]]
        try:
            # shielded: a stop that cuts the wait short must not cut a transaction in two
            sequences = await asyncio.shield(self.sessions.take(self.token, self.epoch, items, now))
        except Superseded:
            self.end(CLOSE_TAKEN_OVER, "the session was recovered on another connection")
            raise ConnectionResetError("the session was taken over") from None
        try:
            for seq, (_, body) in zip(sequences, items, strict=True):
                await self.send(notification_frame(self.token, seq, body))
                self.window.written(seq)
        except Exception as exc:  # they are in the buffer: a recovery sends them
            raise ConnectionResetError(f"the WebSocket failed: {type(exc).__name__}") from exc
        self.dispatcher.deliveries_total.inc(len(items), transport="WebSocket", result="sent")
        await self.confirm()
        return len(items)

    async def confirm(self) -> None:
        """Ask the client (a ping) what it has read, if something is unconfirmed."""
        if self.window.confirm_due() and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.ping(self.window.ping(asyncio.get_running_loop().time()))

    async def pong(self, payload: bytes) -> None:
        newly = self.window.pong(payload)
        if newly:
            await self.sessions.ack(self.token, self.window.acked)
            self.dispatcher.deliveries_total.inc(newly, transport="WebSocket", result="delivered")
            self.space.set()
        await self.confirm()

    def end(self, code: int, reason: str) -> None:
        """Send nothing more and close the socket (in the background: a dead peer never
        answers the close, and nobody should wait the close timeout for it)."""
        self.closed = True
        self.space.set()
        self.spawn(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=reason.encode()[:120])
