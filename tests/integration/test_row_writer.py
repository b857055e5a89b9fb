"""The write-behind call-row writer on a real SQLite database."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from callscope.store.db import create_engine, sessionmaker, upgrade
from callscope.store.models import Call, CallStatus
from callscope.store.repo import CallRepository, utcnow
from callscope.store.writer import CallRowWriter


def new_call(i: int) -> Call:
    return Call(
        id=f"c{i:05d}",
        status=CallStatus.LIVE,
        started_at=utcnow(),
        recording_path=f"/tmp/{i}.wav",
        frames_agent=0,
        frames_caller=0,
        late_frames=0,
        duplicate_frames=0,
        missing_frames=0,
        malformed_messages=0,
        upgrade_params={},
        start_metadata={},
        stop_metadata={},
    )


async def setup(tmp_path: Path) -> tuple[CallRepository, CallRowWriter, object]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await upgrade(engine)
    repo = CallRepository(sessionmaker(engine))
    writer = CallRowWriter(repo)
    writer.start()
    return repo, writer, engine


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
        await asyncio.sleep(6.5)
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
