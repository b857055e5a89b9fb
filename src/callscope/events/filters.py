"""Subscription event filters (spec §8–9): parse, validate and resolve ``~``.

Pure: no database. :func:`parse_filter` turns one filter string into an
:class:`EventFilter` whose ``text`` has ``~`` replaced by the concrete account and
extension ids, as RingCentral echoes it back. Which extensions exist (and belong to the
caller's account) is checked by the caller with the ids this returns.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

__all__ = ["FILTER_KINDS", "EventFilter", "FilterError", "ForeignAccount", "parse_filter"]

FILTER_KINDS = ("telephony", "presence", "insights", "device")

_TELEPHONY = re.compile(
    r"^/restapi/v1\.0/account/(?P<acc>~|\d{1,20})"
    r"(?:/extension/(?P<ext>~|\d{1,20}))?/telephony/sessions$"
)
_PRESENCE = re.compile(
    r"^/restapi/v1\.0/account/(?P<acc>~|\d{1,20})/extension/(?P<ext>~|\d{1,20})/presence$"
)
#: the supervisor's device-state channel, named as Genesys names it (CometD ``/v2/me/devices``):
#: ``DeviceStateChangeMessage`` for the subscriber's own devices
_DEVICE = re.compile(r"^/v2/me/devices$")
_INSIGHTS = re.compile(
    r"^/ai/ringsense/v1/public/accounts/(?P<acc>~|\d{1,20})/domains/(?P<domain>[a-z-]{2,20})"
    r"/insights$"
)

STATUS_CODES = (
    "Setup",
    "Proceeding",
    "Answered",
    "Disconnected",
    "Gone",
    "Parked",
    "Hold",
    "VoiceMail",
    "FaxReceive",
    "VoiceMailScreening",
)
DOMAINS = ("pbx", "rcv", "rcx", "ms-teams", "nice-incontact")
_BOOL = ("true", "false")
#: allowed query parameters per kind, with a check of the value
_QUERY: dict[str, dict[str, tuple[str, ...] | None]] = {
    "telephony": {
        "direction": ("Inbound", "Outbound"),
        "missedCall": _BOOL,
        "phoneNumber": None,  # checked below: E.164
        "sipData": _BOOL,
        "statusCode": STATUS_CODES,
        "withRecordings": _BOOL,
    },
    "presence": {"detailedTelephonyState": _BOOL, "sipData": _BOOL},
    "insights": {},
    "device": {},
}


class FilterError(ValueError):
    """An event filter that is not valid (SUB-508)."""


class ForeignAccount(FilterError):
    """A filter naming another account (SUB-406)."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    kind: str
    account_id: str
    extension_id: int | None
    query: dict[str, str] = field(default_factory=dict)
    domain: str | None = None
    text: str = ""

    def flag(self, name: str) -> bool:
        return self.query.get(name) == "true"


def parse_filter(raw: object, *, account_id: str, owner_extension_id: int) -> EventFilter:
    """Parse one filter for a subscriber of ``account_id`` (``~`` = that account; an
    extension ``~`` = the subscriber's own extension).

    Raises:
        ForeignAccount: the filter names another account.
        FilterError: anything else wrong with it; the message says what.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise FilterError(f"{raw!r} is not a filter string")
    path, _, query_text = raw.strip().partition("?")
    try:
        # a filter is not form-encoded: "+" in phoneNumber=+1650... is a plus, not a space
        pairs = urllib.parse.parse_qsl(query_text.replace("+", "%2B"), keep_blank_values=True)
    except ValueError as exc:
        raise FilterError(f"{raw}: bad query string") from exc
    found = [
        (kind, m)
        for kind, pattern in (
            ("telephony", _TELEPHONY),
            ("presence", _PRESENCE),
            ("insights", _INSIGHTS),
            ("device", _DEVICE),
        )
        if (m := pattern.match(path)) is not None
    ]
    if not found:
        raise FilterError(f"{raw}: not a supported event filter")
    kind, m = found[0]
    groups = m.groupdict()
    acc = groups.get("acc", "~")
    if acc not in ("~", account_id):
        raise ForeignAccount(f"{raw}: another account")
    ext_raw = groups.get("ext")
    extension_id = owner_extension_id if kind == "device" else None
    if ext_raw is not None:
        extension_id = owner_extension_id if ext_raw == "~" else int(ext_raw)
    domain = groups.get("domain")
    if domain is not None and domain not in DOMAINS:
        raise FilterError(f"{raw}: unknown insights domain {domain!r}")
    query: dict[str, str] = {}
    allowed = _QUERY[kind]
    for key, value in pairs:
        if key not in allowed:
            raise FilterError(f"{raw}: unknown parameter {key!r}")
        if key in query:
            raise FilterError(f"{raw}: parameter {key!r} given twice")
        choices = allowed[key]
        if choices is not None and value not in choices:
            raise FilterError(f"{raw}: {key}={value!r}; use one of {', '.join(choices)}")
        if key == "phoneNumber" and not re.fullmatch(r"\+\d{6,15}", value):
            raise FilterError(f"{raw}: phoneNumber must be E.164 with a leading +")
        query[key] = value
    if kind == "presence" and "detailedTelephonyState" not in query:
        query["detailedTelephonyState"] = "false"
    text = _text(kind, account_id, extension_id, domain, pairs)
    return EventFilter(kind, account_id, extension_id, query, domain, text)


def _text(
    kind: str,
    account_id: str,
    extension_id: int | None,
    domain: str | None,
    pairs: list[tuple[str, str]],
) -> str:
    """The filter as RingCentral echoes it: ``~`` resolved, the query kept as given."""
    if kind == "device":
        return "/v2/me/devices"
    if kind == "insights":
        path = f"/ai/ringsense/v1/public/accounts/{account_id}/domains/{domain}/insights"
    else:
        path = f"/restapi/v1.0/account/{account_id}"
        if extension_id is not None:
            path += f"/extension/{extension_id}"
        path += "/telephony/sessions" if kind == "telephony" else "/presence"
    query = urllib.parse.urlencode(pairs, safe="+")
    return f"{path}?{query}" if query else path
