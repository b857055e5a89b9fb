"""The call log's queries: telephony sessions with their call and parties, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.store.models import Call, Party, TelephonySession

__all__ = ["CallLogQuery", "CallLogRepository", "LogEntry"]

#: a session, its call and its parties in creation order
LogEntry = tuple[TelephonySession, Call, list[Party]]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallLogQuery:
    """Which records of an account's call log to read.

    ``extension_id``: only calls where that extension was an agent party. ``numbers``: any of
    these texts as the caller's or the called number (as sent or in E.164). ``with_recording``:
    only ended calls whose recording is kept. ``date_from`` ≤ start time ≤ ``date_to``.
    """

    account_id: str
    date_from: datetime
    date_to: datetime
    extension_id: int | None = None
    directions: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    with_recording: bool = False
    session_id: str | None = None
    offset: int = 0
    limit: int = 100


class CallLogRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @staticmethod
    def _select(q: CallLogQuery) -> Select[TelephonySession, Call]:
        s = (
            select(TelephonySession, Call)
            .join(Call, Call.id == TelephonySession.call_id)
            .where(
                TelephonySession.account_id == q.account_id,
                Call.started_at >= q.date_from,
                Call.started_at <= q.date_to,
            )
        )
        if q.extension_id is not None:
            s = s.where(
                TelephonySession.id.in_(
                    select(Party.session_id).where(
                        Party.extension_id == q.extension_id, Party.role == "agent"
                    )
                )
            )
        if q.directions:
            s = s.where(TelephonySession.direction.in_(q.directions))
        if q.numbers:
            numbers = sorted(set(q.numbers))
            s = s.where(
                or_(
                    Call.ani.in_(numbers),
                    Call.dnis.in_(numbers),
                    # the customer party holds both numbers in E.164
                    TelephonySession.id.in_(
                        select(Party.session_id).where(
                            Party.role == "customer",
                            or_(Party.from_number.in_(numbers), Party.to_number.in_(numbers)),
                        )
                    ),
                )
            )
        if q.with_recording:
            s = s.where(
                TelephonySession.live.is_(False),
                Call.recording_purged_at.is_(None),
            )
        if q.session_id is not None:
            s = s.where(Call.session_id == q.session_id)
        return s

    async def find(self, q: CallLogQuery) -> tuple[list[LogEntry], int]:
        """One page of records, newest first, and the count of all that match."""
        s = self._select(q)
        async with self._sessions() as db:
            total = (await db.execute(select(func.count()).select_from(s.subquery()))).scalar_one()
            pairs = (
                await db.execute(
                    s.order_by(Call.started_at.desc(), Call.id).offset(q.offset).limit(q.limit)
                )
            ).all()
            entries = await _with_parties(db, [(sess, call) for sess, call in pairs])
        return entries, int(total)

    async def get(self, account_id: str, call_id: str) -> LogEntry | None:
        """The record of one call of the account (None: no such call, or another account's)."""
        async with self._sessions() as db:
            pair = (
                await db.execute(
                    select(TelephonySession, Call)
                    .join(Call, Call.id == TelephonySession.call_id)
                    .where(TelephonySession.account_id == account_id, Call.id == call_id)
                )
            ).first()
            if pair is None:
                return None
            (entry,) = await _with_parties(db, [(pair[0], pair[1])])
        return entry


async def _with_parties(
    db: AsyncSession, pairs: Sequence[tuple[TelephonySession, Call]]
) -> list[LogEntry]:
    ids = [sess.id for sess, _ in pairs]
    parties: dict[str, list[Party]] = {i: [] for i in ids}
    if ids:
        rows = await db.execute(
            select(Party).where(Party.session_id.in_(ids)).order_by(Party.created_at, Party.id)
        )
        for party in rows.scalars():
            parties[party.session_id].append(party)
    return [(sess, call, parties[sess.id]) for sess, call in pairs]
