"""The write-behind call-row writer on a real SQLite database, and SQLite's one writer at a
time: the row writer, the event fan-out and every other write transaction queue for the
database's write gate and never meet in SQLite's busy handler."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from callscope.events.delivery import Dispatcher, DispatcherOptions
from callscope.events.payloads import EventKind, telephony_body
from callscope.metrics import Registry
from callscope.store.db import create_engine, sessionmaker, upgrade, write_gate
from callscope.store.events import EventRepository
from callscope.store.models import (
    Account,
    Call,
    CallStatus,
    Delivery,
    OutboxEvent,
    Subscription,
)
from callscope.store.repo import CallRepository, utcnow
from callscope.store.subscriptions import SubscriptionRepository
from callscope.store.writer import CallRowWriter
from tests.helpers.rows import new_call, setup
from tests.helpers.wait import until


async def test_many_concurrent_creates_and_updates_land_in_order(tmp_path: Path) -> None:
    repo, writer, engine = await setup(tmp_path)
    try:

        async def one(i: int) -> None:
            writer.create(new_call(i))
            await asyncio.sleep(0)
            writer.update_many({f"c{i:05d}": {"frames_agent": i}})
            await writer.update(f"c{i:05d}", {"status": CallStatus.COMPLETED, "duration_ms": i})

        await asyncio.gather(*(one(i) for i in range(300)))
        rows, total = await repo.list(limit=1000)
        assert total == 300
        by_id = {r.id: r for r in rows}
        for i in range(300):
            row = by_id[f"c{i:05d}"]
            assert (row.status, row.duration_ms, row.frames_agent) == ("completed", i, i)
        assert writer.batches < 300  # batched, not one transaction per change
    finally:
        await writer.stop()
        await engine.dispose()  # type: ignore[attr-defined]


async def test_a_locked_database_delays_writes_but_loses_none(tmp_path: Path) -> None:
    repo, writer, engine = await setup(tmp_path)
    release = threading.Event()
    locked = threading.Event()

    def hold_lock() -> None:
        db = sqlite3.connect(tmp_path / "db.sqlite", timeout=1)
        db.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(20)
        db.rollback()
        db.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert await asyncio.to_thread(locked.wait, 5)
        writer.create(new_call(1))
        done = writer.update("c00001", {"status": CallStatus.COMPLETED})
        # held past the 5 s busy timeout: the first attempt fails and is retried
        await until(lambda: writer.failures >= 1, timeout=20, what="the first attempt failing")
        assert not done.done()
        release.set()
        await asyncio.wait_for(done, 30)
        row = await repo.get("c00001")
        assert row is not None
        assert row.status == "completed"
        assert writer.failures >= 1
    finally:
        release.set()
        holder.join(10)
        await writer.stop()
        await engine.dispose()  # type: ignore[attr-defined]


async def test_a_change_that_violates_a_constraint_does_not_block_the_others(
    tmp_path: Path,
) -> None:
    repo, writer, engine = await setup(tmp_path)
    try:
        writer.create(new_call(1))
        writer.create(new_call(1))  # same primary key: permanently invalid
        writer.create(new_call(2))
        await asyncio.wait_for(writer.update("c00002", {"status": CallStatus.COMPLETED}), 10)
        rows, total = await repo.list(limit=10)
        assert total == 2
        assert {r.id: r.status for r in rows} == {"c00001": "live", "c00002": "completed"}
        assert writer.dropped == 1
    finally:
        await writer.stop()
        await engine.dispose()  # type: ignore[attr-defined]


ACCOUNT = "70000001"


def event(order: int, call: int, n: int) -> OutboxEvent:
    """Telephony event ``n`` of call ``call``; ``order`` is its place among all events."""
    now = utcnow()
    body = telephony_body(
        sequence=n,
        session_id=f"call-{call}",
        telephony_session_id=f"s-{call}",
        event_time=now,
        parties=[{"id": f"p-{call}", "accountId": ACCOUNT, "order": order}],
    )
    return OutboxEvent(account_id=ACCOUNT, kind=EventKind.TELEPHONY, payload=body, created_at=now)


async def test_concurrent_writers_on_sqlite_queue_instead_of_timing_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """300 calls' rows and events through the row writer, the fan-out moving them to a
    subscription's queue, the sender deleting what it delivered, and other transactions
    beside them, all at once. busy_timeout is 0: two writers meeting in SQLite would fail
    at once with "database is locked"; they must queue for the write gate instead, and every
    event arrives, in the order it was written."""
    caplog.set_level(logging.WARNING)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", busy_timeout_s=0)
    await upgrade(engine)
    sessions = sessionmaker(engine)
    gate = write_gate(engine)
    assert gate is not None
    now = utcnow()
    async with sessions.begin() as s:
        s.add(Account(id=ACCOUNT, name="Acme", created_at=now))
        await s.flush()
        s.add(
            Subscription(
                id="sub-1",
                account_id=ACCOUNT,
                extension_id=1,
                client_id="client",
                event_filters=["/restapi/v1.0/account/~/telephony/sessions"],
                transport="WebSocket",
                status="Active",
                expires_in=3600,
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    repo = CallRepository(sessions)
    writer = CallRowWriter(repo)
    dispatcher = Dispatcher(
        EventRepository(sessions),
        SubscriptionRepository(sessions),
        Registry(),
        DispatcherOptions(poll_s=0.05, fanout_batch=50),
    )
    writer.after_commit.append(dispatcher.committed)
    got: list[dict[str, Any]] = []
    events = EventRepository(sessions)

    class Connection:
        """A WebSocket connection as the sender sees it: takes what it sends off the queue
        (a write transaction of its own, as the gateway's)."""

        async def deliver(self, batch: Sequence[Delivery]) -> int:
            got.extend(d.envelope["body"] for d in batch)
            await events.delivered([d.id for d in batch])
            await asyncio.sleep(0)
            return len(batch)

    writer.start()
    await dispatcher.start()
    dispatcher.attach("sub-1", Connection())
    calls, per_call = 300, 5
    order = iter(range(calls * per_call))

    async def one_call(i: int) -> None:
        writer.create(new_call(i))
        for n in range(1, per_call + 1):
            await asyncio.sleep(0)
            writer.write([event(next(order), i, n)], [((Call, f"c{i:05d}"), {"frames_agent": n})])
        await writer.update(f"c{i:05d}", {"status": CallStatus.COMPLETED})

    async def beside(k: int) -> None:
        """Write transactions outside the row writer, each holding its transaction across
        awaits as a request handler's would."""
        for _ in range(20):
            async with sessions.begin() as s:
                await s.execute(text("UPDATE accounts SET name = :n"), {"n": f"Acme {k}"})
                await asyncio.sleep(0)
                await s.execute(text("SELECT count(*) FROM calls"))

    try:
        await asyncio.gather(*(one_call(i) for i in range(calls)), *(beside(k) for k in range(5)))
        await until(lambda: len(got) >= calls * per_call, what="every event delivered")
        await until(
            lambda: not dispatcher.queues._acks and not dispatcher.queues._senders, what="acks"
        )
        async with sessions() as s:
            left = (await s.execute(text("SELECT count(*) FROM deliveries"))).scalar_one()
        assert left == 0
    finally:
        await dispatcher.stop()
        await writer.stop()
        await engine.dispose()
    # in the order written: the order of the row writer's queue is the order of the outbox
    assert [b["parties"][0]["order"] for b in got] == list(range(calls * per_call))
    rows, total = await CallRepository(sessionmaker(engine)).list(limit=1000)
    assert total == calls
    assert {(r.status, r.frames_agent) for r in rows} == {("completed", per_call)}
    assert writer.failures == 0
    assert gate.waits > 0  # writers did meet, and queued
    assert gate.outside == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    await engine.dispose()


async def test_every_sqlite_connection_gets_the_pragmas_and_postgresql_no_gate(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        conns = [await engine.connect() for _ in range(8)]  # past the pool's base size
        for conn in conns:
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() == 5000
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            await conn.close()
    finally:
        await engine.dispose()
    pg = create_engine("postgresql+asyncpg://u@127.0.0.1/x")
    assert write_gate(pg) is None  # PostgreSQL's transactions run side by side
    await pg.dispose()


async def test_a_guarded_change_applies_only_while_its_row_has_the_value(tmp_path: Path) -> None:
    repo, writer, engine = await setup(tmp_path)
    try:
        live = ((Call, "c00001"), "status", CallStatus.LIVE)
        # one batch: created, changed under the guard, ended, then a change the guard stops
        writer.create(new_call(1))
        writer.write([], [((Call, "c00001"), {"frames_agent": 1})], guard=live)
        writer.write([], [((Call, "c00001"), {"status": CallStatus.COMPLETED})], guard=live)
        writer.write([], [((Call, "c00001"), {"frames_agent": 2})], guard=live)
        await writer.flush()
        row = await repo.get("c00001")
        assert row is not None
        assert (row.status, row.frames_agent) == ("completed", 1)
        # a later batch, and a guard on a row that does not exist
        await writer.write([], [((Call, "c00001"), {"frames_agent": 3})], guard=live)
        await writer.write([new_call(2)], [], guard=((Call, "c09999"), "status", CallStatus.LIVE))
        row = await repo.get("c00001")
        assert row is not None
        assert row.frames_agent == 1
        assert await repo.get("c00002") is None
        assert writer.skipped == 3
    finally:
        await writer.stop()
        await engine.dispose()  # type: ignore[attr-defined]
