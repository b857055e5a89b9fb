"""Every ingested call becomes a telephony session with its parties (spec §7.1).

Parties: the customer (the ANI; no extension) and the agent (the extension whose RingCX agent
id is the stream's agentId; an unknown agent stays a party without extension). Queue calls
are inbound, campaign calls outbound. Rows go through the ingest write-behind writer, after
the call row they refer to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.calls.parties import PartyStatus, transition
from callscope.store.directory import DirectoryRepository
from callscope.store.models import Account, Call, CallStatus, Party, TelephonySession
from callscope.store.repo import utcnow
from callscope.store.writer import CallRowWriter

__all__ = ["END_REASONS", "LiveSession", "TelephonyService", "party_ids", "session_id_for"]

logger = logging.getLogger("callscope.calls")

#: Why parties were disconnected, by how the call's stream ended.
END_REASONS = {
    CallStatus.COMPLETED: "CallFinished",
    CallStatus.ABANDONED: "CallDropped",
    CallStatus.INTERRUPTED: "InternalError",
}


def session_id_for(call_id: str) -> str:
    return f"s-{call_id}"


def party_ids(call_id: str) -> tuple[str, str]:
    """(customer party, agent party)"""
    return f"p-{call_id}-1", f"p-{call_id}-2"


@dataclass(slots=True)
class LiveSession:
    session_id: str
    party_status: dict[str, PartyStatus]


class TelephonyService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        directory: DirectoryRepository,
        rows: CallRowWriter,
        *,
        default_account: str = "",
    ) -> None:
        self._sessions = sessions
        self._default_account = default_account
        self._directory = directory
        self._rows = rows

    async def account_for(self, call: Call) -> str | None:
        """The account a stream belongs to: the existing account whose id is its rcAccountId,
        else the configured default account, else none (recorded, visible to no token)."""
        async with self._sessions() as s:
            for candidate in (call.rc_account_id, self._default_account):
                if candidate and (await s.get(Account, candidate)) is not None:
                    return candidate
        return None

    async def open(self, call: Call) -> LiveSession:
        """Queue the session and both parties for a call that has just started."""
        now = utcnow()
        agent = None
        if call.account_ref and call.agent_id:
            agent = await self._directory.extension_by_agent(call.account_ref, call.agent_id)
        outbound = (call.product_type or "").lower() == "campaign"
        session = TelephonySession(
            id=session_id_for(call.id),
            account_id=call.account_ref,
            call_id=call.id,
            origin_type="Call",
            direction="Outbound" if outbound else "Inbound",
            live=True,
            creation_time=now,
        )
        customer_id, agent_party_id = party_ids(call.id)
        agent_name = agent.name if agent else None
        common: dict[str, Any] = {
            "session_id": session.id,
            "created_at": now,
            "updated_at": now,
            "status_code": str(PartyStatus.SETUP),
        }
        customer = Party(
            id=customer_id,
            role="customer",
            account_id=None,
            extension_id=None,
            direction="Inbound" if outbound else "Outbound",
            from_number=call.ani,
            from_name="Customer",
            to_number=call.dnis,
            to_name=agent_name,
            **common,
        )
        agent_party = Party(
            id=agent_party_id,
            role="agent",
            account_id=call.account_ref if agent else None,
            extension_id=agent.id if agent else None,
            direction="Outbound" if outbound else "Inbound",
            from_number=call.ani,
            from_name="Customer",
            to_number=call.dnis,
            to_name=agent_name,
            **common,
        )
        statuses = {}
        for party in (customer, agent_party):
            # RingCX streams only once the agent is connected: the call is answered at Start.
            status = PartyStatus.SETUP
            for step in (PartyStatus.PROCEEDING, PartyStatus.ANSWERED):
                status = transition(status, step, party_id=party.id)
            party.status_code = str(status)
            statuses[party.id] = status
        self._rows.create(session)
        self._rows.create(customer)
        self._rows.create(agent_party)
        return LiveSession(session.id, statuses)

    def close(self, live: LiveSession, status: CallStatus) -> None:
        """Queue Disconnected for every party and end the session."""
        reason = END_REASONS[status]
        now = utcnow()
        for party_id, current in live.party_status.items():
            if current in (PartyStatus.DISCONNECTED, PartyStatus.GONE):
                continue
            live.party_status[party_id] = transition(
                current, PartyStatus.DISCONNECTED, party_id=party_id
            )
            self._rows.update(
                party_id,
                {
                    "status_code": str(PartyStatus.DISCONNECTED),
                    "status_reason": reason,
                    "updated_at": now,
                },
                model=Party,
            )
        self._rows.update(live.session_id, {"live": False}, model=TelephonySession)

    async def end_orphans(self, call_ids: list[str], status: CallStatus) -> None:
        """After a crash: sessions of calls that were live are ended (recovery)."""
        if not call_ids:
            return
        async with self._sessions.begin() as s:
            sessions = (
                await s.execute(
                    select(TelephonySession).where(TelephonySession.call_id.in_(call_ids))
                )
            ).scalars()
            for session in sessions:
                session.live = False
                parties = (
                    await s.execute(select(Party).where(Party.session_id == session.id))
                ).scalars()
                for party in parties:
                    if party.status_code not in ("Disconnected", "Gone"):
                        party.status_code = "Disconnected"
                        party.status_reason = END_REASONS[status]
                        party.updated_at = utcnow()

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
                        select(Party.session_id).where(Party.extension_id == extension_id)
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
