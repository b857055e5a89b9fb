"""Subscription event filters: the supported shapes, `~` resolution, the well-formed ones
callscope produces nothing for (disabled, not refused), and refusals."""

from __future__ import annotations

import pytest

from callscope.api.subscription_views import split_filters
from callscope.events.filters import FilterError, ForeignAccount, Unsupported, parse_filter


def parse(raw: object):  # type: ignore[no-untyped-def]
    return parse_filter(raw, account_id="70000001", owner_extension_id=101)


@pytest.mark.parametrize(
    ("raw", "kind", "extension", "text"),
    [
        (
            "/restapi/v1.0/account/~/telephony/sessions",
            "telephony",
            None,
            "/restapi/v1.0/account/70000001/telephony/sessions",
        ),
        (
            "/restapi/v1.0/account/~/extension/~/telephony/sessions?statusCode=Answered",
            "telephony",
            101,
            "/restapi/v1.0/account/70000001/extension/101/telephony/sessions?statusCode=Answered",
        ),
        (
            "/restapi/v1.0/account/70000001/extension/102/presence?detailedTelephonyState=true",
            "presence",
            102,
            "/restapi/v1.0/account/70000001/extension/102/presence?detailedTelephonyState=true",
        ),
        (
            "/ai/ringsense/v1/public/accounts/~/domains/pbx/insights",
            "insights",
            None,
            "/ai/ringsense/v1/public/accounts/70000001/domains/pbx/insights",
        ),
        (
            "/restapi/v1.0/account/~/telephony/sessions?phoneNumber=+16505550123&direction=Inbound",
            "telephony",
            None,
            "/restapi/v1.0/account/70000001/telephony/sessions?phoneNumber=+16505550123&direction=Inbound",
        ),
        (
            "/restapi/v1.0/account/~/presence?detailedTelephonyState=true",
            "presence",
            None,
            "/restapi/v1.0/account/70000001/presence?detailedTelephonyState=true",
        ),
        (
            "/restapi/v1.0/account/~/extension/~/presence/line/presence",
            "presence",
            101,
            "/restapi/v1.0/account/70000001/extension/101/presence/line/presence",
        ),
        (
            # RingCentral's widgets send totalActiveCalls without a value
            "/restapi/v1.0/account/~/extension/~/presence?detailedTelephonyState=true"
            "&sipData=true&totalActiveCalls",
            "presence",
            101,
            "/restapi/v1.0/account/70000001/extension/101/presence?detailedTelephonyState=true"
            "&sipData=true&totalActiveCalls=",
        ),
        (
            # the reminder keeps its ~: receivers compare the event with what they subscribed
            "/restapi/v1.0/subscription/~?threshold=60&interval=15",
            "reminder",
            None,
            "/restapi/v1.0/subscription/~?threshold=60&interval=15",
        ),
    ],
)
def test_supported_filters_resolve_tilde(
    raw: str, kind: str, extension: int | None, text: str
) -> None:
    f = parse(raw)
    assert (f.kind, f.account_id, f.extension_id, f.text) == (kind, "70000001", extension, text)


def test_presence_without_detail_is_simple_presence() -> None:
    f = parse("/restapi/v1.0/account/~/extension/~/presence")
    assert not f.flag("detailedTelephonyState")
    assert not f.line
    assert parse(f.text + "?detailedTelephonyState=true").flag("detailedTelephonyState")
    assert parse("/restapi/v1.0/account/~/extension/102/presence/line/presence").line


def test_a_reminder_carries_its_seconds() -> None:
    f = parse("/restapi/v1.0/subscription/~?interval=15&threshold=60")
    assert (f.threshold_s, f.interval_s) == (60, 15)
    assert f.text == "/restapi/v1.0/subscription/~?interval=15&threshold=60"  # as given


@pytest.mark.parametrize(
    "raw",
    [
        "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS",
        "/restapi/v1.0/account/~/extension/~/message-store",
        "/restapi/v1.0/account/70000001/extension/102/voicemail",
        "/restapi/v1.0/account/~/extension/~/presence/line",
        "/restapi/v1.0/account/~/extension/~/favorite/presence?detailedTelephonyState=true",
        "/restapi/v1.0/glip/posts",
        "/team-messaging/v1/chats",
        " /restapi/v1.0/account/~/a2p-sms/opt-outs ",
        "/restapi/v1.0/account/~/extension",
        "/restapi/v1.0/account/~/extension/~",
        "/restapi/v1.0/account/~/extension/~/telephony?action=call-answered-elsewhere",
    ],
)
def test_well_formed_filters_without_events_are_unsupported_not_invalid(raw: str) -> None:
    with pytest.raises(Unsupported) as info:
        parse(raw)
    assert info.value.text == raw.strip()
    assert "produces no events" in info.value.message


@pytest.mark.parametrize(
    "raw",
    [
        "/restapi/v1.0/account/~/telephony/sessions?statusCode=Ringing",
        "/restapi/v1.0/account/~/telephony/sessions?bogus=1",
        "/restapi/v1.0/account/~/telephony/sessions?direction=Inbound&direction=Outbound",
        "/restapi/v1.0/account/~/telephony/sessions?phoneNumber=6505550123",
        "/ai/ringsense/v1/public/accounts/~/domains/zoom/insights",
        "/restapi/v1.0/account/~/presence?detailedTelephonyState=maybe",
        "/restapi/v1.0/subscription/~",
        "/restapi/v1.0/subscription/~?threshold=60",
        "/restapi/v1.0/subscription/~?threshold=sixty&interval=15",
        "/restapi/v1.0/subscription/~?threshold=60&interval=0",
        "/restapi/v1.0/subscription/~?threshold=60&interval=15&every=1",
        "/restapi/v1.0/account/abc/extension/~/message-store",
        "/restapi/v1.0/account/~/extension/~/message store",
        "/restapi/v1.0/account/~/extension/~/message-store?1=2",
        "restapi/v1.0/account/~/extension/~/message-store",
        "/v3/me/devices",
        "/restapi/v1.0/nonsense",
        "/restapi/v1.0/account/~/extension/~/messages",
        "/restapi/v1.0/account/~",
        "https://platform.ringcentral.com/restapi/v1.0/glip/posts",
        "/restapi/v1.0/" + "x/" * 600,
        "",
        42,
        None,
    ],
)
def test_invalid_filters_are_refused_with_a_reason(raw: object) -> None:
    with pytest.raises(FilterError) as info:
        parse(raw)
    assert not isinstance(info.value, ForeignAccount | Unsupported)
    assert str(info.value)


@pytest.mark.parametrize(
    "raw",
    [
        "/restapi/v1.0/account/70000002/telephony/sessions",
        "/restapi/v1.0/account/70000002/extension/~/message-store/instant?type=SMS",
    ],
)
def test_another_account_is_its_own_refusal(raw: str) -> None:
    with pytest.raises(ForeignAccount):
        parse(raw)


def test_a_subscription_lists_what_it_delivers_and_what_it_keeps_disabled() -> None:
    stored = [
        "/restapi/v1.0/account/70000001/telephony/sessions",
        "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS",
        "/restapi/v1.0/subscription/~?threshold=60&interval=15",
    ]
    for transport, delivered in (("WebHook", [0, 2]), ("WebSocket", [0])):
        enabled, disabled = split_filters(
            stored, account_id="70000001", owner_extension_id=101, transport=transport
        )
        assert enabled == [stored[i] for i in delivered]
        assert [d["filter"] for d in disabled] == [f for f in stored if f not in enabled]
        assert {d["reason"] for d in disabled} == {"NotSupported"}
    # a WebSocket subscription renews itself: its reminder filter says so
    assert "renews itself" in disabled[-1]["message"]
