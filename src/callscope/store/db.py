"""The async engine and schema migrations (Alembic, run in-process at start-up)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from callscope.errors import ConfigError
from callscope.logsafe import clean, redacted_url
from callscope.store.files import private_file

__all__ = [
    "FANOUT_LOCK",
    "SEED_LOCK",
    "advisory_xact_lock",
    "alembic_config",
    "check_database",
    "create_engine",
    "exclusive",
    "upgrade",
]

logger = logging.getLogger("callscope.store")

#: the PostgreSQL advisory lock held while migrating ("cs-mig")
MIGRATE_LOCK = 0x63732D6D6967
#: held while a first start seeds the demo account ("cs-seed")
SEED_LOCK = 0x63732D73656564
#: held while the outbox is fanned out ("cs-fan")
FANOUT_LOCK = 0x63732D66616E


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL mode so readers never block the writer, and its
    file is created 0600 first (:mod:`callscope.store.files`)."""
    engine = create_async_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_file(Path(database))

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

    return engine


async def check_database(url: str, *, timeout_s: float = 5.0) -> None:
    """Connect and run ``SELECT 1`` within ``timeout_s``, so that a server with a database
    it cannot use fails before it starts, in one line, rather than from inside start-up.

    Raises:
        ConfigError: the URL (password masked) and why: unparsable, unreachable, refused,
            or a database that does not exist.
    """
    try:
        engine = create_engine(url)
    except Exception as exc:  # a bad URL or driver: SQLAlchemy's ArgumentError, ImportError
        raise ConfigError(_unusable(url, exc)) from exc
    try:
        async with asyncio.timeout(timeout_s):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except TimeoutError as exc:
        raise ConfigError(_unusable(url, f"no answer within {timeout_s:g} s")) from exc
    except Exception as exc:  # the drivers' own errors (asyncpg raises OSError unwrapped)
        raise ConfigError(_unusable(url, exc)) from exc
    finally:
        await engine.dispose()


def _unusable(url: str, why: BaseException | str) -> str:
    """``<url, password masked>: cannot connect (<the driver's own words>)``, one line."""
    if isinstance(why, BaseException):
        while why.__cause__ is not None:  # SQLAlchemy's wrapper says more than its cause
            why = why.__cause__
        why = str(why) or type(why).__name__
    try:
        password = make_url(url).password
    except Exception:  # unparsable: nothing to mask beyond what redacted_url does
        password = None
    if password:
        why = why.replace(str(password), "***")
    return f"{redacted_url(url)}: cannot connect ({clean(why, 200)})"


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the migrations shipped inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files("callscope.store") / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def advisory_xact_lock(conn: AsyncConnection | AsyncSession, key: int) -> None:
    """PostgreSQL: wait for lock ``key`` and hold it until this transaction ends (nodes of a
    cluster take turns); SQLite, one node: nothing to wait for."""
    bind = conn.get_bind() if isinstance(conn, AsyncSession) else conn
    if bind.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


@asynccontextmanager
async def exclusive(engine: AsyncEngine, key: int) -> AsyncIterator[None]:
    """Hold PostgreSQL advisory lock ``key`` (nodes of a cluster doing one-time work take
    turns); on SQLite, one node, nothing to hold."""
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` using the engine's own connection."""

    def _run(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        # nodes of a cluster starting together: one migrates, the others wait and find the
        # schema current
        await advisory_xact_lock(conn, MIGRATE_LOCK)
        await conn.run_sync(_run)
    logger.debug("schema at %s", revision)
