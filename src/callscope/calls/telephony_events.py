"""The telephony events of a session, built from its live view (spec §9.2, §9.3), sans-I/O.

:class:`LiveSession` is what a node knows of a session it carries: each party's status and
JSON view, the agent party and extension, the last ``sequence``. The functions here change
that view and turn it into outbox rows (telephony session events and the agent's detailed
presence); writing the rows is :class:`callscope.calls.telephony.TelephonyService`'s.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callscope.calls.parties import PartyStatus, transition
from callscope.calls.views import agent_extension, party_json
from callscope.events.payloads import ActiveCall, EventKind, presence_body, telephony_body
from callscope.store.models import Base, Call, OutboxEvent, Party, TelephonySession

__all__ = [
    "ENDED",
    "PRESENCE_STATUS",
    "LiveSession",
    "SessionEvents",
    "event_view",
    "restore",
    "set_status",
    "telephony_event",
]

#: presence ``telephonyStatus`` of the agent by party status
PRESENCE_STATUS = {
    PartyStatus.SETUP: "Ringing",
    PartyStatus.PROCEEDING: "Ringing",
    PartyStatus.ANSWERED: "CallConnected",
    PartyStatus.HOLD: "OnHold",
    PartyStatus.GONE: "NoCall",
    PartyStatus.DISCONNECTED: "NoCall",
}


#: the party statuses after which a party takes no more part in the call
ENDED = (PartyStatus.DISCONNECTED, PartyStatus.GONE)


@dataclass(slots=True)
class LiveSession:
    """What the node carrying a call knows of its telephony session."""

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


def event_view(party: Party, agent_ext: int | None, call_id: str) -> dict[str, Any]:
    """A party as telephony events show it: the REST view plus its recording (spec §9.2)."""
    view = party_json(party, agent_ext)
    view["recordings"] = [{"id": call_id, "active": True}]
    view["missedCall"] = False
    view["park"] = {}
    return view


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


def set_status(
    live: LiveSession, party_id: str, status: PartyStatus, reason: str | None = None
) -> None:
    """A party's status changes (by the rules of ``calls.parties``) and its view with it;
    an ended party's recording is no longer active."""
    live.party_status[party_id] = transition(live.party_status[party_id], status, party_id=party_id)
    view = live.parties[party_id]
    view["status"] = {"code": str(status), "rcc": False}
    if reason:
        view["status"]["reason"] = reason
    if status in ENDED:
        for rec in view.get("recordings", []):
            rec["active"] = False


def restore(session: TelephonySession, call: Call | None, parties: list[Party]) -> LiveSession:
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
        live.parties[party.id] = event_view(party, agent_ext, session.call_id)
    return live


class SessionEvents:
    """Turns a session's current state into outbox rows, and keeps the live calls of each
    agent extension that the presence events list (``activeCalls``)."""

    def __init__(self) -> None:
        #: the live calls of each agent extension, for presence events
        self._active: defaultdict[int, dict[str, ActiveCall]] = defaultdict(dict)

    def rows(self, live: LiveSession, at: datetime, *, presence: bool = True) -> list[Base]:
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
                telephony_status=PRESENCE_STATUS[status],
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
            if status in ENDED:
                del calls[live.session_id]
                if not calls:
                    del self._active[live.agent_extension]
        return out
