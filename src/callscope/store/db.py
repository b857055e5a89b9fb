"""The async engine, its sessions and schema migrations (Alembic, run in-process at start-up).

**One writer at a time on SQLite.** SQLite admits one write transaction at a time; a
connection that wants to write while another holds the lock waits in SQLite's busy handler
(``busy_timeout``) and then fails with ``database is locked``. A write transaction here is
held across awaits (each statement is a round trip through aiosqlite's thread and the event
loop), so under load — hundreds of calls starting at once — a batch of the row writer held
the lock for seconds and the event fan-out's ``DELETE FROM outbox`` timed out behind it.
So every write transaction of a process on a SQLite database (each ``sessions.begin()``
block, and migrations) first takes that database's :class:`WriteGate`, an asyncio lock:
writers queue on the event loop, in order, for as long as it takes, and never meet in
SQLite's busy handler. ``busy_timeout`` stays, for other processes on the same file (the
``callscope`` CLI). PostgreSQL needs no gate: its transactions run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
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
from sqlalchemy.ext.asyncio.session import _AsyncSessionContextManager

from callscope.errors import ConfigError
from callscope.logsafe import clean, redacted_url
from callscope.store.files import private_file

__all__ = [
    "FANOUT_LOCK",
    "SEED_LOCK",
    "WriteGate",
    "advisory_xact_lock",
    "alembic_config",
    "check_database",
    "create_engine",
    "exclusive",
    "upgrade",
    "write_gate",
]

logger = logging.getLogger("callscope.store")

#: the PostgreSQL advisory lock held while migrating ("cs-mig")
MIGRATE_LOCK = 0x63732D6D6967
#: held while a first start seeds the demo account ("cs-seed")
SEED_LOCK = 0x63732D73656564
#: held while the outbox is fanned out ("cs-fan")
FANOUT_LOCK = 0x63732D66616E


def create_engine(url: str, *, busy_timeout_s: float = 5.0) -> AsyncEngine:
    """An async engine; SQLite gets WAL mode so readers never block the writer, its file is
    created 0600 first (:mod:`callscope.store.files`), and every pooled connection the same
    pragmas (``busy_timeout_s``: how long a write waits for another process's lock)."""
    engine = create_async_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_file(Path(database))
        busy_ms = max(0, round(busy_timeout_s * 1000))

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.close()

        gate = write_gate(engine)
        assert gate is not None

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _gated(
            conn: Connection, _cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool
        ) -> None:
            if statement.lstrip()[:6].upper() in _WRITES and not conn.info.get(_GATED):
                gate.outside += 1
                if gate.outside == 1:
                    logger.warning(
                        "a write outside SQLite's write gate (%s…): use sessions.begin()",
                        statement.strip()[:60],
                    )

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


_WRITES = frozenset({"INSERT", "UPDATE", "DELETE"})
#: set in a pooled connection's ``info`` while its transaction holds the write gate
_GATED = "callscope_write_gate"


class WriteGate:
    """The write transactions of one SQLite database in this process, one at a time, in the
    order they asked (an :class:`asyncio.Lock` is FIFO). Re-entrant within a task: a write
    transaction opened inside another by the same task does not wait for itself."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._depth = 0
        #: write transactions that had to wait for another (observability and tests)
        self.waits = 0
        #: statements that wrote without the gate (a bug: logged once)
        self.outside = 0

    async def acquire(self) -> None:
        task = asyncio.current_task()
        if self._owner is not None and self._owner is task:
            self._depth += 1
            return
        if self._lock.locked():
            self.waits += 1
        await self._lock.acquire()
        self._owner, self._depth = task, 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    @asynccontextmanager
    async def hold(self, conn: AsyncConnection) -> AsyncIterator[None]:
        """Hold the gate for a write transaction on ``conn``."""
        await self.acquire()
        info = conn.sync_connection.info if conn.sync_connection is not None else {}
        info[_GATED] = True
        try:
            yield
        finally:
            info.pop(_GATED, None)
            self.release()


_GATES: weakref.WeakKeyDictionary[Any, WriteGate] = weakref.WeakKeyDictionary()


def write_gate(engine: AsyncEngine) -> WriteGate | None:
    """The engine's :class:`WriteGate` (SQLite), or None (PostgreSQL: no gate)."""
    if engine.dialect.name != "sqlite":
        return None
    gate = _GATES.get(engine.sync_engine)
    if gate is None:
        gate = _GATES[engine.sync_engine] = WriteGate()
    return gate


class _GatedBegin(_AsyncSessionContextManager[AsyncSession]):
    """``sessions.begin()`` that takes a pooled connection, then the database's write gate.

    In that order: the holder of the gate must never wait for the pool, which hundreds of
    streams starting at once can drain (every other writer would wait behind it)."""

    __slots__ = ("gate", "holding")

    def __init__(self, session: AsyncSession, gate: WriteGate) -> None:
        super().__init__(session)
        self.gate = gate
        self.holding: contextlib.AbstractAsyncContextManager[None]

    async def __aenter__(self) -> AsyncSession:
        session = await super().__aenter__()
        try:
            conn = await session.connection()  # no statement yet: SQLite locks nothing
            self.holding = self.gate.hold(conn)
            await self.holding.__aenter__()
        except BaseException as exc:
            await super().__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return session

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        try:
            await super().__aexit__(type_, value, traceback)  # commits (in a task of its own)
        finally:
            await self.holding.__aexit__(None, None, None)


class Sessions(async_sessionmaker[AsyncSession]):
    """The session factory: ``sessions()`` to read, ``sessions.begin()`` for a transaction
    that commits (on SQLite, behind the database's :class:`WriteGate`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self.gate = write_gate(engine)

    def begin(self) -> _AsyncSessionContextManager[AsyncSession]:
        if self.gate is None:
            return super().begin()
        return _GatedBegin(self(), self.gate)


def sessionmaker(engine: AsyncEngine) -> Sessions:
    return Sessions(engine)


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

    gate = write_gate(engine)
    async with (
        engine.connect() as conn,
        gate.hold(conn) if gate else contextlib.nullcontext(),
        conn.begin(),
    ):
        # nodes of a cluster starting together: one migrates, the others wait and find the
        # schema current
        await advisory_xact_lock(conn, MIGRATE_LOCK)
        await conn.run_sync(_run)
    logger.debug("schema at %s", revision)
