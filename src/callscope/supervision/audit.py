"""The audit trail of supervision: who listened to, coached or barged into which call, and
when.

The supervision shell tells this recorder what its core decided: a supervision attached
(:meth:`SupervisionAudit.started`), its mode changed, or it ended. One ``supervision_sessions``
row per supervisor device, call and mode: a device may supervise several calls at once, each
with a row of its own.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from callscope.store.models import SupervisionSessionRow
from callscope.store.repo import utcnow
from callscope.store.writer import CallRowWriter

__all__ = ["SupervisionAudit"]

logger = logging.getLogger("callscope.supervision")


@dataclass(frozen=True, slots=True)
class _Open:
    row_id: str
    call_id: str
    mode: str


class SupervisionAudit:
    """Set as the supervision service's ``audit``.

    Args:
        rows: the row writer (the audit rows are written through it too).
        on_change: called with the call id whenever who supervises it changes (the
            wallboard's "who is monitoring it").
    """

    def __init__(
        self,
        rows: CallRowWriter,
        on_change: Callable[[str], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.rows = rows
        self.on_change = on_change
        self.open: dict[tuple[int, str], _Open] = {}  # (device id, call id) → its open row
        self._tasks: set[asyncio.Task[None]] = set()

    def started(self, account_id: str, owner: int, device_id: int, call_id: str, mode: str) -> None:
        """A supervision attached (or changed its mode): open its row."""
        key = (device_id, call_id)
        current = self.open.get(key)
        if current is not None and current.mode == mode:
            return
        now = utcnow()
        if current is not None:
            self.rows.update(current.row_id, {"ended_at": now}, model=SupervisionSessionRow)
        row = SupervisionSessionRow(
            id=uuid.uuid4().hex,
            call_id=call_id,
            account_id=account_id,
            supervisor_extension_id=owner,
            device_id=device_id,
            mode=mode,
            started_at=now,
            ended_at=None,
        )
        self.open[key] = _Open(row.id, call_id, mode)
        self.rows.create(row)
        self._changed(call_id)

    def ended(self, device_id: int, call_id: str) -> None:
        """A supervision ended: close its row."""
        current = self.open.pop((device_id, call_id), None)
        if current is None:
            return
        self.rows.update(current.row_id, {"ended_at": utcnow()}, model=SupervisionSessionRow)
        self._changed(call_id)

    def _changed(self, call_id: str) -> None:
        if self.on_change is None:
            return
        task = asyncio.get_running_loop().create_task(self.on_change(call_id))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("supervision audit: %s", task.exception())
