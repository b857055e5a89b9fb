"""WebSocket gateway sessions and their recovery buffers: the only place that queries the
``ws_sessions`` and ``ws_recovery`` tables.

A notification sent on a session moves, in one transaction, from the subscription's queue
(``deliveries``) into the session's recovery buffer with the session's next ``wsc.sequence``
(:meth:`WsSessionRepository.take`): it is never in neither. Each connection that takes a
session over bumps its ``epoch`` (:meth:`WsSessionRepository.resume`), and ``take`` checks
the epoch under the session row's lock, so a connection that was taken over — on this node
or another — can take nothing more, and everything it took before is in what the new one
replays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.events.wsg import RECOVERY_BUFFER_SIZE, replay_start
from callscope.store.models import Delivery, WsRecovery, WsSession

__all__ = ["Replay", "Superseded", "WsSessionRepository"]


class Superseded(Exception):
    """The session was taken over by another connection (or is gone)."""


@dataclass(frozen=True, slots=True)
class Replay:
    """A session as a connection takes it over."""

    epoch: int
    #: the last sequence given to a notification
    sequence: int
    #: the last sequence the client is taken to hold; ``notifications`` follow it
    start: int
    #: (sequence, notification) to send again, oldest first
    notifications: list[tuple[int, dict[str, Any]]]


class WsSessionRepository:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], buffer_size: int = RECOVERY_BUFFER_SIZE
    ) -> None:
        self._sessions = sessions
        self.buffer_size = buffer_size

    async def _row(self, s: AsyncSession, token: str) -> WsSession | None:
        q = select(WsSession).where(WsSession.token == token).with_for_update()
        return (await s.execute(q)).scalars().first()

    async def open(self, token: str, now: datetime, expires_at: datetime) -> Replay:
        """The session, stored now if it was not (a first subscription on a connection)."""
        async with self._sessions.begin() as s:
            row = await self._row(s, token)
            if row is None:
                row = WsSession(
                    token=token, sequence=0, acked=0, epoch=1, created_at=now, expires_at=expires_at
                )
                s.add(row)
            return Replay(row.epoch, row.sequence, row.acked, [])

    async def resume(
        self, token: str, client_sequence: int | None, now: datetime, expires_at: datetime
    ) -> Replay:
        """A connection takes the session over: its epoch goes up (the previous connection
        can take nothing more) and the buffered notifications the client lacks are read."""
        async with self._sessions.begin() as s:
            row = await self._row(s, token)
            if row is None:  # a subscription from before sessions were stored
                row = WsSession(
                    token=token, sequence=0, acked=0, epoch=0, created_at=now, expires_at=expires_at
                )
                s.add(row)
            row.epoch += 1
            row.expires_at = expires_at
            start = replay_start(row.sequence, row.acked, client_sequence, self.buffer_size)
            row.acked = max(row.acked, start)
            q = (
                select(WsRecovery.sequence, WsRecovery.notification)
                .where(WsRecovery.token == token, WsRecovery.sequence > start)
                .order_by(WsRecovery.sequence)
            )
            replay = [(int(seq), dict(n)) for seq, n in (await s.execute(q)).all()]
            return Replay(row.epoch, row.sequence, start, replay)

    async def take(
        self,
        token: str,
        epoch: int,
        items: Sequence[tuple[int, dict[str, Any]]],
        now: datetime,
    ) -> list[int]:
        """Move notifications from the queue (``(delivery id, notification as sent)``) into
        the session's buffer; returns their sequences. Keeps the last ``buffer_size``.

        Raises:
            Superseded: another connection took the session over; nothing was taken.
        """
        async with self._sessions.begin() as s:
            row = await self._row(s, token)
            if row is None or row.epoch != epoch:
                raise Superseded(token)
            first = row.sequence + 1
            sequences = list(range(first, first + len(items)))
            s.add_all(
                WsRecovery(token=token, sequence=seq, notification=n, created_at=now)
                for seq, (_, n) in zip(sequences, items, strict=True)
            )
            row.sequence = sequences[-1] if sequences else row.sequence
            await s.execute(delete(Delivery).where(Delivery.id.in_([d for d, _ in items])))
            await s.execute(
                delete(WsRecovery).where(
                    WsRecovery.token == token,
                    WsRecovery.sequence <= row.sequence - self.buffer_size,
                )
            )
            return sequences

    async def ack(self, token: str, acked: int) -> None:
        """The client holds everything up to ``acked``."""
        async with self._sessions.begin() as s:
            await s.execute(
                update(WsSession)
                .where(WsSession.token == token, WsSession.acked < acked)
                .values(acked=acked)
            )

    async def keep(self, token: str, expires_at: datetime) -> None:
        """The session can be recovered until ``expires_at``."""
        async with self._sessions.begin() as s:
            await s.execute(
                update(WsSession).where(WsSession.token == token).values(expires_at=expires_at)
            )

    async def forget(self, token: str, epoch: int) -> None:
        """Delete a session that has no subscription left (if no other connection holds
        it), with its buffer."""
        async with self._sessions.begin() as s:
            row = await self._row(s, token)
            if row is None or row.epoch != epoch:
                return
            await s.delete(row)
            await s.execute(delete(WsRecovery).where(WsRecovery.token == token))

    async def expire(self, now: datetime) -> int:
        """Delete the sessions that can no longer be recovered, with their buffers."""
        async with self._sessions.begin() as s:
            tokens = list(
                (
                    await s.execute(select(WsSession.token).where(WsSession.expires_at <= now))
                ).scalars()
            )
            if tokens:
                await s.execute(delete(WsRecovery).where(WsRecovery.token.in_(tokens)))
                await s.execute(delete(WsSession).where(WsSession.token.in_(tokens)))
            return len(tokens)
