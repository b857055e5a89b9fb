"""Fixtures for the real PostgreSQL and Redis of the development and CI machines.

PostgreSQL runs at 127.0.0.1:5432 (trust auth, database ``test``) and Redis at
127.0.0.1:6379; ``make test`` starts either when it is installed but stopped. Every test
gets a database (``callscope_t_<random>``) and a key prefix (``callscope-t-<random>``) of its
own and drops them afterwards, so the suite can run twice or side by side.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as aioredis

__all__ = ["PG", "REDIS_URL", "pg_url", "redis_prefix"]

PG = {
    "host": "127.0.0.1",
    "port": 5432,
    "user": os.environ.get("CALLSCOPE_TEST_PG_USER", "postgres"),
}
REDIS_URL = os.environ.get("CALLSCOPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    name = f"callscope_t_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(database="test", **PG)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 as {PG['user']}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://{PG['user']}@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"callscope-t-{secrets.token_hex(4)}"
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    try:
        yield prefix
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
