"""Every ingested call becomes a telephony session with its parties (spec §7.1).

Parties: the customer (the ANI; no extension) and the agent (the extension whose RingCX agent
id is the stream's agentId; an unknown agent stays a party without extension). Queue calls
are inbound, campaign calls outbound. Parties carry the ANI and DNIS in E.164
(``calls.numbers``: ``6505550123`` is ``+16505550123``; what is no complete number stays as
sent); the call row keeps them as the stream sent them. Rows go through the ingest
write-behind writer, after the call row they refer to.

Every status change also writes its events to the outbox in the same transaction (spec §9):
telephony session events (Setup, Proceeding, Answered at Start; Disconnected at the end, with
a per-session ``sequence``) and detailed presence for the agent's extension (Ringing,
CallConnected, NoCall). A call of no known account produces none: no one may see it.

Once a session has ended, nothing more is written for it. In a cluster two nodes may end one
session: the node carrying the call, and a survivor that took that node for dead
(:meth:`TelephonyService.end_orphans`). Every change of a live session is therefore guarded
(applied only while the session is still ``live``, its row locked on PostgreSQL), and
:meth:`~TelephonyService.end_orphans` ends only sessions still live, row locked: whichever
commits first writes the Disconnected, with the next ``sequence``; the other writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.calls.numbers import e164
from callscope.calls.parties import PartyStatus
from callscope.calls.telephony_events import (
    ENDED,
    LiveSession,
    SessionEvents,
    event_view,
    restore,
    set_status,
)
from callscope.calls.telephony_reads import TelephonyReads
from callscope.store.directory import DirectoryRepository
from callscope.store.models import (
    Account,
    Base,
    Call,
    CallStatus,
    Extension,
    Party,
    TelephonySession,
)
from callscope.store.repo import utcnow
from callscope.store.writer import CallRowWriter

__all__ = [
    "END_REASONS",
    "TelephonyService",
    "call_id_of",
    "participant_party_id",
    "party_ids",
    "session_id_for",
]

logger = logging.getLogger("callscope.calls")

#: Why parties were disconnected, by how the call's stream ended.
END_REASONS = {
    CallStatus.COMPLETED: "CallFinished",
    CallStatus.ABANDONED: "CallDropped",
    CallStatus.INTERRUPTED: "InternalError",
}


def session_id_for(call_id: str) -> str:
    return f"s-{call_id}"


def call_id_of(session_id: str) -> str:
    """The call of a telephony session id ("" if it is not one of ours)."""
    return session_id[2:] if session_id.startswith("s-") else ""


def party_ids(call_id: str) -> tuple[str, str]:
    """(customer party, agent party)"""
    return f"p-{call_id}-1", f"p-{call_id}-2"


def participant_party_id(call_id: str, participant_id: str) -> str:
    """The speaker id of a RingCX dialog participant that is no telephony party (a bot):
    its transcript lines and its ``speakerInfo`` entry carry it."""
    return f"p-{call_id}-x-{participant_id}"


def _while_live(live: LiveSession) -> tuple[tuple[type[Base], Any], str, Any]:
    """The guard of a change to a session: it is still live (nobody else ended it)."""
    return ((TelephonySession, live.session_id), "live", True)


class TelephonyService(TelephonyReads):
    """Writes every change of calls' telephony sessions, with their events, through the
    ingest writer; its reads are :class:`~callscope.calls.telephony_reads.TelephonyReads`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        directory: DirectoryRepository,
        rows: CallRowWriter,
        *,
        default_account: str = "",
    ) -> None:
        super().__init__(sessions)
        self._default_account = default_account
        self._directory = directory
        self._rows = rows
        self._outbox = SessionEvents()

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
        caller, called = e164(call.ani), e164(call.dnis)
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
            from_number=caller,
            from_name="Customer",
            to_number=called,
            to_name=agent_name,
            **common,
        )
        agent_party = Party(
            id=agent_party_id,
            role="agent",
            account_id=call.account_ref if agent else None,
            extension_id=agent.id if agent else None,
            direction="Outbound" if outbound else "Inbound",
            from_number=caller,
            from_name="Customer",
            to_number=called,
            to_name=agent_name,
            **common,
        )
        agent_ext = agent.id if agent else None
        live = LiveSession(
            session.id,
            {},
            account_id=call.account_ref,
            call_id=call.id,
            legacy_session_id=call.session_id or call.id,
            created_at=now,
            agent_extension=agent_ext,
            agent_party=agent_party_id,
        )
        for party in (customer, agent_party):
            live.party_status[party.id] = PartyStatus.SETUP
            live.parties[party.id] = event_view(party, agent_ext, call.id)
        rows: list[Base] = [session, customer, agent_party]
        # RingCX streams only once the agent is connected: the call is answered at Start.
        # Each step is still published, so subscribers see the lifecycle they expect.
        rows += self._outbox.rows(live, now)
        for step in (PartyStatus.PROCEEDING, PartyStatus.ANSWERED):
            for party in (customer, agent_party):
                set_status(live, party.id, step)
            rows += self._outbox.rows(live, now, presence=step is PartyStatus.ANSWERED)
        for party in (customer, agent_party):
            party.status_code = str(live.party_status[party.id])
        session.event_sequence = live.sequence
        self._rows.write(rows)
        return live

    async def transfer(
        self, live: LiveSession, call: Call, agent_id: str, kind: str = "Blind"
    ) -> Extension | None:
        """The call moved to the agent whose RingCX id is ``agent_id``: the old agent party is
        Gone (BlindTransfer/AttendedTransfer), a new agent party goes Setup → Answered, and
        presence follows both agents; one transaction."""
        agent = None
        if live.account_id is not None:
            agent = await self._directory.extension_by_agent(live.account_id, agent_id)
        now = utcnow()
        reason = "AttendedTransfer" if kind == "Attended" else "BlindTransfer"
        old = live.agent_party
        rows: list[Base] = []
        updates: list[tuple[tuple[type[Base], Any], dict[str, Any]]] = []
        if old in live.party_status and live.party_status[old] not in ENDED:
            set_status(live, old, PartyStatus.GONE, reason)
            updates.append(
                ((Party, old), {"status_code": "Gone", "status_reason": reason, "updated_at": now})
            )
            rows += self._outbox.rows(live, now)  # the old agent's presence goes NoCall
        old_view = live.parties.get(old, {})
        caller, called = e164(call.ani), e164(call.dnis)
        party = Party(
            id=live.next_party_id(),
            session_id=live.session_id,
            role="agent",
            account_id=live.account_id if agent else None,
            extension_id=agent.id if agent else None,
            direction=old_view.get("direction", "Inbound"),
            from_number=caller,
            from_name="Customer",
            to_number=called,
            to_name=agent.name if agent else None,
            status_code=str(PartyStatus.SETUP),
            created_at=now,
            updated_at=now,
        )
        live.agent_party = party.id
        live.agent_extension = agent.id if agent else None
        live.party_status[party.id] = PartyStatus.SETUP
        live.parties[party.id] = event_view(party, live.agent_extension, live.call_id)
        rows.append(party)
        rows += self._outbox.rows(live, now, presence=False)
        for step in (PartyStatus.PROCEEDING, PartyStatus.ANSWERED):
            set_status(live, party.id, step)
            rows += self._outbox.rows(live, now, presence=step is PartyStatus.ANSWERED)
        party.status_code = str(PartyStatus.ANSWERED)
        updates.append(((TelephonySession, live.session_id), {"event_sequence": live.sequence}))
        self._rows.write(rows, updates, guard=_while_live(live))
        return agent

    def add_supervisor(
        self, live: LiveSession, supervisor: Extension, device_id: int, agent: Extension | None
    ) -> tuple[dict[str, Any], asyncio.Future[None]]:
        """A supervisor joins (spec §7.4): an Answered party with reason ``Supervising``.
        Returns its JSON view (with the supervisor's device) and the commit to await."""
        now = utcnow()
        party = Party(
            id=live.next_party_id(),
            session_id=live.session_id,
            role="supervisor",
            account_id=live.account_id,
            extension_id=supervisor.id,
            direction="Outbound",
            from_number=supervisor.extension_number,
            from_name=supervisor.name,
            to_number=agent.extension_number if agent else None,
            to_name=agent.name if agent else None,
            status_code=str(PartyStatus.ANSWERED),
            status_reason="Supervising",
            created_at=now,
            updated_at=now,
        )
        view = event_view(party, agent.id if agent else None, live.call_id)
        view["from"].update(deviceId=str(device_id), extensionId=str(supervisor.id))
        view["status"]["reason"] = "Supervising"
        view["recordings"] = []
        live.party_status[party.id] = PartyStatus.ANSWERED
        live.parties[party.id] = view
        rows: list[Base] = [party, *self._outbox.rows(live, now, presence=False)]
        committed = self._rows.write(
            rows,
            [((TelephonySession, live.session_id), {"event_sequence": live.sequence})],
            guard=_while_live(live),
        )
        shown = {k: v for k, v in view.items() if k not in ("recordings", "missedCall", "park")}
        return shown, committed

    def remove_party(
        self, live: LiveSession, party_id: str, reason: str
    ) -> asyncio.Future[None] | None:
        """A supervisor leaves: its party is Disconnected and the change published. Returns
        the commit to await (None: it had already left)."""
        if live.party_status.get(party_id, PartyStatus.DISCONNECTED) in ENDED:
            return None
        now = utcnow()
        set_status(live, party_id, PartyStatus.DISCONNECTED, reason)
        events = self._outbox.rows(live, now, presence=False)
        return self._rows.write(
            events,
            [
                (
                    (Party, party_id),
                    {"status_code": "Disconnected", "status_reason": reason, "updated_at": now},
                ),
                ((TelephonySession, live.session_id), {"event_sequence": live.sequence}),
            ],
            guard=_while_live(live),
        )

    def close(self, live: LiveSession, status: CallStatus) -> None:
        """Disconnect every party, end the session and publish it, in one transaction (none
        if the session was ended meanwhile by a node that took this one for dead)."""
        reason = END_REASONS[status]
        now = utcnow()
        updates: list[tuple[tuple[type[Base], Any], dict[str, Any]]] = []
        for party_id, current in list(live.party_status.items()):
            if current in ENDED:
                continue
            set_status(live, party_id, PartyStatus.DISCONNECTED, reason)
            updates.append(
                (
                    (Party, party_id),
                    {
                        "status_code": str(PartyStatus.DISCONNECTED),
                        "status_reason": reason,
                        "updated_at": now,
                    },
                )
            )
        events = self._outbox.rows(live, now) if updates else []
        updates.append(
            ((TelephonySession, live.session_id), {"live": False, "event_sequence": live.sequence})
        )
        self._rows.write(events, updates, guard=_while_live(live))

    async def end_orphans(self, call_ids: list[str], status: CallStatus) -> None:
        """After a crash: sessions of calls that were live are ended and their Disconnected
        events published (recovery), in one transaction. A session already ended (by the
        node that carried it, fencing itself) is left as it is."""
        if not call_ids:
            return
        now = utcnow()
        async with self._sessions.begin() as s:
            sessions = (
                await s.execute(
                    select(TelephonySession)
                    .where(TelephonySession.call_id.in_(call_ids), TelephonySession.live.is_(True))
                    .order_by(TelephonySession.id)
                    .with_for_update()
                )
            ).scalars()
            for session in list(sessions):
                parties = list(
                    (
                        await s.execute(
                            select(Party).where(Party.session_id == session.id).order_by(Party.id)
                        )
                    ).scalars()
                )
                call = await s.get(Call, session.call_id)
                live = restore(session, call, parties)
                open_parties = [p for p in parties if p.status_code not in ("Disconnected", "Gone")]
                for party in open_parties:
                    set_status(live, party.id, PartyStatus.DISCONNECTED, END_REASONS[status])
                    party.status_code = "Disconnected"
                    party.status_reason = END_REASONS[status]
                    party.updated_at = now
                if open_parties:
                    s.add_all(self._outbox.rows(live, now))
                session.live = False
                session.event_sequence = live.sequence
