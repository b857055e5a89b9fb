"""Revocation that bites: sockets opened with a token close when its session ends.

A REST request is checked against the database each time, so a revoked token is refused at
once. A socket (web phone, transcript, ``/ws``) is checked only when it opens; it is tracked
here by its owner's extension and OAuth session (registered first, then the session is read
once more: a revocation made between the socket's check and its registration is not missed,
since the watcher either finds the socket registered or the re-read finds the session
ended). Every node polls the ``revocations`` table
(written by the identity service: token revoked, password changed, extension disabled, JWT
credential revoked — through the API or ``callscope admin``) every ``interval_s`` (0.5 s),
and closes the matching sockets with close code 4401 and the reason. A password change or a
disabled extension also stops every subscription the extension holds (WebHook and
WebSocket): the account's admin or the user, signed in again, makes new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from callscope.background import BackgroundTask, every
from callscope.identity.model import AuthContext, aware
from callscope.identity.service import IdentityService
from callscope.store.models import Revocation

__all__ = ["CLOSE_REVOKED", "OpenSockets", "RevocationWatcher"]

logger = logging.getLogger("callscope.identity")

#: WebSocket close code for a socket whose token was revoked (private range, like 4401 = 401)
CLOSE_REVOKED = 4401
#: reasons that also stop the extension's subscriptions
_STOP_SUBSCRIPTIONS = frozenset({"password", "disabled"})


@dataclass(eq=False, slots=True)
class _Open:
    auth: AuthContext
    ws: web.WebSocketResponse
    kind: str


@dataclass(slots=True)
class OpenSockets:
    """The open sockets of every user, by extension id.

    ``session_ended`` reads whether an OAuth session was ended since its token was issued
    (:meth:`IdentityService.session_ended`)."""

    session_ended: Callable[[AuthContext], Awaitable[bool]]
    by_extension: dict[int, set[_Open]] = field(default_factory=dict)

    @contextlib.asynccontextmanager
    async def track(
        self, auth: AuthContext, ws: web.WebSocketResponse, kind: str
    ) -> AsyncIterator[None]:
        """Track ``ws`` (opened with ``auth``) while the block runs; a session ended before
        the socket was registered closes it at once (code 4401)."""
        entry = _Open(auth, ws, kind)
        self.by_extension.setdefault(auth.extension_id, set()).add(entry)
        try:
            if await self.session_ended(auth):
                logger.info("extension %s: %s opened by an ended session", auth.extension_id, kind)
                await ws.close(code=CLOSE_REVOKED, message=b"token revoked: sign in again")
            yield
        finally:
            held = self.by_extension.get(auth.extension_id)
            if held is not None:
                held.discard(entry)
                if not held:
                    del self.by_extension[auth.extension_id]

    def matching(self, row: Revocation) -> list[_Open]:
        """The sockets ``row`` ends: those of its session, or (no session named) those
        opened with a token issued before it; a sign-in after a password change keeps its
        sockets."""
        made = aware(row.created_at)
        return [
            e
            for e in self.by_extension.get(row.extension_id, ())
            if e.auth.session_id == row.session_id
            or (row.session_id is None and e.auth.issued_at <= made)
        ]

    async def close(self, row: Revocation) -> int:
        """Close the sockets ``row`` ends."""
        found = self.matching(row)
        message = f"token revoked ({row.reason}): sign in again".encode()[:120]
        await asyncio.gather(
            *(e.ws.close(code=CLOSE_REVOKED, message=message) for e in found),
            return_exceptions=True,
        )
        return len(found)


class RevocationWatcher:
    """Polls new revocations and makes them bite on this node."""

    def __init__(
        self,
        identity: IdentityService,
        sockets: OpenSockets,
        stop_subscriptions: Callable[[str, int], Awaitable[int]],
        *,
        interval_s: float = 0.5,
    ) -> None:
        self.identity = identity
        self.sockets = sockets
        self.stop_subscriptions = stop_subscriptions
        self.interval_s = interval_s
        self._last = 0
        self._task = BackgroundTask(
            "callscope-revocations",
            every(interval_s, self.poll, what="reading revocations", logger=logger),
        )

    async def start(self) -> None:
        # what was revoked before this start has no socket here to close
        self._last = await self.identity.last_revocation_id()
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def poll(self) -> None:
        for row in await self.identity.revocations_after(self._last):
            self._last = row.id
            await self.apply(row)

    async def apply(self, row: Revocation) -> None:
        closed = await self.sockets.close(row)
        stopped = 0
        if row.reason in _STOP_SUBSCRIPTIONS:
            stopped = await self.stop_subscriptions(row.account_id, row.extension_id)
        if closed or stopped:
            logger.info(
                "extension %s: %s; closed %d socket(s), stopped %d subscription(s)",
                row.extension_id,
                row.reason,
                closed,
                stopped,
            )
