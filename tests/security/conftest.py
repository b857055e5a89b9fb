"""Fixtures of the security tests: an identity service on a real SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.identity.passwords import PasswordPool
from callscope.identity.service import IdentityService
from callscope.store.db import create_engine, sessionmaker, upgrade
from callscope.store.models import App, Extension

PASSWORD = "correct horse battery"


@dataclass
class Directory:
    """One account (``100``) with one user (``ann@acme.test``, ext 201) and one app."""

    identity: IdentityService
    sessions: async_sessionmaker[AsyncSession]
    app: App
    ext: Extension


@pytest.fixture
async def directory(tmp_path: Path) -> AsyncIterator[Directory]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    sessions = sessionmaker(engine)
    identity = IdentityService(sessions, passwords=PasswordPool(threads=2, max_queued=8))
    try:
        await upgrade(engine)
        await identity.create_account("100", "Acme")
        ext = await identity.create_extension(
            "100",
            number="201",
            first_name="Ann",
            last_name="Admin",
            email="ann@acme.test",
            password=PASSWORD,
        )
        app, _ = await identity.create_app("100", "acme app")
        yield Directory(identity, sessions, app, ext)
    finally:
        identity.close()
        await engine.dispose()
