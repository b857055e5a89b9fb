"""Write-behind for live-call rows: one task applies queued writes in one transaction, in order.

Why: SQLite admits one writer at a time. Hundreds of calls starting together, each with its
own INSERT on its own pooled connection, queue on the database lock ("database is locked")
and stall their streams while they wait. Ingest never waits on the database: it enqueues, and
this task applies everything queued so far in a single transaction, in few statements
(:mod:`callscope.store.batch`). Order is kept, so a call's update always follows its insert.
A change may be guarded (it applies only while its telephony session is live): whoever
ends a session first — this node, or a survivor reaping it — writes its last events, once.
A batch that fails for a transient reason is retried with backoff; one that fails
permanently (a constraint violation) is split, and only the offending change is dropped
(and logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from callscope.store.batch import Change, RowKey
from callscope.store.models import Base, Call
from callscope.store.repo import CallRepository

__all__ = ["CallRowWriter", "RowKey"]

logger = logging.getLogger("callscope.store")


def _transient(exc: BaseException) -> bool:
    """Worth retrying: a locked or unreachable database. Anything else (a constraint
    violation, a conflicting identity, bad data) fails the same way every time."""
    return isinstance(exc, OperationalError | InterfaceError | DisconnectionError | OSError)


@dataclass(slots=True)
class _Op:
    change: Change = field(default_factory=Change)
    done: asyncio.Future[None] | None = None


class CallRowWriter:
    """Queues call inserts and updates; :meth:`run` applies them batch by batch.

    Args:
        calls: the repository that owns the queries.
        max_batch: most operations applied in one transaction.
        retry_max_s: cap of the backoff between attempts of a failed batch.
    """

    def __init__(
        self, calls: CallRepository, *, max_batch: int = 1000, retry_max_s: float = 5.0
    ) -> None:
        self._calls = calls
        self._queue: list[_Op] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._max_batch = max_batch
        self._retry_max_s = retry_max_s
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.failures = 0
        self.dropped = 0
        #: guarded changes not applied (their session had ended)
        self.skipped = 0
        #: called with the rows each committed batch inserted (the event dispatcher wakes
        #: when they include outbox events)
        self.after_commit: list[Callable[[Sequence[Base]], None]] = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="callscope-row-writer")

    async def stop(self) -> None:
        """Apply everything queued, then stop."""
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def create(self, row: Base) -> None:
        self._put(_Op(Change(creates=(row,))))

    def write(
        self,
        creates: Sequence[Base],
        updates: Sequence[tuple[RowKey, dict[str, Any]]] = (),
        *,
        guard: tuple[RowKey, str, Any] | None = None,
    ) -> asyncio.Future[None]:
        """Queue inserts and updates that must commit together (a state change and the
        outbox events it causes): they are never split across transactions. With a
        ``guard`` (row, attribute, value) they apply only if that row's attribute still has
        that value when their transaction runs, else not at all. The future resolves once
        they are committed or skipped (await it to read your own write)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(_Op(Change(tuple(creates), dict(updates), guard), done))
        return done

    def update(
        self,
        call_id: str,
        values: dict[str, Any],
        *,
        model: type[Base] = Call,
        creates: Sequence[Base] = (),
    ) -> asyncio.Future[None]:
        """Queue an update of one row (with ``creates`` in the same transaction); the future
        resolves once it is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(_Op(Change(tuple(creates), {(model, call_id): values}), done))
        return done

    def update_many(self, changes: dict[str, dict[str, Any]], *, model: type[Base] = Call) -> None:
        if changes:
            self._put(_Op(Change(updates={(model, k): v for k, v in changes.items()})))

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        await self._idle.wait()

    def _put(self, op: _Op) -> None:
        self._queue.append(op)
        self._idle.clear()
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self._max_batch]
                skipped = await self._apply_with_retry(batch)
                del self._queue[: len(batch)]
                for op in batch:
                    if op.done is not None and not op.done.done():
                        op.done.set_result(None)
                if self.after_commit:
                    created = [
                        row
                        for op in batch
                        if id(op.change) not in skipped
                        for row in op.change.creates
                    ]
                    for callback in self.after_commit:
                        callback(created)
            self._idle.set()

    async def _apply(self, batch: list[_Op]) -> set[int]:
        """Apply a batch; returns the ``id()`` of the changes their guard skipped."""
        skipped = await self._calls.apply([op.change for op in batch])
        self.skipped += len(skipped)
        for change in skipped:
            if change.guard is not None:
                (model, key), attribute, value = change.guard
                logger.info(
                    "a change to %s %s was not written: its %s is no longer %r",
                    model.__tablename__,
                    key,
                    attribute,
                    value,
                )
        return {id(change) for change in skipped}

    async def _apply_with_retry(self, batch: list[_Op]) -> set[int]:
        """Transient failures (a locked database) are retried with backoff; a permanent one
        (a constraint violation) must not block everything queued behind it, so the batch
        is then applied change by change and only the offending change is dropped."""
        delay = 0.05
        while True:
            try:
                skipped = await self._apply(batch)
                self.batches += 1
                return skipped
            except Exception as exc:
                self.failures += 1
                if not _transient(exc):
                    logger.exception("a batch of %d row change(s) cannot be written", len(batch))
                    return await self._apply_one_by_one(batch)
                logger.exception("writing %d row change(s) failed; retrying", len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)

    async def _apply_one_by_one(self, batch: list[_Op]) -> set[int]:
        skipped: set[int] = set()
        for op in batch:
            delay = 0.05
            while True:
                try:
                    skipped |= await self._apply([op])
                    break
                except Exception as exc:
                    if not _transient(exc):
                        skipped.add(id(op.change))  # nothing of it was written
                        self.dropped += 1
                        logger.error(
                            "dropped a row change that cannot be written (%s): %r", exc, op
                        )
                        break
                    logger.exception("writing a row change failed; retrying")
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._retry_max_s)
        return skipped
