"""Call-log records (RingCentral ``CallLogRecord``) built from a call, its telephony session
and its parties. Pure: no I/O.

One record per call: the active calls (spec §6, ``result: "In Progress"``) and the call log
(vendor spec, ``/call-log``) are the same record at two moments, so an active call's ``uri``
is its call-log record's. The record id is ``cl-<call id>``; the recording id is the call id
(the telephony events' ``recordings[].id`` and the insights' ``sourceRecordId``).

Numbers (spec §6, §9.2): ``from`` is the calling side (the stream's ANI) and ``to`` the
called side (DNIS), ``phoneNumber`` in E.164 (``calls.numbers``) and the text as the stream
sent it in ``from.dialerPhoneNumber`` / ``to.dialedPhoneNumber``. The agent's name and
extension go on the agent's side: ``to`` for an inbound (queue) call, ``from`` for an
outbound (campaign) call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from callscope.calls.numbers import e164
from callscope.calls.views import current_agent, iso
from callscope.identity.model import aware
from callscope.store.models import Call, Extension, Party, TelephonySession

__all__ = [
    "ENDED_RESULT",
    "LIVE_RESULT",
    "call_id_of_record",
    "call_log_record",
    "has_recording",
    "owner_party",
    "record_id",
    "recording_json",
]

#: ``result`` of a call still in progress (spec §6, §13.9)
LIVE_RESULT = "In Progress"
# UNCONFIRMED: RingCX streams only once an agent has answered, so every ended call was
# connected, however its stream ended (Stop, a vanished sender, a server crash); callscope's
# own end status stays on /calls/{id}.
ENDED_RESULT = "Call connected"

_RECORD_PREFIX = "cl-"
_ENDED = ("Disconnected", "Gone")


def record_id(call_id: str) -> str:
    return _RECORD_PREFIX + call_id


def call_id_of_record(raw: str) -> str:
    """The call of a call-log record id ("" if it is not one of ours)."""
    return raw[len(_RECORD_PREFIX) :] if raw.startswith(_RECORD_PREFIX) else ""


def has_recording(call: Call, session: TelephonySession) -> bool:
    """Whether the call log shows a recording: once the call has ended (RingCentral lists a
    recording after the call), until the retention policy purges it."""
    return not session.live and call.recording_purged_at is None and bool(call.recording_path)


def recording_json(call: Call, base: str) -> dict[str, Any]:
    """``CallLogRecordingInfo``: the recording's metadata and content links. ``type`` is
    ``Automatic``: callscope records every call."""
    uri = f"{base}/recording/{call.id}"
    return {"id": call.id, "uri": uri, "type": "Automatic", "contentUri": f"{uri}/content"}


def owner_party(parties: Sequence[Party], extension_id: int | None = None) -> Party | None:
    """The agent party a record is about: that extension's latest, or the current agent."""
    if extension_id is not None:
        mine = [p for p in parties if p.role == "agent" and p.extension_id == extension_id]
        if mine:
            return mine[-1]
    return current_agent(list(parties))


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((aware(end) - aware(start)).total_seconds()))


def _sides(
    call: Call,
    direction: str,
    agent_name: str | None,
    agent_ext: Extension | None,
    agent_ext_id: int | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(from, to)`` (``CallLogCallerInfo``)."""
    caller: dict[str, Any] = {}
    called: dict[str, Any] = {}
    if call.ani:
        caller["phoneNumber"] = e164(call.ani)
        caller["dialerPhoneNumber"] = call.ani  # as the stream sent it
    if call.dnis:
        called["phoneNumber"] = e164(call.dnis)
        called["dialedPhoneNumber"] = call.dnis
    agent, customer = (caller, called) if direction == "Outbound" else (called, caller)
    customer["name"] = "Customer"
    name = agent_ext.name if agent_ext is not None else agent_name
    if name:
        agent["name"] = name
    if agent_ext is not None:
        agent["extensionNumber"] = agent_ext.extension_number
    if agent_ext_id is not None:
        agent["extensionId"] = str(agent_ext_id)
    return caller, called


def _legs(
    call: Call,
    session: TelephonySession,
    parties: Sequence[Party],
    extensions: Mapping[int, Extension],
    base: str,
    now: datetime,
    recording: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """``legs`` of the Detailed view: one per agent party (a transfer adds one) and one per
    supervisor who listened. UNCONFIRMED: which ``legType``/``action`` RingCentral gives a
    RingCX queue or campaign leg; callscope says ``PstnToSip``/``SipToPstnUnmetered`` for the
    first agent, ``TransferCall``/``Transfer`` for the next, ``Monitoring`` for a supervisor."""
    legs: list[dict[str, Any]] = []
    first_agent = True
    for p in parties:
        if p.role not in ("agent", "supervisor"):
            continue
        ext = extensions.get(p.extension_id) if p.extension_id is not None else None
        ended = p.status_code in _ENDED or not session.live
        if p.role == "supervisor":
            action, leg_type, direction = "Monitoring", "Monitoring", "Outbound"
            from_: dict[str, Any] = {"name": ext.name if ext else p.from_name}
            if p.from_number:
                from_["phoneNumber"] = p.from_number  # the supervisor's extension number
            if p.extension_id is not None:
                from_["extensionId"] = str(p.extension_id)
            to: dict[str, Any] = {"name": p.to_name} if p.to_name else {}
        else:
            direction = session.direction
            if first_agent:
                action = "Phone Call"
                leg_type = "SipToPstnUnmetered" if direction == "Outbound" else "PstnToSip"
            else:
                action, leg_type = "Transfer", "TransferCall"
            from_, to = _sides(call, direction, p.to_name, ext, p.extension_id)
        leg: dict[str, Any] = {
            "startTime": iso(p.created_at),
            "duration": _seconds(p.created_at, p.updated_at if ended else now),
            "type": "Voice",
            "direction": direction,
            "action": action,
            "result": ENDED_RESULT if ended else LIVE_RESULT,
            "legType": leg_type,
            "from": from_,
            "to": to,
            "transport": "PSTN" if p.role == "agent" else "VoIP",
            "telephonySessionId": session.id,
            "master": p.role == "agent" and first_agent,
        }
        if p.extension_id is not None:
            leg["extension"] = {"id": p.extension_id, "uri": f"{base}/extension/{p.extension_id}"}
        if leg["master"] and recording is not None:
            leg["recording"] = recording
        if p.role == "agent":
            first_agent = False
        legs.append(leg)
    return legs


def call_log_record(
    call: Call,
    session: TelephonySession,
    parties: Sequence[Party],
    *,
    base: str,
    now: datetime,
    extensions: Mapping[int, Extension] | None = None,
    extension_id: int | None = None,
    detailed: bool = False,
) -> dict[str, Any]:
    """One call as RingCentral's ``CallLogRecord``.

    Args:
        base: ``<origin>/restapi/v1.0/account/<accountId>``.
        now: the duration of a call in progress runs to this time.
        extensions: the parties' extensions by id (names and extension numbers).
        extension_id: the extension whose log this record is read from (its own party is
            the record's ``partyId`` and ``extension``; default: the current agent).
        detailed: add ``legs`` (``view=Detailed``).
    """
    extensions = extensions or {}
    agent = owner_party(parties, extension_id)
    agent_ext_id = agent.extension_id if agent is not None else None
    agent_ext = extensions.get(agent_ext_id) if agent_ext_id is not None else None
    live = bool(session.live)
    if live:
        seconds = _seconds(call.started_at, now)
        duration_ms = seconds * 1000
    elif call.duration_ms is not None:
        duration_ms = int(call.duration_ms)
        seconds = duration_ms // 1000
    else:
        seconds = _seconds(call.started_at, call.ended_at or call.started_at)
        duration_ms = seconds * 1000
    caller, called = _sides(
        call, session.direction, agent.to_name if agent else None, agent_ext, agent_ext_id
    )
    rid = record_id(call.id)
    owner = f"{base}/extension/{agent_ext_id}" if agent_ext_id is not None else base
    record: dict[str, Any] = {
        "id": rid,
        "uri": f"{owner}/call-log/{rid}",
        "sessionId": call.session_id or call.id,
        "telephonySessionId": session.id,
        "startTime": iso(call.started_at),
        "duration": seconds,
        "durationMs": duration_ms,
        "type": "Voice",
        "direction": session.direction,
        "action": "Phone Call",
        "result": LIVE_RESULT if live else ENDED_RESULT,
        "transport": "PSTN",
        "from": caller,
        "to": called,
        "lastModifiedTime": iso(call.ended_at or call.started_at),
    }
    if agent is not None:
        record["partyId"] = agent.id
    if agent_ext_id is not None:
        record["extension"] = {"id": agent_ext_id, "uri": owner}
    recording = recording_json(call, base) if has_recording(call, session) else None
    if recording is not None:
        record["recording"] = recording
    if detailed:
        record["legs"] = _legs(call, session, parties, extensions, base, now, recording)
    return record
