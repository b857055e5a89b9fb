"""Waiting on a condition, never on time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")

#: how often a condition is checked again
POLL_S = 0.05


async def until(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """``check()`` once it is truthy; an AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"not met within {timeout} s: {what}")


async def until_async(
    check: Callable[[], Awaitable[T]], timeout: float = 30.0, what: str = "", poll_s: float = 0.1
) -> T:
    """``await check()`` once it is truthy (a condition that needs a request to answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(poll_s)
    raise AssertionError(f"not met within {timeout} s: {what}")


def until_sync(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """``until`` for code without an event loop (a server's files, a subprocess's output)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(POLL_S)
    raise AssertionError(f"not met within {timeout} s: {what}")


async def until_past(timestamp: str, what: str = "the time") -> None:
    """Until the clock is past a RingCentral timestamp (``2026-01-02T03:04:05.678Z``, cut to
    the millisecond: one more ms covers the cut), e.g. a subscription's expirationTime."""
    when = datetime.fromisoformat(timestamp.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    await until(lambda: datetime.now(UTC) > when, timeout=120, what=what)
