"""Background tasks of the server: one named task with a start and a stop that waits for it,
and the loop of a job that runs every so often and outlives its own failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

__all__ = ["BackgroundTask", "every"]


class BackgroundTask:
    """``run()`` in one named task from :meth:`start` until :meth:`stop`."""

    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the task (a second start while it runs does nothing)."""
        if not self.running:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task and wait until it has ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def every(
    interval_s: float,
    work: Callable[[], Awaitable[object]],
    *,
    what: str,
    logger: logging.Logger,
    first_at_once: bool = False,
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A loop running ``work`` every ``interval_s`` (the first time at once, or after one
    interval); a failing round is logged as ``what`` failing and the next one runs."""

    async def loop() -> None:
        if not first_at_once:
            await asyncio.sleep(interval_s)
        while True:
            try:
                await work()
            except Exception:  # a database hiccup must not end the job
                logger.exception("%s failed; it runs again in %g s", what, interval_s)
            await asyncio.sleep(interval_s)

    return loop
