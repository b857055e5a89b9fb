"""Password hashing off the event loop, in a small bounded thread pool.

One scrypt hash (see :mod:`callscope.identity.crypto`) takes a few hundred ms of one core and
128 MiB. ``hashlib.scrypt`` releases the GIL, so a thread pool of ``threads`` workers lets the
event loop go on serving (``/health``, streams, supervision) while people log in, and caps
the memory at ``threads`` × 128 MiB.

Password *checks* (logins) are also bounded in number: ``threads`` run, up to
``max_queued`` wait in the pool's queue, and one more is refused at once with
:class:`ChecksBusy` (the OAuth endpoint answers 429) instead of queueing without end. Hashing
a new password (admin commands, first start) is not refused: it only queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from callscope.errors import CallscopeError
from callscope.identity.crypto import hash_password, verify_password

__all__ = ["ChecksBusy", "PasswordPool"]

logger = logging.getLogger("callscope.identity")


class ChecksBusy(CallscopeError):
    """Too many password checks are running or queued on this node; try again shortly."""

    transient = True


class PasswordPool:
    """Runs scrypt in ``threads`` worker threads; at most ``threads + max_queued`` checks.

    Attributes:
        in_flight: password checks running or queued now.
        checks_total: password checks run since start (each one scrypt).
        refused_total: checks refused because ``in_flight`` was at its bound.
    """

    def __init__(self, *, threads: int = 2, max_queued: int = 8) -> None:
        if threads < 1 or max_queued < 0:
            raise ValueError("need threads ≥ 1 and max_queued ≥ 0")
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="callscope-scrypt"
        )
        self.max_in_flight = threads + max_queued
        self.in_flight = 0
        self.checks_total = 0
        self.refused_total = 0

    async def hash(self, password: str) -> str:
        """A new stored hash of ``password`` (queues behind running checks; never refused)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, hash_password, password)

    async def verify(self, password: str, stored: str | None) -> bool:
        """Whether ``password`` matches ``stored`` (None: spend the same work, then False).

        Raises:
            ChecksBusy: ``threads + max_queued`` checks are already running or queued.
        """
        if self.in_flight >= self.max_in_flight:
            self.refused_total += 1
            raise ChecksBusy(f"{self.in_flight} password checks are running or queued")
        loop = asyncio.get_running_loop()
        future = self._executor.submit(verify_password, password, stored)
        self.in_flight += 1
        self.checks_total += 1
        # The slot is freed when the hash ends, not when the caller stops waiting: a client
        # that hangs up mid-check must not make room for another hash while its own runs.
        future.add_done_callback(lambda _: self._release_soon(loop))
        return await asyncio.wrap_future(future, loop=loop)

    def _release_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        """From the worker thread: give the slot back on the event loop's thread."""
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody counts any more
            loop.call_soon_threadsafe(self._release)

    def _release(self) -> None:
        self.in_flight -= 1

    def close(self) -> None:
        """Stop the workers; queued checks are dropped and the running ones (one scrypt each
        at most) finish first, so the threads are gone when this returns: a stopped server
        leaves no thread behind."""
        self._executor.shutdown(wait=True, cancel_futures=True)
