"""Reads of what is kept with a call beyond its row: the supervision audit trail and the
live assist alerts (written through the row writer by :mod:`callscope.supervision.audit`
and :mod:`callscope.calls.wallboard`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.store.models import CallAlertRow, Insight, SupervisionSessionRow

__all__ = ["AuditRepository"]


class AuditRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def supervision(self, call_id: str) -> list[SupervisionSessionRow]:
        """The call's supervision, oldest first."""
        q = (
            select(SupervisionSessionRow)
            .where(SupervisionSessionRow.call_id == call_id)
            .order_by(SupervisionSessionRow.started_at, SupervisionSessionRow.id)
        )
        async with self._sessions() as s:
            return list((await s.execute(q)).scalars())

    async def supervising(self, call_ids: Sequence[str]) -> list[SupervisionSessionRow]:
        """Who supervises these calls now (their open rows)."""
        if not call_ids:
            return []
        q = select(SupervisionSessionRow).where(
            SupervisionSessionRow.call_id.in_(list(call_ids)),
            SupervisionSessionRow.ended_at.is_(None),
        )
        async with self._sessions() as s:
            return list((await s.execute(q)).scalars())

    async def alerts(self, call_id: str) -> list[CallAlertRow]:
        q = (
            select(CallAlertRow)
            .where(CallAlertRow.call_id == call_id)
            .order_by(CallAlertRow.at_ms, CallAlertRow.id)
        )
        async with self._sessions() as s:
            return list((await s.execute(q)).scalars())

    async def alert_counts(self, call_ids: Sequence[str]) -> dict[str, int]:
        """How many alerts (not suggestions) each call raised."""
        if not call_ids:
            return {}
        q = (
            select(CallAlertRow.call_id, func.count())
            .where(CallAlertRow.call_id.in_(list(call_ids)), CallAlertRow.type == "alert")
            .group_by(CallAlertRow.call_id)
        )
        async with self._sessions() as s:
            return {str(c): int(n) for c, n in (await s.execute(q)).all()}

    async def sentiments(self, call_ids: Sequence[str]) -> dict[str, str]:
        """The overall sentiment of each call that has an insights document."""
        if not call_ids:
            return {}
        q = select(Insight.id, Insight.document).where(Insight.id.in_(list(call_ids)))
        out: dict[str, str] = {}
        async with self._sessions() as s:
            for call_id, doc in (await s.execute(q)).all():
                found = ((doc or {}).get("insights") or {}).get("Sentiment") or []
                if found and isinstance(found[0], dict) and found[0].get("value"):
                    out[str(call_id)] = str(found[0]["value"])
        return out
