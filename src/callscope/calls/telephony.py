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
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.calls.numbers import e164
from callscope.calls.parties import PartyStatus, transition
from callscope.calls.views import agent_extension, party_json
from callscope.events.payloads import ActiveCall, EventKind, presence_body, telephony_body
from callscope.store.directory import DirectoryRepository
from callscope.store.models import (
    Account,
    Base,
    Call,
    CallStatus,
    Extension,
    OutboxEvent,
    Party,
    TelephonySession,
)
from callscope.store.repo import utcnow
from callscope.store.writer import CallRowWriter

__all__ = [
    "END_REASONS",
    "LiveSession",
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


#: presence ``telephonyStatus`` of the agent by party status
_PRESENCE_STATUS = {
    PartyStatus.SETUP: "Ringing",
    PartyStatus.PROCEEDING: "Ringing",
    PartyStatus.ANSWERED: "CallConnected",
    PartyStatus.HOLD: "OnHold",
    PartyStatus.GONE: "NoCall",
    PartyStatus.DISCONNECTED: "NoCall",
}


_ENDED = (PartyStatus.DISCONNECTED, PartyStatus.GONE)


@dataclass(slots=True)
class LiveSession:
    session_id: str
    party_status: dict[str, PartyStatus]
    account_id: str | None = None
    call_id: str = ""
    legacy_session_id: str = ""
    created_at: datetime | None = None
    #: party id → its JSON view (spec §9.2), kept current for the events
    parties: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the agent party's extension, for presence
    agent_extension: int | None = None
    #: the current agent party (a transfer replaces it)
    agent_party: str = ""
    sequence: int = 0

    def next_party_id(self) -> str:
        return f"p-{self.call_id}-{len(self.parties) + 1}"


def _event_view(party: Party, agent_ext: int | None, call_id: str) -> dict[str, Any]:
    """A party as telephony events show it: the REST view plus its recording (spec §9.2)."""
    view = party_json(party, agent_ext)
    view["recordings"] = [{"id": call_id, "active": True}]
    view["missedCall"] = False
    view["park"] = {}
    return view


def _while_live(live: LiveSession) -> tuple[tuple[type[Base], Any], str, Any]:
    """The guard of a change to a session: it is still live (nobody else ended it)."""
    return ((TelephonySession, live.session_id), "live", True)


def telephony_event(live: LiveSession, at: datetime) -> OutboxEvent:
    """The next telephony event of a session, with every party as it is now."""
    assert live.account_id is not None
    live.sequence += 1
    body = telephony_body(
        sequence=live.sequence,
        session_id=live.legacy_session_id,
        telephony_session_id=live.session_id,
        event_time=at,
        parties=[dict(p) for p in live.parties.values()],
    )
    return OutboxEvent(
        account_id=live.account_id, kind=EventKind.TELEPHONY, payload=body, created_at=at
    )


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
        #: the live calls of each agent extension, for presence events
        self._active: defaultdict[int, dict[str, ActiveCall]] = defaultdict(dict)

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
            live.parties[party.id] = _event_view(party, agent_ext, call.id)
        rows: list[Base] = [session, customer, agent_party]
        # RingCX streams only once the agent is connected: the call is answered at Start.
        # Each step is still published, so subscribers see the lifecycle they expect.
        rows += self._events(live, now)
        for step in (PartyStatus.PROCEEDING, PartyStatus.ANSWERED):
            for party in (customer, agent_party):
                self._set_status(live, party.id, step)
            rows += self._events(live, now, presence=step is PartyStatus.ANSWERED)
        for party in (customer, agent_party):
            party.status_code = str(live.party_status[party.id])
        session.event_sequence = live.sequence
        self._rows.write(rows)
        return live

    def _set_status(
        self, live: LiveSession, party_id: str, status: PartyStatus, reason: str | None = None
    ) -> None:
        live.party_status[party_id] = transition(
            live.party_status[party_id], status, party_id=party_id
        )
        view = live.parties[party_id]
        view["status"] = {"code": str(status), "rcc": False}
        if reason:
            view["status"]["reason"] = reason
        if status in (PartyStatus.DISCONNECTED, PartyStatus.GONE):
            for rec in view.get("recordings", []):
                rec["active"] = False

    def _events(self, live: LiveSession, at: datetime, *, presence: bool = True) -> list[Base]:
        """The outbox rows for the session's current state (none without an account)."""
        if live.account_id is None:
            return []
        out: list[Base] = [telephony_event(live, at)]
        agent_party = live.agent_party
        if presence and agent_party in live.parties and live.agent_extension is not None:
            status = live.party_status[agent_party]
            view = live.parties[agent_party]
            self._active[live.agent_extension][live.session_id] = ActiveCall(
                call_id=live.call_id,
                direction=view["direction"],
                from_number=view["from"].get("phoneNumber"),
                from_name=view["from"].get("name"),
                to_number=view["to"].get("phoneNumber"),
                to_name=view["to"].get("name"),
                start_time=live.created_at or at,
                telephony_status=_PRESENCE_STATUS[status],
                session_id=live.legacy_session_id,
                telephony_session_id=live.session_id,
                party_id=agent_party,
            )
            calls = self._active[live.agent_extension]
            out.append(
                OutboxEvent(
                    account_id=live.account_id,
                    kind=EventKind.PRESENCE,
                    extension_id=live.agent_extension,
                    payload=presence_body(live.agent_extension, list(calls.values())),
                    created_at=at,
                )
            )
            if status in (PartyStatus.DISCONNECTED, PartyStatus.GONE):
                del calls[live.session_id]
                if not calls:
                    del self._active[live.agent_extension]
        return out

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
        if old in live.party_status and live.party_status[old] not in _ENDED:
            self._set_status(live, old, PartyStatus.GONE, reason)
            updates.append(
                ((Party, old), {"status_code": "Gone", "status_reason": reason, "updated_at": now})
            )
            rows += self._events(live, now)  # the old agent's presence goes NoCall
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
        live.parties[party.id] = _event_view(party, live.agent_extension, live.call_id)
        rows.append(party)
        rows += self._events(live, now, presence=False)
        for step in (PartyStatus.PROCEEDING, PartyStatus.ANSWERED):
            self._set_status(live, party.id, step)
            rows += self._events(live, now, presence=step is PartyStatus.ANSWERED)
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
        view = _event_view(party, agent.id if agent else None, live.call_id)
        view["from"].update(deviceId=str(device_id), extensionId=str(supervisor.id))
        view["status"]["reason"] = "Supervising"
        view["recordings"] = []
        live.party_status[party.id] = PartyStatus.ANSWERED
        live.parties[party.id] = view
        rows: list[Base] = [party, *self._events(live, now, presence=False)]
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
        if live.party_status.get(party_id, PartyStatus.DISCONNECTED) in _ENDED:
            return None
        now = utcnow()
        self._set_status(live, party_id, PartyStatus.DISCONNECTED, reason)
        events = self._events(live, now, presence=False)
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
            if current in _ENDED:
                continue
            self._set_status(live, party_id, PartyStatus.DISCONNECTED, reason)
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
        events = self._events(live, now) if updates else []
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
                live = self._restore(session, call, parties)
                open_parties = [p for p in parties if p.status_code not in ("Disconnected", "Gone")]
                for party in open_parties:
                    self._set_status(live, party.id, PartyStatus.DISCONNECTED, END_REASONS[status])
                    party.status_code = "Disconnected"
                    party.status_reason = END_REASONS[status]
                    party.updated_at = now
                if open_parties:
                    s.add_all(self._events(live, now))
                session.live = False
                session.event_sequence = live.sequence

    def _restore(
        self, session: TelephonySession, call: Call | None, parties: list[Party]
    ) -> LiveSession:
        """A stored session as the live view the events are built from."""
        agent_ext = agent_extension(parties)
        live = LiveSession(
            session.id,
            {},
            account_id=session.account_id,
            call_id=session.call_id,
            legacy_session_id=(call.session_id if call else None) or session.call_id,
            created_at=session.creation_time,
            agent_extension=agent_ext,
            agent_party=next(
                (p.id for p in reversed(parties) if p.role == "agent"),
                "",
            ),
            sequence=session.event_sequence or 0,
        )
        for party in parties:
            live.party_status[party.id] = PartyStatus(party.status_code)
            live.parties[party.id] = _event_view(party, agent_ext, session.call_id)
        return live

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
                            Party.status_code.notin_(_ENDED),
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
                if status in _ENDED:
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
                        telephony_status=_PRESENCE_STATUS[status],
                        session_id=call.session_id or call.id,
                        telephony_session_id=session.id,
                        party_id=party.id,
                    )
                )
        return dict(out)
