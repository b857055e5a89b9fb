"""WebSocket gateway sessions in the database (store/ws_sessions.py): notifications move
from the queue into the recovery buffer with their sequence, a session taken over by
another connection fences the old one out, and what a recovery sends again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.store.db import create_engine, sessionmaker, upgrade
from callscope.store.models import Delivery, WsRecovery
from callscope.store.repo import utcnow
from callscope.store.ws_sessions import Superseded, WsSessionRepository

TOKEN = "wsc-test"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ws.db'}")
    await upgrade(engine)
    try:
        yield sessionmaker(engine)
    finally:
        await engine.dispose()


async def queue(db: async_sessionmaker[AsyncSession], n: int) -> list[tuple[int, dict[str, Any]]]:
    """``n`` deliveries queued for a subscription: (delivery id, notification)."""
    rows = [
        Delivery(subscription_id="sub-1", envelope={"uuid": f"u-{i}"}, created_at=utcnow())
        for i in range(n)
    ]
    async with db.begin() as s:
        s.add_all(rows)
    return [(d.id, {"uuid": d.envelope["uuid"]}) for d in rows]


async def count(db: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with db() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_sent_notifications_leave_the_queue_for_the_buffer_in_order(
    db: async_sessionmaker[AsyncSession],
) -> None:
    repo = WsSessionRepository(db, buffer_size=3)
    later = utcnow() + timedelta(seconds=180)
    opened = await repo.open(TOKEN, utcnow(), later)
    assert (opened.epoch, opened.sequence) == (1, 0)
    items = await queue(db, 5)
    assert await repo.take(TOKEN, opened.epoch, items[:2], utcnow()) == [1, 2]
    assert await repo.take(TOKEN, opened.epoch, items[2:], utcnow()) == [3, 4, 5]
    assert await count(db, Delivery) == 0  # never in neither: moved in one transaction
    assert await count(db, WsRecovery) == 3  # the last three kept

    await repo.ack(TOKEN, 4)
    resumed = await repo.resume(TOKEN, None, utcnow(), later)
    assert (resumed.epoch, resumed.sequence, resumed.start) == (2, 5, 4)
    assert resumed.notifications == [(5, {"uuid": "u-4"})]
    # the client may say it lost more: what is still kept comes again
    again = await repo.resume(TOKEN, 1, utcnow(), later)
    assert [seq for seq, _ in again.notifications] == [3, 4, 5]
    assert again.start == 2  # older ones are gone


async def test_a_connection_taken_over_can_take_nothing_more(
    db: async_sessionmaker[AsyncSession],
) -> None:
    repo = WsSessionRepository(db)
    later = utcnow() + timedelta(seconds=180)
    old = await repo.open(TOKEN, utcnow(), later)
    items = await queue(db, 2)
    new = await repo.resume(TOKEN, None, utcnow(), later)
    with pytest.raises(Superseded):
        await repo.take(TOKEN, old.epoch, items, utcnow())
    assert await count(db, Delivery) == 2  # still queued
    assert await repo.take(TOKEN, new.epoch, items, utcnow()) == [1, 2]
    await repo.forget(TOKEN, old.epoch)  # the old connection's clean-up leaves it alone
    assert (await repo.resume(TOKEN, None, utcnow(), later)).sequence == 2


async def test_expired_sessions_go_with_their_buffers(
    db: async_sessionmaker[AsyncSession],
) -> None:
    repo = WsSessionRepository(db)
    opened = await repo.open(TOKEN, utcnow(), utcnow() + timedelta(seconds=180))
    await repo.take(TOKEN, opened.epoch, await queue(db, 2), utcnow())
    assert await repo.expire(utcnow()) == 0
    await repo.keep(TOKEN, utcnow() - timedelta(seconds=1))
    assert await repo.expire(utcnow()) == 1
    assert await count(db, WsRecovery) == 0
    fresh = await repo.resume(TOKEN, None, utcnow(), utcnow() + timedelta(seconds=180))
    assert (fresh.sequence, fresh.notifications) == (0, [])
