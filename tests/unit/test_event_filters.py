"""Subscription event filters: the supported shapes, `~` resolution, and refusals."""

from __future__ import annotations

import pytest

from callscope.events.filters import FilterError, ForeignAccount, parse_filter


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
    assert parse(f.text + "?detailedTelephonyState=true").flag("detailedTelephonyState")


@pytest.mark.parametrize(
    "raw",
    [
        "/restapi/v1.0/account/~/extension/~/message-store",
        "/restapi/v1.0/account/~/telephony/sessions?statusCode=Ringing",
        "/restapi/v1.0/account/~/telephony/sessions?bogus=1",
        "/restapi/v1.0/account/~/telephony/sessions?direction=Inbound&direction=Outbound",
        "/restapi/v1.0/account/~/telephony/sessions?phoneNumber=6505550123",
        "/ai/ringsense/v1/public/accounts/~/domains/zoom/insights",
        "",
        42,
        None,
    ],
)
def test_invalid_filters_are_refused_with_a_reason(raw: object) -> None:
    with pytest.raises(FilterError) as info:
        parse(raw)
    assert not isinstance(info.value, ForeignAccount)
    assert str(info.value)


def test_another_account_is_its_own_refusal() -> None:
    with pytest.raises(ForeignAccount):
        parse("/restapi/v1.0/account/70000002/telephony/sessions")
