"""Reads of telephony sessions (spec §7.1, §9.3): a session with its parties, the live
sessions of an account or extension, and the presence ``activeCalls`` derived from them.

They read the database only, so any node of a cluster answers alike.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.calls.parties import PartyStatus
from callscope.calls.telephony_events import ENDED, PRESENCE_STATUS
from callscope.events.payloads import ActiveCall
from callscope.store.models import Call, Party, TelephonySession

__all__ = ["TelephonyReads"]


class TelephonyReads:
    """The read side of :class:`callscope.calls.telephony.TelephonyService`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(
        self, account_id: str, session_id: str
    ) -> tuple[TelephonySession, list[Party]] | None:
        async with self._sessions() as s:
            session = await s.get(TelephonySession, session_id)
            if session is None or session.account_id != account_id:
                return None
            parties = list(
                (
                    await s.execute(
                        select(Party).where(Party.session_id == session_id).order_by(Party.id)
                    )
                ).scalars()
            )
        return session, parties

    async def live_sessions(
        self, account_id: str, extension_id: int | None = None
    ) -> list[tuple[TelephonySession, Call, list[Party]]]:
        """Live sessions of the account (or where the extension is a party), newest first."""
        async with self._sessions() as s:
            q = (
                select(TelephonySession, Call)
                .join(Call, Call.id == TelephonySession.call_id)
                .where(TelephonySession.account_id == account_id, TelephonySession.live.is_(True))
                .order_by(TelephonySession.creation_time.desc())
            )
            if extension_id is not None:
                q = q.where(
                    TelephonySession.id.in_(
                        select(Party.session_id).where(
                            Party.extension_id == extension_id,
                            Party.role == "agent",
                            Party.status_code.notin_(ENDED),
                        )
                    )
                )
            pairs = (await s.execute(q)).all()
            ids = [sess.id for sess, _ in pairs]
            parties: dict[str, list[Party]] = {i: [] for i in ids}
            if ids:
                for party in (
                    await s.execute(
                        select(Party).where(Party.session_id.in_(ids)).order_by(Party.id)
                    )
                ).scalars():
                    parties[party.session_id].append(party)
        return [(sess, call, parties[sess.id]) for sess, call in pairs]

    async def presence_calls(
        self, account_id: str, extension_id: int | None = None
    ) -> dict[int, list[ActiveCall]]:
        """The calls of each agent extension now (of one, or of the account), oldest first:
        a presence read's ``activeCalls`` (spec §9.3). Read from the live sessions, so any
        node answers alike; the presence events show the same calls as they change."""
        out: defaultdict[int, list[ActiveCall]] = defaultdict(list)
        for session, call, parties in reversed(await self.live_sessions(account_id, extension_id)):
            for party in parties:
                if party.role != "agent" or party.extension_id is None:
                    continue
                if extension_id is not None and party.extension_id != extension_id:
                    continue
                status = PartyStatus(party.status_code)
                if status in ENDED:
                    continue
                out[party.extension_id].append(
                    ActiveCall(
                        call_id=call.id,
                        direction=party.direction,
                        from_number=party.from_number,
                        from_name=party.from_name,
                        to_number=party.to_number,
                        to_name=party.to_name,
                        start_time=session.creation_time,
                        telephony_status=PRESENCE_STATUS[status],
                        session_id=call.session_id or call.id,
                        telephony_session_id=session.id,
                        party_id=party.id,
                    )
                )
        return dict(out)
