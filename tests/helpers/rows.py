"""Call rows on a real SQLite database without a server: a live call row and a migrated
database with a started write-behind row writer."""

from __future__ import annotations

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
