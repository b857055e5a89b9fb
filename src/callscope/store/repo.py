"""Repositories: the only place that builds queries. Callers get plain model objects."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.digits import is_digits
from callscope.store.batch import Change, apply_changes
from callscope.store.models import (
    Call,
    CallStatus,
    ServerKey,
    StreamingProfile,
    TranscriptStatus,
    UtteranceRow,
)

logger = logging.getLogger("callscope.store")

__all__ = ["CallRepository", "ProfileRepository", "utcnow"]


#: how ``CallRepository.list`` may order the calls
ORDERS: dict[str, tuple[Any, ...]] = {
    "newest": (Call.started_at.desc(), Call.id),
    "oldest": (Call.started_at.asc(), Call.id),
    "longest": (Call.duration_ms.desc(), Call.started_at.desc(), Call.id),
    "shortest": (Call.duration_ms.asc(), Call.started_at.desc(), Call.id),
}
#: what people write in phone numbers besides digits
_NUMBER_CHARS = " -().+/"


def _digits(text: str) -> str:
    """The digits of a phone number as written (E.164, spaces, dashes, brackets, dots), or
    "" if it is not one (other characters, or fewer than 3 digits)."""
    if not text or any(not (is_digits(c) or c in _NUMBER_CHARS) for c in text):
        return ""
    digits = "".join(c for c in text if is_digits(c))
    return digits if len(digits) >= 3 else ""


def _stored_digits(column: Any) -> Any:
    for c in _NUMBER_CHARS:
        column = func.replace(column, c, "")
    return column


def _number_matches(number: str) -> Any:
    """The caller's or the called number ends with these digits (a national number finds
    its E.164 form); a number with no digits matches as written."""
    digits = _digits(number)
    if not digits:
        return or_(Call.ani == number, Call.dnis == number)
    like = "%" + digits
    return or_(_stored_digits(Call.ani).like(like), _stored_digits(Call.dnis).like(like))


def utcnow() -> datetime:
    return datetime.now(UTC)


class CallRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def update(self, call_id: str, **values: Any) -> None:
        async with self._sessions.begin() as s:
            row = await s.get(Call, call_id)
            if row is None:
                raise KeyError(call_id)
            for k, v in values.items():
                setattr(row, k, v)

    async def apply(self, changes: Sequence[Change]) -> list[Change]:
        """Apply ``changes`` in order, in one transaction, in few statements (see
        store.batch). Returns the changes their guard skipped."""
        async with self._sessions.begin() as s:
            return await apply_changes(s, changes)

    async def get(self, call_id: str) -> Call | None:
        async with self._sessions() as s:
            return await s.get(Call, call_id)

    async def list(
        self,
        *,
        account_id: str | None = None,
        status: str | None = None,
        agent_id: str | None = None,
        number: str | None = None,
        agent_ids: set[str] | None = None,
        search: str | None = None,
        search_agents: Sequence[str] = (),
        started_from: datetime | None = None,
        started_before: datetime | None = None,
        order: str = "newest",
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[Sequence[Call], int]:
        """Calls newest first (or ``order``: oldest, longest, shortest), with the total
        count for paging.

        ``agent_ids`` limits the calls to those agents' (None: no limit); ``number`` matches
        a number written in any common format (its digits, at the end of the stored
        number's); ``search`` matches a number or agent id, or words of the transcript
        (case-insensitive substring), or is the name or extension of ``search_agents``."""
        q = select(Call)
        if account_id is not None:
            q = q.where(Call.account_ref == account_id)
        if status:
            q = q.where(Call.status == status)
        if agent_id:
            q = q.where(Call.agent_id == agent_id)
        if number:
            q = q.where(_number_matches(number))
        if started_from is not None:
            q = q.where(Call.started_at >= started_from)
        if started_before is not None:
            q = q.where(Call.started_at < started_before)
        if agent_ids is not None:
            q = q.where(Call.agent_id.in_(sorted(agent_ids)))
        if search:
            like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            q = q.where(
                or_(
                    Call.ani.ilike(like, escape="\\"),
                    Call.dnis.ilike(like, escape="\\"),
                    Call.agent_id == search,
                    Call.agent_id.in_(list(search_agents)),
                    Call.ringcx_call_id == search,
                    *([_number_matches(search)] if _digits(search) else []),
                    Call.id.in_(
                        select(UtteranceRow.call_id).where(
                            UtteranceRow.text.ilike(like, escape="\\")
                        )
                    ),
                )
            )
        async with self._sessions() as s:
            total = (await s.execute(select(func.count()).select_from(q.subquery()))).scalar_one()
            rows = (
                await s.execute(
                    q.order_by(*ORDERS.get(order, ORDERS["newest"])).offset(offset).limit(limit)
                )
            ).scalars()
            return list(rows), int(total)

    async def by_ringcx_call_id(self, account_id: str, ringcx_call_id: str) -> Call | None:
        """The account's newest call with this RingCX call id (a transfer keeps the id)."""
        q = (
            select(Call)
            .where(Call.account_ref == account_id, Call.ringcx_call_id == ringcx_call_id)
            .order_by(Call.started_at.desc())
            .limit(1)
        )
        async with self._sessions() as s:
            return (await s.execute(q)).scalars().first()

    async def first_with_ringcx_call_id(
        self, account_id: str, ringcx_call_id: str, started_from: datetime
    ) -> Call | None:
        """The account's first call with this RingCX call id started at or after a time."""
        q = (
            select(Call)
            .where(
                Call.account_ref == account_id,
                Call.ringcx_call_id == ringcx_call_id,
                Call.started_at >= started_from,
            )
            .order_by(Call.started_at)
            .limit(1)
        )
        async with self._sessions() as s:
            return (await s.execute(q)).scalars().first()

    async def live(self, node_id: str | None = None) -> Sequence[Call]:
        """Calls stored as live: all, or those of cluster node ``node_id`` and of no node."""
        async with self._sessions() as s:
            q = select(Call).where(Call.status == CallStatus.LIVE)
            if node_id is not None:
                q = q.where(or_(Call.node_id == node_id, Call.node_id.is_(None)))
            return list((await s.execute(q)).scalars())

    async def utterances(self, call_id: str) -> Sequence[UtteranceRow]:
        """A call's stored final utterances in time order."""
        async with self._sessions() as s:
            q = (
                select(UtteranceRow)
                .where(UtteranceRow.call_id == call_id)
                .order_by(UtteranceRow.start_ms, UtteranceRow.seq)
            )
            return list((await s.execute(q)).scalars())

    async def delete_utterances(self, call_id: str) -> None:
        async with self._sessions.begin() as s:
            await s.execute(delete(UtteranceRow).where(UtteranceRow.call_id == call_id))

    async def incomplete_transcripts(self) -> Sequence[Call]:
        """Calls whose transcript is incomplete, oldest first."""
        async with self._sessions() as s:
            q = (
                select(Call)
                .where(Call.transcript_status == TranscriptStatus.INCOMPLETE)
                .order_by(Call.started_at)
            )
            return list((await s.execute(q)).scalars())

    async def unfinished_transcripts(self, call_ids: Sequence[str] | None = None) -> Sequence[str]:
        """Calls (of ``call_ids``, if given) whose transcript was still live or pending when
        the server stopped."""
        if call_ids is not None and not call_ids:
            return []
        async with self._sessions() as s:
            q = select(Call.id).where(
                Call.transcript_status.in_([TranscriptStatus.LIVE, TranscriptStatus.PENDING])
            )
            if call_ids is not None:
                q = q.where(Call.id.in_(list(call_ids)))
            return list((await s.execute(q)).scalars())


class ProfileRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def find(
        self, account_id: str, sub_account_id: str, product_type: str, product_id: int
    ) -> StreamingProfile | None:
        """The account's profile for one product (profiles are per account)."""
        async with self._sessions() as s:
            q = select(StreamingProfile).where(
                StreamingProfile.rc_account_id == account_id,
                StreamingProfile.sub_account_id == sub_account_id,
                StreamingProfile.product_type == product_type,
                StreamingProfile.product_id == product_id,
            )
            return (await s.execute(q)).scalar_one_or_none()

    async def by_secret_hash(self, secret_hash: str) -> list[StreamingProfile]:
        """Every profile holding that secret (of one account, as the profile API keeps it)."""
        q = select(StreamingProfile).where(StreamingProfile.secret_hash == secret_hash)
        async with self._sessions() as s:
            return list((await s.execute(q.order_by(StreamingProfile.id).limit(1000))).scalars())

    async def secret_used_elsewhere(self, secret_hash: str, account_id: str) -> bool:
        """Whether another account's profile holds that secret."""
        q = select(func.count()).where(
            StreamingProfile.secret_hash == secret_hash,
            StreamingProfile.rc_account_id != account_id,
        )
        async with self._sessions() as s:
            return bool((await s.execute(q)).scalar_one())

    async def ingest_salt(self) -> bytes:
        """The installation's salt for stream secrets (made once; every node shares it)."""
        with contextlib.suppress(IntegrityError):  # another node made it first
            async with self._sessions.begin() as s:
                if await s.get(ServerKey, "ingest") is None:
                    s.add(ServerKey(name="ingest", value=secrets.token_hex(16)))
        async with self._sessions() as s:  # two nodes may race to make it: read what won
            row = await s.get(ServerKey, "ingest")
            assert row is not None
            return bytes.fromhex(row.value)

    async def create(self, profile: StreamingProfile) -> None:
        async with self._sessions.begin() as s:
            s.add(profile)

    async def save(self, profile: StreamingProfile) -> None:
        async with self._sessions.begin() as s:
            await s.merge(profile)

    async def delete(self, profile: StreamingProfile) -> None:
        async with self._sessions.begin() as s:
            row = await s.get(StreamingProfile, profile.id)
            if row is not None:
                await s.delete(row)

    async def list(
        self, rc_account_id: str, sub_account_id: str | None = None
    ) -> Sequence[StreamingProfile]:
        q = select(StreamingProfile).where(StreamingProfile.rc_account_id == rc_account_id)
        q = q.order_by(StreamingProfile.id)
        if sub_account_id is not None:
            q = q.where(StreamingProfile.sub_account_id == sub_account_id)
        async with self._sessions() as s:
            return list((await s.execute(q)).scalars())
