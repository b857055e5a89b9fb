"""Phone numbers in E.164 for parties and events (spec §9.2), as sent when they are none."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callscope.calls.numbers import e164
from callscope.events.filters import parse_filter
from callscope.events.payloads import EventKind, render, telephony_body
from callscope.insights.analyzers import analyze
from callscope.insights.service import build_document
from callscope.store.models import Call, Extension, Party, TelephonySession
from tests.unit.test_event_payloads import ACC, OWNER, T0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6505550123", "+16505550123"),  # ten NANP digits
        ("650 555 0123", "+16505550123"),
        ("650-555-0123", "+16505550123"),
        ("650.555.0123", "+16505550123"),
        ("(650) 555-0123", "+16505550123"),
        ("+1 650 555 0123", "+16505550123"),
        ("+16505550123", "+16505550123"),  # already E.164
        ("1-650-555-0123", "+16505550123"),  # trunk prefix
        ("16505550123", "+16505550123"),
        ("  6505550123\t", "+16505550123"),
        ("tel:+16505550123", "+16505550123"),
        ("+44 20 7946 0958", "+442079460958"),  # international
        ("011 44 20 7946 0958", "+442079460958"),  # dialled from the US
        ("+49 30 901820", "+4930901820"),
    ],
)
def test_numbers_become_e164(raw: str, expected: str) -> None:
    assert e164(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "101",  # an extension number (a supervisor party)
        "5550123",  # seven digits: local only, no area code
        "anonymous",
        "Restricted",
        "",
        "   ",
        "+",
        "12345678901234567",  # too long for any country
        "(650) 555-0123 ext. 12",  # E.164 has no extension
        "6505550123" * 10,
        "not a number 42",
    ],
)
def test_what_is_no_complete_number_is_kept_as_sent(raw: str) -> None:
    assert e164(raw) == raw


def test_none_stays_none() -> None:
    assert e164(None) is None


def test_a_phone_number_filter_matches_a_normalised_caller() -> None:
    f = parse_filter(
        "/restapi/v1.0/account/~/telephony/sessions?phoneNumber=+16505550100",
        account_id=ACC,
        owner_extension_id=OWNER,
    )
    party = {
        "id": "p-1-2",
        "accountId": ACC,
        "extensionId": "71000002",
        "direction": "Inbound",
        "from": {"phoneNumber": e164("6505550100"), "name": "Customer"},
        "to": {"phoneNumber": e164("6505550900")},
        "status": {"code": "Answered", "rcc": False},
    }
    payload = telephony_body(
        sequence=1, session_id="1", telephony_session_id="s-1", event_time=T0, parties=[party]
    )
    body = render(
        f, kind=EventKind.TELEPHONY, account_id=ACC, extension_id=None, payload=payload, event_id=1
    )
    assert body is not None
    assert body["parties"][0]["from"]["phoneNumber"] == "+16505550100"


def test_insights_speaker_info_gives_the_caller_in_e164() -> None:
    now = datetime(2026, 5, 4, 15, 5, tzinfo=UTC)
    call = Call(id="c1", ani="(650) 555-0100", duration_ms=12_000, started_at=now)
    session = TelephonySession(id="s-c1", direction="Inbound")
    owner = Extension(id=71, first_name="Alex", last_name="Agent", insights_licence=True)
    parties = [
        Party(id="p-c1-1", role="customer", extension_id=None, account_id=None),
        Party(id="p-c1-2", role="agent", extension_id=71, account_id="7", to_name="Alex Agent"),
    ]
    doc = build_document(call, session, parties, {71: owner}, [], analyze([], 12.0), owner, now)
    customer, agent = doc["speakerInfo"]
    assert customer == {
        "speakerId": "p-c1-1",
        "name": "Customer",
        "accountId": None,
        "extensionId": None,
        "phoneNumber": "+16505550100",
    }
    assert "phoneNumber" not in agent
    assert doc["title"] == "Call from +16505550100 to Alex Agent"
