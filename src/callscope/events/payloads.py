"""Event bodies (spec §9) and how one event looks to one subscription filter.

Pure: no I/O. The telephony service builds a body with *every* party of the session; at
fan-out :func:`render` cuts it down to what a filter may see, as RingCentral does: an
account-level filter sees the parties of its account, an extension-level filter the parties
of that extension (a PSTN caller is never a party of an event, spec §9.2), and the query
parameters keep only the parties that match. A filter left with no party gets no event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callscope.calls.views import iso
from callscope.events.filters import EventFilter

__all__ = [
    "EventKind",
    "envelope",
    "presence_body",
    "reminder_body",
    "render",
    "telephony_body",
]


class EventKind:
    TELEPHONY = "telephony"
    PRESENCE = "presence"
    INSIGHTS = "insights"
    DEVICE = "device"
    #: a subscription's renewal reminder (for that subscription only)
    SUBSCRIPTION = "subscription"


#: the ``serverId`` of telephony events (RingCentral names its media server here)
SERVER_ID = "callscope"


def telephony_body(
    *,
    sequence: int,
    session_id: str,
    telephony_session_id: str,
    event_time: datetime,
    parties: list[dict[str, Any]],
    origin: str = "Call",
) -> dict[str, Any]:
    """A TelephonySessionsEventBody with every party (spec §9.2)."""
    return {
        "sequence": sequence,
        "sessionId": session_id,
        "telephonySessionId": telephony_session_id,
        "serverId": SERVER_ID,
        "eventTime": iso(event_time),
        "origin": {"type": origin},
        "parties": parties,
    }


@dataclass(frozen=True, slots=True)
class ActiveCall:
    """One entry of a detailed presence event's ``activeCalls`` (spec §9.3)."""

    call_id: str
    direction: str
    from_number: str | None
    from_name: str | None
    to_number: str | None
    to_name: str | None
    start_time: datetime
    telephony_status: str
    session_id: str
    telephony_session_id: str
    party_id: str

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.call_id,
            "direction": self.direction,
            "queueCall": self.direction == "Inbound",
            "from": self.from_number or "",
            "fromName": self.from_name or "",
            "to": self.to_number or "",
            "toName": self.to_name or "",
            "startTime": iso(self.start_time),
            "telephonyStatus": self.telephony_status,
            "sessionId": self.session_id,
            "telephonySessionId": self.telephony_session_id,
            "partyId": self.party_id,
        }
        if self.telephony_status == "NoCall":
            out["terminationType"] = "final"
        return out


def presence_body(extension_id: int, calls: list[ActiveCall]) -> dict[str, Any]:
    """A detailed presence body (spec §9.3) for an extension with these calls (the ended
    one, if any, listed as ``NoCall``). ``sequence`` is filled in at fan-out."""
    live = [c for c in calls if c.telephony_status != "NoCall"]
    if any(c.telephony_status == "CallConnected" for c in live):
        status = "CallConnected"
    elif any(c.telephony_status == "Ringing" for c in live):
        status = "Ringing"
    elif live:
        status = live[0].telephony_status
    else:
        status = "NoCall"
    return {
        "extensionId": str(extension_id),
        "telephonyStatus": status,
        "activeCalls": [c.json() for c in calls[-7:]],
        "sequence": 0,
        "presenceStatus": "Busy" if live else "Available",
        "userStatus": "Available",
        "meetingStatus": "Disconnected",
        "dndStatus": "TakeAllCalls",
        "allowSeeMyPresence": True,
        "ringOnMonitoredCall": False,
        "pickUpCallsOnHold": False,
        "totalActiveCalls": len(live),
        "ownerId": str(extension_id),
    }


def reminder_body(
    subscription_id: str, filter_text: str, expiration_time: datetime, expires_in_s: int
) -> dict[str, Any]:
    """A renewal reminder as written to the outbox: for one subscription and one of its
    reminder filters. What its notification's ``body`` shows is :func:`render`'s.

    Guide ("Create Webhook Renewal Event Filter"): "reminder events have a simple body with
    an ``expiresIn`` property". UNCONFIRMED: any other field; callscope adds the
    ``expirationTime`` it knows, nothing else."""
    return {
        "subscriptionId": subscription_id,
        "filter": filter_text,
        "expiresIn": max(0, expires_in_s),
        "expirationTime": iso(expiration_time),
    }


def _party_matches(f: EventFilter, party: dict[str, Any]) -> bool:
    if f.extension_id is None:
        if party.get("accountId") != f.account_id:
            return False
    elif party.get("extensionId") != str(f.extension_id):
        return False
    q = f.query
    if "direction" in q and party.get("direction") != q["direction"]:
        return False
    if "statusCode" in q and party.get("status", {}).get("code") != q["statusCode"]:
        return False
    if "phoneNumber" in q and q["phoneNumber"] not in (
        party.get("from", {}).get("phoneNumber"),
        party.get("to", {}).get("phoneNumber"),
    ):
        return False
    if "missedCall" in q and bool(party.get("missedCall")) != (q["missedCall"] == "true"):
        return False
    return not (
        "withRecordings" in q and bool(party.get("recordings")) != (q["withRecordings"] == "true")
    )


def render(
    f: EventFilter,
    *,
    kind: str,
    account_id: str,
    extension_id: int | None,
    payload: dict[str, Any],
    event_id: int,
    subscription_id: str = "",
    monitored: frozenset[int] = frozenset(),
) -> dict[str, Any] | None:
    """The body ``f`` receives for this event, or None if the filter does not match it.

    ``subscription_id``: the subscription ``f`` belongs to (a renewal reminder is for its
    own subscription only); ``monitored``: the extensions the filter's extension may monitor
    now (what its ``…/presence/line/presence`` filter sees)."""
    if account_id != f.account_id:
        return None
    if kind == EventKind.TELEPHONY:
        if f.kind != "telephony":
            return None
        parties = [p for p in payload.get("parties", []) if _party_matches(f, p)]
        if not parties:
            return None
        body = {**payload, "parties": parties}
        if f.extension_id is not None:
            body["accountId"] = account_id
            body["extensionId"] = str(f.extension_id)
        return body
    if kind == EventKind.PRESENCE:
        if f.kind != "presence" or extension_id is None:
            return None
        if f.line:
            # the presence lines of an extension: those its monitoring groups let it monitor.
            # UNCONFIRMED: RingCentral's lines are the BLF lines set up on the user's phone;
            # callscope has none, and the monitoring groups are its nearest equivalent
            if extension_id not in monitored:
                return None
        elif f.extension_id is not None and f.extension_id != extension_id:
            return None  # (no extension: account presence, every extension's)
        body = {**payload, "sequence": event_id}
        if not f.flag("detailedTelephonyState"):
            body.pop("activeCalls", None)
        return body
    if kind == EventKind.INSIGHTS:
        if f.kind != "insights" or payload.get("domain", "pbx") != f.domain:
            return None
        return dict(payload)
    if kind == EventKind.DEVICE:
        if f.kind != "device" or f.extension_id != extension_id:
            return None
        return dict(payload)
    if kind == EventKind.SUBSCRIPTION:
        if (
            f.kind != "reminder"
            or payload.get("subscriptionId") != subscription_id
            or payload.get("filter") != f.text
        ):
            return None
        return {k: v for k, v in payload.items() if k not in ("subscriptionId", "filter")}
    return None


def envelope(
    f: EventFilter, *, subscription_id: str, owner_extension_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    """The notification envelope (spec §9.1) less ``timestamp``, which is the sending time.
    ``uuid`` stays the same across retries, so a receiver can drop a repeat."""
    return {
        "uuid": str(uuid.uuid4()),
        "event": f.text,
        "subscriptionId": subscription_id,
        "ownerId": str(owner_extension_id),
        "body": body,
    }
