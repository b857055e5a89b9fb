"""What one event looks like to one subscription filter (spec §9), and the retry backoff."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from callscope.events.filters import parse_filter
from callscope.events.payloads import (
    ActiveCall,
    EventKind,
    presence_body,
    reminder_body,
    render,
    telephony_body,
)
from callscope.events.sending import backoff_s, notification

ACC = "70000001"
AGENT_EXT = 71000002
OWNER = 71000001
T0 = datetime(2026, 5, 4, 15, 2, 11, 402000, tzinfo=UTC)


def party(pid: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "direction": "Inbound",
        "from": {"phoneNumber": "+16505550123", "name": "Customer"},
        "to": {"phoneNumber": "+16505550900", "name": "Alex Agent"},
        "status": {"code": status, "rcc": False},
        **extra,
    }


def session_event(status: str = "Answered") -> dict[str, Any]:
    return telephony_body(
        sequence=3,
        session_id="9930001",
        telephony_session_id="s-abc",
        event_time=T0,
        parties=[
            party("p-abc-1", status),  # the PSTN caller: no account
            party(
                "p-abc-2",
                status,
                accountId=ACC,
                extensionId=str(AGENT_EXT),
                recordings=[{"id": "abc", "active": True}],
            ),
        ],
    )


def seen(text: str, payload: dict[str, Any], kind: str = EventKind.TELEPHONY, **kw: Any) -> Any:
    f = parse_filter(text, account_id=ACC, owner_extension_id=OWNER)
    return render(
        f,
        kind=kind,
        account_id=kw.get("account_id", ACC),
        extension_id=kw.get("extension_id"),
        payload=payload,
        event_id=kw.get("event_id", 1),
    )


def test_account_level_telephony_sees_the_accounts_parties_only() -> None:
    body = seen("/restapi/v1.0/account/~/telephony/sessions", session_event())
    assert [p["id"] for p in body["parties"]] == ["p-abc-2"]
    assert body["sequence"] == 3
    assert body["eventTime"] == "2026-05-04T15:02:11.402Z"
    assert body["telephonySessionId"] == "s-abc"
    assert "extensionId" not in body


def test_extension_level_telephony_names_the_extension() -> None:
    body = seen(
        f"/restapi/v1.0/account/~/extension/{AGENT_EXT}/telephony/sessions", session_event()
    )
    assert [p["id"] for p in body["parties"]] == ["p-abc-2"]
    assert (body["accountId"], body["extensionId"]) == (ACC, str(AGENT_EXT))
    assert seen("/restapi/v1.0/account/~/extension/~/telephony/sessions", session_event()) is None


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ("statusCode=Answered", True),
        ("statusCode=Disconnected", False),
        ("direction=Inbound", True),
        ("direction=Outbound", False),
        ("phoneNumber=+16505550123", True),
        ("phoneNumber=+16505550999", False),
        ("withRecordings=true", True),
        ("withRecordings=false", False),
        ("missedCall=false", True),
        ("missedCall=true", False),
    ],
)
def test_telephony_query_parameters_keep_matching_parties(query: str, matches: bool) -> None:
    body = seen(f"/restapi/v1.0/account/~/telephony/sessions?{query}", session_event())
    assert (body is not None) is matches


def test_another_accounts_event_is_never_seen() -> None:
    assert seen(TEL, session_event(), account_id="80000001") is None


TEL = "/restapi/v1.0/account/~/telephony/sessions"


def presence(status: str) -> dict[str, Any]:
    call = ActiveCall(
        call_id="abc",
        direction="Inbound",
        from_number="+16505550123",
        from_name="Customer",
        to_number="+16505550900",
        to_name="Alex Agent",
        start_time=T0,
        telephony_status=status,
        session_id="9930001",
        telephony_session_id="s-abc",
        party_id="p-abc-2",
    )
    return presence_body(AGENT_EXT, [call])


def test_presence_detailed_or_not() -> None:
    path = f"/restapi/v1.0/account/~/extension/{AGENT_EXT}/presence"
    detailed = seen(
        path + "?detailedTelephonyState=true",
        presence("CallConnected"),
        EventKind.PRESENCE,
        extension_id=AGENT_EXT,
        event_id=812,
    )
    assert detailed["telephonyStatus"] == "CallConnected"
    assert detailed["sequence"] == 812
    assert detailed["totalActiveCalls"] == 1
    assert detailed["presenceStatus"] == "Busy"
    assert detailed["activeCalls"][0]["partyId"] == "p-abc-2"
    assert detailed["activeCalls"][0]["startTime"] == "2026-05-04T15:02:11.402Z"
    simple = seen(path, presence("CallConnected"), EventKind.PRESENCE, extension_id=AGENT_EXT)
    assert "activeCalls" not in simple
    assert simple["telephonyStatus"] == "CallConnected"
    other = seen(path, presence("CallConnected"), EventKind.PRESENCE, extension_id=AGENT_EXT + 1)
    assert other is None


def test_presence_after_the_last_call_is_nocall_with_a_final_entry() -> None:
    body = presence("NoCall")
    assert (body["telephonyStatus"], body["totalActiveCalls"]) == ("NoCall", 0)
    assert body["presenceStatus"] == "Available"
    assert body["activeCalls"][0]["terminationType"] == "final"
    assert presence("Ringing")["telephonyStatus"] == "Ringing"


def test_insights_by_domain_and_device_state_for_the_owner() -> None:
    insights = "/ai/ringsense/v1/public/accounts/~/domains/pbx/insights"
    doc = {"domain": "pbx", "sourceRecordId": "abc", "insights": {}}
    assert seen(insights, doc, EventKind.INSIGHTS) == doc
    assert seen(insights.replace("pbx", "rcx"), doc, EventKind.INSIGHTS) is None

    f = parse_filter("/v2/me/devices", account_id=ACC, owner_extension_id=OWNER)
    assert (f.kind, f.extension_id, f.text) == ("device", OWNER, "/v2/me/devices")
    state = {"messageType": "DeviceStateChangeMessage", "devices": [{"id": "d1"}]}
    assert seen("/v2/me/devices", state, EventKind.DEVICE, extension_id=OWNER) == state
    assert seen("/v2/me/devices", state, EventKind.DEVICE, extension_id=AGENT_EXT) is None
    # a device filter sees no telephony event and the reverse
    assert seen("/v2/me/devices", session_event()) is None
    assert seen(TEL, state, EventKind.DEVICE, extension_id=OWNER) is None


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    for attempts, full in [(1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0), (40, 60.0)]:
        for _ in range(50):
            d = backoff_s(attempts, 1.0, 60.0)
            assert full / 2 <= d <= full
    assert len({backoff_s(3, 1.0, 60.0) for _ in range(20)}) > 1  # jittered


def test_notification_is_the_envelope_with_the_sending_time() -> None:
    env = {
        "uuid": "u-1",
        "event": TEL,
        "subscriptionId": "s-1",
        "ownerId": "1",
        "body": {"x": 1},
        "committedAt": 1.0,
    }
    sent = notification(env, T0)
    assert list(sent) == ["uuid", "event", "timestamp", "subscriptionId", "ownerId", "body"]
    assert sent["timestamp"] == "2026-05-04T15:02:11.402Z"


def test_account_presence_sees_every_extension_and_lines_the_monitored_ones() -> None:
    account = seen(
        "/restapi/v1.0/account/~/presence",
        presence("CallConnected"),
        EventKind.PRESENCE,
        extension_id=AGENT_EXT,
    )
    assert account["extensionId"] == str(AGENT_EXT)
    assert "activeCalls" not in account
    assert (
        seen(
            "/restapi/v1.0/account/~/presence",
            presence("Ringing"),
            EventKind.PRESENCE,
            extension_id=AGENT_EXT,
            account_id="80000001",
        )
        is None
    )

    f = parse_filter(
        "/restapi/v1.0/account/~/extension/~/presence/line/presence?detailedTelephonyState=true",
        account_id=ACC,
        owner_extension_id=OWNER,
    )

    def lines(monitored: frozenset[int], extension: int = AGENT_EXT) -> Any:
        return render(
            f,
            kind=EventKind.PRESENCE,
            account_id=ACC,
            extension_id=extension,
            payload=presence("CallConnected"),
            event_id=5,
            monitored=monitored,
        )

    assert lines(frozenset({AGENT_EXT}))["activeCalls"][0]["partyId"] == "p-abc-2"
    assert lines(frozenset()) is None  # not (or no longer) monitored
    assert lines(frozenset({AGENT_EXT}), extension=OWNER) is None  # its own presence is not a line


def test_a_reminder_reaches_its_own_subscription_and_filter_only() -> None:
    text = "/restapi/v1.0/subscription/~?threshold=60&interval=15"
    f = parse_filter(text, account_id=ACC, owner_extension_id=OWNER)
    payload = reminder_body("sub-1", text, T0, 42)

    def as_seen(sub: str, flt: Any = f) -> Any:
        return render(
            flt,
            kind=EventKind.SUBSCRIPTION,
            account_id=ACC,
            extension_id=OWNER,
            payload=payload,
            event_id=9,
            subscription_id=sub,
        )

    assert as_seen("sub-1") == {"expiresIn": 42, "expirationTime": "2026-05-04T15:02:11.402Z"}
    assert as_seen("sub-2") is None
    other = parse_filter(
        "/restapi/v1.0/subscription/~?threshold=600&interval=60",
        account_id=ACC,
        owner_extension_id=OWNER,
    )
    assert as_seen("sub-1", other) is None  # that filter's reminders are its own
    assert as_seen("sub-1", parse_filter(TEL, account_id=ACC, owner_extension_id=OWNER)) is None
