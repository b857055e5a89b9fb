"""Subscription event filters (spec §8–9): parse, validate and resolve ``~``.

Pure: no database. :func:`parse_filter` turns one filter string into an
:class:`EventFilter` whose ``text`` has ``~`` replaced by the concrete account and
extension ids, as RingCentral echoes it back. Which extensions exist (and belong to the
caller's account) is checked by the caller with the ids this returns.

Three outcomes for a filter string:

* one callscope produces events for — telephony sessions (account, extension), presence
  (extension, account, the lines an extension monitors), insights, device state, and the
  subscription's renewal reminder: an :class:`EventFilter`;
* another of RingCentral's event filters, which callscope produces nothing for (message
  store, SMS, voicemail, team messaging, …): :class:`Unsupported` — the subscription is
  still made and lists it in ``disabledFilters`` (spec §8.1), as RingCentral does for
  filters the user may not receive;
* anything else — no RingCentral event filter, an unknown or repeated query parameter or a
  bad value of a supported filter: :class:`FilterError` (SUB-508).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

from callscope.digits import is_digits

__all__ = [
    "FILTER_KINDS",
    "EventFilter",
    "FilterError",
    "ForeignAccount",
    "Unsupported",
    "parse_filter",
]

FILTER_KINDS = ("telephony", "presence", "insights", "device", "reminder")

_TELEPHONY = re.compile(
    r"^/restapi/v1\.0/account/(?P<acc>~|\d{1,20})"
    r"(?:/extension/(?P<ext>~|\d{1,20}))?/telephony/sessions$"
)
#: an extension's presence; ``/presence/line/presence`` the presence of the extensions it
#: monitors; without ``/extension/…`` every extension's of the account (spec §9.3)
_PRESENCE = re.compile(
    r"^/restapi/v1\.0/account/(?P<acc>~|\d{1,20})"
    r"(?:/extension/(?P<ext>~|\d{1,20})(?P<line>/presence/line)?)?/presence$"
)
#: the subscription's own renewal reminder (spec §8.1); ``~`` is the subscription
_REMINDER = re.compile(r"^/restapi/v1\.0/subscription/~$")
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
#: a value checked below (E.164 numbers, seconds)
_CHECKED = None
#: any value, not used (RingCentral's own widgets send ``totalActiveCalls`` with none;
#: callscope's presence bodies always carry it)
_ANY: tuple[str, ...] = ()
_A = r"(?:~|\d{1,20})"  # an account or extension: ~ or an id
_ID = r"[A-Za-z0-9-]{1,64}"
#: RingCentral's other event filters (developer guide, "Creating Webhooks" and the API
#: reference's event list, and those its own widgets subscribe): callscope has none of
#: their events, so they are disabled, not refused. A path outside them is no event
#: filter at all (SUB-508), as RingCentral answers it.
_KNOWN = re.compile(
    r"^(?:"
    rf"/restapi/v1\.0/account/(?P<acc>{_A})(?:"
    rf"/extension(?:/{_A}(?:"
    r"/message-store(?:/instant)?|/voicemail|/fax|/missed-calls|/start-ring|/stop-ring"
    r"|/presence/dnd|/presence/line|/favorite(?:/presence)?|/grant|/telephony"
    r"|/incoming-call-pickup"
    r")?)?"
    rf"|/a2p-sms/(?:batches(?:/{_ID})?|messages|opt-outs|statuses)"
    r"|/directory/(?:entries|contacts)"
    rf"|/device/{_ID}/emergency-address"
    r"|/phone-number"
    r"|/message-threads(?:/entries)?/sync"
    r")"
    r"|/restapi/v1\.0/glip/(?:posts|groups|chats|teams|conversations|events|notes|tasks)"
    r"|/team-messaging/v1/[a-z-]{1,32}(?:/[a-z-]{1,32})?"
    r")$"
)
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
MAX_FILTER_CHARS = 1000
#: allowed query parameters per kind, with a check of the value
_QUERY: dict[str, dict[str, tuple[str, ...] | None]] = {
    "telephony": {
        "direction": ("Inbound", "Outbound"),
        "missedCall": _BOOL,
        "phoneNumber": _CHECKED,  # E.164
        "sipData": _BOOL,
        "statusCode": STATUS_CODES,
        "withRecordings": _BOOL,
    },
    # UNCONFIRMED (spec §14.7): whether account presence takes detailedTelephonyState;
    # callscope accepts it there as on an extension's presence
    "presence": {"detailedTelephonyState": _BOOL, "sipData": _BOOL, "totalActiveCalls": _ANY},
    "insights": {},
    "device": {},
    "reminder": {"threshold": _CHECKED, "interval": _CHECKED},
}


class FilterError(ValueError):
    """An event filter that is not valid (SUB-508)."""


class ForeignAccount(FilterError):
    """A filter naming another account (SUB-406)."""


class Unsupported(FilterError):
    """A well-formed RingCentral filter callscope produces no events for: the subscription
    lists it in ``disabledFilters``. ``text`` is the filter as given (stripped)."""

    def __init__(self, text: str, message: str) -> None:
        super().__init__(message)
        self.text = text
        self.message = message


@dataclass(frozen=True, slots=True)
class EventFilter:
    kind: str
    account_id: str
    extension_id: int | None
    query: dict[str, str] = field(default_factory=dict)
    domain: str | None = None
    text: str = ""
    #: presence of the extensions ``extension_id`` monitors (``…/presence/line/presence``)
    line: bool = False

    def flag(self, name: str) -> bool:
        return self.query.get(name) == "true"

    @property
    def threshold_s(self) -> int:
        """A renewal reminder's ``threshold``: remind when the expiry is this close."""
        return int(self.query.get("threshold", "0"))

    @property
    def interval_s(self) -> int:
        """A renewal reminder's ``interval``: remind again after this long."""
        return int(self.query.get("interval", "0"))


def parse_filter(raw: object, *, account_id: str, owner_extension_id: int) -> EventFilter:
    """Parse one filter for a subscriber of ``account_id`` (``~`` = that account; an
    extension ``~`` = the subscriber's own extension).

    Raises:
        ForeignAccount: the filter names another account.
        Unsupported: a well-formed filter callscope produces no events for.
        FilterError: anything else wrong with it; the message says what.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise FilterError(f"{raw!r} is not a filter string")
    if len(raw) > MAX_FILTER_CHARS:
        raise FilterError(f"a filter of {len(raw)} characters (at most {MAX_FILTER_CHARS})")
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
            ("reminder", _REMINDER),
        )
        if (m := pattern.match(path)) is not None
    ]
    if not found:
        _unsupported(raw.strip(), path, pairs, account_id)
    kind, m = found[0]
    groups = m.groupdict()
    acc = groups.get("acc", "~")
    if acc not in ("~", account_id):
        raise ForeignAccount(f"{raw}: another account")
    ext_raw = groups.get("ext")
    extension_id = owner_extension_id if kind == "device" else None
    if ext_raw is not None:
        extension_id = owner_extension_id if ext_raw == "~" else int(ext_raw)
    line = groups.get("line") is not None
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
        if choices and value not in choices:  # None and _ANY: checked below, or not at all
            raise FilterError(f"{raw}: {key}={value!r}; use one of {', '.join(choices)}")
        if key == "phoneNumber" and not re.fullmatch(r"\+\d{6,15}", value):
            raise FilterError(f"{raw}: phoneNumber must be E.164 with a leading +")
        if kind == "reminder" and not (is_digits(value) and 1 <= int(value) <= 10**9):
            raise FilterError(f"{raw}: {key} must be a whole number of seconds")
        query[key] = value
    if kind == "reminder" and set(query) != {"threshold", "interval"}:
        raise FilterError(f"{raw}: a renewal reminder needs threshold and interval (seconds)")
    if kind == "presence" and "detailedTelephonyState" not in query:
        query["detailedTelephonyState"] = "false"
    text = _text(kind, account_id, extension_id, domain, pairs, line=line)
    return EventFilter(kind, account_id, extension_id, query, domain, text, line)


def _unsupported(raw: str, path: str, pairs: list[tuple[str, str]], account_id: str) -> None:
    """Raise :class:`Unsupported` for another event filter of RingCentral's (another
    account's is still refused), :class:`FilterError` for anything else."""
    known = _KNOWN.match(path)
    if known is None or any(not _KEY.match(k) for k, _ in pairs):
        raise FilterError(f"{raw}: not a RingCentral event filter")
    if known.group("acc") not in (None, "~", account_id):
        raise ForeignAccount(f"{raw}: another account")
    raise Unsupported(
        raw,
        f"{raw}: callscope produces no events for this filter (it produces telephony "
        "sessions, presence, insights, device state and subscription renewal reminders)",
    )


def _text(
    kind: str,
    account_id: str,
    extension_id: int | None,
    domain: str | None,
    pairs: list[tuple[str, str]],
    *,
    line: bool = False,
) -> str:
    """The filter as RingCentral echoes it: ``~`` resolved, the query kept as given.

    The renewal reminder keeps its ``~``: receivers compare a reminder's ``event`` with the
    filter they subscribed (RingCentral's own samples test ``event ==
    "/restapi/v1.0/subscription/~?threshold=60&interval=15"``)."""
    if kind == "device":
        return "/v2/me/devices"
    if kind == "insights":
        path = f"/ai/ringsense/v1/public/accounts/{account_id}/domains/{domain}/insights"
    elif kind == "reminder":
        path = "/restapi/v1.0/subscription/~"
    else:
        path = f"/restapi/v1.0/account/{account_id}"
        if extension_id is not None:
            path += f"/extension/{extension_id}"
            if line:
                path += "/presence/line"
        path += "/telephony/sessions" if kind == "telephony" else "/presence"
    query = urllib.parse.urlencode(pairs, safe="+")
    return f"{path}?{query}" if query else path
