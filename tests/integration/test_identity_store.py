"""Identity service and directory on a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

from callscope.identity.model import IdentityError
from callscope.identity.service import IdentityService
from callscope.store.db import create_engine, sessionmaker, upgrade
from callscope.store.directory import DirectoryRepository


async def test_device_status_and_identity_errors(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        await upgrade(engine)
        sessions = sessionmaker(engine)
        identity, directory = IdentityService(sessions), DirectoryRepository(sessions)
        await identity.create_account("100", "A")
        ext = await identity.create_extension("100", number="201", first_name="A", last_name="B")
        device = await identity.create_device("100", ext.id, type="WebPhone")
        rows, _ = await directory.list_devices("100", ext.id)
        assert [d.status for d in rows] == ["Offline"]
        await identity.set_device_status(device.id, "Online")
        rows, _ = await directory.list_devices("100", ext.id)
        assert [d.status for d in rows] == ["Online"]
        with pytest.raises(IdentityError, match="Online or Offline"):
            await identity.set_device_status(device.id, "Busy")
        with pytest.raises(IdentityError, match="exists already"):
            await identity.create_account("100", "again")
        with pytest.raises(IdentityError, match="use digits"):
            await identity.create_account("abc", "A")
        with pytest.raises(IdentityError, match="is taken"):
            await identity.create_extension("100", number="201", first_name="C", last_name="D")
        with pytest.raises(IdentityError, match="extension type"):
            await identity.create_extension(
                "100", number="202", first_name="C", last_name="D", type="Robot"
            )
        with pytest.raises(IdentityError, match="does not exist"):
            await identity.create_extension("999", number="202", first_name="C", last_name="D")
        await identity.create_account("200", "B")
        with pytest.raises(IdentityError, match="not in account"):
            await identity.create_device("200", ext.id)
        with pytest.raises(IdentityError, match="not in account"):
            await identity.create_jwt("200", ext.id)
        assert await directory.get_device("200", device.id) is None
        assert (await directory.get_device("100", device.id)) is not None
    finally:
        await engine.dispose()
