"""The audit trail of supervision: who listened to, coached or barged into which call, and
when. Made from what the supervision service already emits (no hook in it): each web
phone's ``DeviceStateChangeMessage`` is written to the outbox with its state change, and
this recorder reads those rows as the row writer commits them.

A device's state names the call it supervises (``telephonySessionId``) and the mode
(``activeMode``). Each change closes the device's open row (``ended_at``) and, while it
still supervises a call, opens a new one: one ``supervision_sessions`` row per supervisor,
call and mode. A state that names no call closes the open row.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callscope.calls.telephony import call_id_of
from callscope.events.payloads import EventKind
from callscope.store.models import Base, OutboxEvent, SupervisionSessionRow
from callscope.store.repo import utcnow
from callscope.store.writer import CallRowWriter

__all__ = ["SupervisionAudit"]

logger = logging.getLogger("callscope.supervision")


@dataclass(frozen=True, slots=True)
class _Open:
    row_id: str
    call_id: str
    mode: str


def _monitoring(device: dict[str, Any]) -> tuple[str, str] | None:
    """(call id, mode) a device's state says it supervises now, or None."""
    state = device.get("supervisorMonitoringState")
    if not isinstance(state, dict):
        return None
    session = state.get("telephonySessionId")
    mode = state.get("activeMode")
    if not session or not mode or device.get("deviceState") != "Active":
        return None
    return call_id_of(str(session)), str(mode)


class SupervisionAudit:
    """Register :meth:`committed` in ``rows.after_commit``.

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
        self.open: dict[int, _Open] = {}  # device id → its open row
        self._tasks: set[asyncio.Task[None]] = set()

    def committed(self, rows: Sequence[Base]) -> None:
        for row in rows:
            if isinstance(row, OutboxEvent) and row.kind == EventKind.DEVICE:
                for device in row.payload.get("devices", []):
                    self.device_state(row.account_id, row.extension_id, device, row.created_at)

    def device_state(
        self,
        account_id: str,
        owner: int | None,
        device: dict[str, Any],
        at: datetime | None = None,
    ) -> None:
        try:
            device_id = int(device["id"])
        except (KeyError, TypeError, ValueError):
            return
        now = at or utcnow()
        current = self.open.get(device_id)
        wanted = _monitoring(device)
        if current is not None and wanted == (current.call_id, current.mode):
            return
        if current is not None:
            del self.open[device_id]
            self.rows.update(current.row_id, {"ended_at": now}, model=SupervisionSessionRow)
            self._changed(current.call_id)
        if wanted is None or owner is None:
            return
        call_id, mode = wanted
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
        self.open[device_id] = _Open(row.id, call_id, mode)
        self.rows.create(row)
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
