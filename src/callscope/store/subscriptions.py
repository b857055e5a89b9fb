"""Subscriptions repository: the only place that queries the subscriptions table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.store.models import Subscription

__all__ = ["SubscriptionRepository"]


class SubscriptionRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, sub: Subscription) -> None:
        async with self._sessions.begin() as s:
            s.add(sub)

    async def get(self, sub_id: str) -> Subscription | None:
        async with self._sessions() as s:
            return await s.get(Subscription, sub_id)

    async def by_ws_session(self, token: str) -> Subscription | None:
        """The WebSocket subscription of a gateway session (recovery on another node)."""
        async with self._sessions() as s:
            q = select(Subscription).where(
                Subscription.ws_session == token, Subscription.transport == "WebSocket"
            )
            return (await s.execute(q.limit(1))).scalars().first()

    async def list_for(self, account_id: str, extension_id: int) -> Sequence[Subscription]:
        async with self._sessions() as s:
            q = (
                select(Subscription)
                .where(
                    Subscription.account_id == account_id,
                    Subscription.extension_id == extension_id,
                )
                .order_by(Subscription.created_at, Subscription.id)
            )
            return list((await s.execute(q)).scalars())

    async def count_for(
        self, account_id: str, extension_id: int, client_id: str, now: datetime
    ) -> int:
        """Subscriptions of one user and app that have not expired."""
        async with self._sessions() as s:
            q = select(func.count()).where(
                Subscription.account_id == account_id,
                Subscription.extension_id == extension_id,
                Subscription.client_id == client_id,
                Subscription.expires_at > now,
            )
            return int((await s.execute(q)).scalar_one())

    async def update(self, sub_id: str, **values: Any) -> Subscription | None:
        async with self._sessions.begin() as s:
            row = await s.get(Subscription, sub_id)
            if row is None:
                return None
            for k, v in values.items():
                setattr(row, k, v)
            return row

    async def delete(self, sub_id: str) -> bool:
        async with self._sessions.begin() as s:
            row = await s.get(Subscription, sub_id)
            if row is None:
                return False
            await s.delete(row)
            return True
