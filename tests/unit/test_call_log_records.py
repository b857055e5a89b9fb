"""Call-log records (RingCentral CallLogRecord) from calls, sessions and parties: frames in,
JSON out, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callscope.calls.calllog import (
    ENDED_RESULT,
    LIVE_RESULT,
    call_id_of_record,
    call_log_record,
    record_id,
)
from callscope.store.models import Call, Extension, Party, TelephonySession

T0 = datetime(2026, 5, 4, 15, 2, 11, tzinfo=UTC)
BASE = "https://cs.example.test/restapi/v1.0/account/70000001"
ALEX, BLAIR, SAM = 71000002, 71000003, 71000001


def _ext(ext_id: int, number: str, first: str, last: str) -> Extension:
    return Extension(
        id=ext_id, extension_number=number, first_name=first, last_name=last, account_id="70000001"
    )


EXTENSIONS = {
    ALEX: _ext(ALEX, "102", "Alex", "Agent"),
    BLAIR: _ext(BLAIR, "103", "Blair", "Agent"),
    SAM: _ext(SAM, "101", "Sam", "Supervisor"),
}


def _call(**kw: Any) -> Call:
    values: dict[str, Any] = {
        "id": "c1",
        "session_id": "9930001",
        "ani": "6505550123",
        "dnis": "(650) 555-0900",
        "started_at": T0,
        "ended_at": None,
        "duration_ms": None,
        "recording_path": "/data/recordings/c1.wav",
        "recording_purged_at": None,
    }
    values.update(kw)
    return Call(**values)


def _session(*, live: bool, direction: str = "Inbound") -> TelephonySession:
    return TelephonySession(
        id="s-c1", call_id="c1", direction=direction, live=live, creation_time=T0
    )


def _party(
    n: int, role: str, ext: int | None, *, status: str = "Answered", at: int = 0, left: int = 0
) -> Party:
    return Party(
        id=f"p-c1-{n}",
        session_id="s-c1",
        role=role,
        account_id="70000001" if ext else None,
        extension_id=ext,
        direction="Inbound",
        from_number="101" if role == "supervisor" else "+16505550123",
        from_name="Sam Supervisor" if role == "supervisor" else "Customer",
        to_number="102" if role == "supervisor" else "+16505550900",
        to_name=EXTENSIONS[ext].name if ext and role == "agent" else "Alex Agent",
        status_code=status,
        created_at=T0 + timedelta(seconds=at),
        updated_at=T0 + timedelta(seconds=left or at),
    )


def test_record_ids_round_trip() -> None:
    assert record_id("c1") == "cl-c1"
    assert call_id_of_record("cl-c1") == "c1"
    assert call_id_of_record("c1") == ""


def test_a_live_inbound_call_is_in_progress_with_numbers_in_e164_and_as_sent() -> None:
    parties = [_party(1, "customer", None), _party(2, "agent", ALEX)]
    record = call_log_record(
        _call(),
        _session(live=True),
        parties,
        base=BASE,
        now=T0 + timedelta(seconds=37, milliseconds=400),
        extensions=EXTENSIONS,
    )
    assert record == {
        "id": "cl-c1",
        "uri": f"{BASE}/extension/{ALEX}/call-log/cl-c1",
        "sessionId": "9930001",
        "telephonySessionId": "s-c1",
        "partyId": "p-c1-2",
        "startTime": "2026-05-04T15:02:11.000Z",
        "duration": 37,
        "durationMs": 37000,
        "type": "Voice",
        "direction": "Inbound",
        "action": "Phone Call",
        "result": LIVE_RESULT,
        "transport": "PSTN",
        "from": {
            "phoneNumber": "+16505550123",
            "dialerPhoneNumber": "6505550123",
            "name": "Customer",
        },
        "to": {
            "phoneNumber": "+16505550900",
            "dialedPhoneNumber": "(650) 555-0900",
            "name": "Alex Agent",
            "extensionNumber": "102",
            "extensionId": str(ALEX),
        },
        "extension": {"id": ALEX, "uri": f"{BASE}/extension/{ALEX}"},
        "lastModifiedTime": "2026-05-04T15:02:11.000Z",
    }


def test_an_ended_call_is_connected_and_shows_its_recording() -> None:
    parties = [
        _party(1, "customer", None, status="Disconnected", left=95),
        _party(2, "agent", ALEX, status="Disconnected", left=95),
    ]
    call = _call(ended_at=T0 + timedelta(seconds=95), duration_ms=95_200)
    record = call_log_record(
        call, _session(live=False), parties, base=BASE, now=T0 + timedelta(hours=1)
    )
    assert record["result"] == ENDED_RESULT
    assert (record["duration"], record["durationMs"]) == (95, 95_200)
    assert record["recording"] == {
        "id": "c1",
        "uri": f"{BASE}/recording/c1",
        "type": "Automatic",
        "contentUri": f"{BASE}/recording/c1/content",
    }
    assert record["lastModifiedTime"] == "2026-05-04T15:03:46.000Z"
    assert "legs" not in record
    # a purged recording is no longer shown
    call.recording_purged_at = T0 + timedelta(days=30)
    purged = call_log_record(call, _session(live=False), parties, base=BASE, now=T0)
    assert "recording" not in purged


def test_an_outbound_call_puts_the_agent_on_the_calling_side() -> None:
    parties = [_party(1, "customer", None), _party(2, "agent", ALEX)]
    call = _call(ani="6505550900", dnis="1-650-555-0123")
    record = call_log_record(
        call, _session(live=True, direction="Outbound"), parties, base=BASE, now=T0
    )
    assert record["from"] == {
        "phoneNumber": "+16505550900",
        "dialerPhoneNumber": "6505550900",
        "name": "Alex Agent",
        "extensionId": str(ALEX),
    }
    assert record["to"] == {
        "phoneNumber": "+16505550123",
        "dialedPhoneNumber": "1-650-555-0123",
        "name": "Customer",
    }


@pytest.mark.parametrize("ani", ["anonymous", "101", "5550123"])
def test_what_is_no_complete_number_is_shown_as_sent(ani: str) -> None:
    record = call_log_record(
        _call(ani=ani), _session(live=True), [_party(1, "customer", None)], base=BASE, now=T0
    )
    assert record["from"]["phoneNumber"] == record["from"]["dialerPhoneNumber"] == ani
    assert "extension" not in record
    assert record["uri"] == f"{BASE}/call-log/cl-c1"  # no agent extension: the account's log


def test_detailed_view_has_a_leg_per_agent_and_supervisor() -> None:
    parties = [
        _party(1, "customer", None, status="Disconnected", left=90),
        _party(2, "agent", ALEX, status="Gone", left=30),
        _party(3, "agent", BLAIR, status="Disconnected", at=31, left=90),
        _party(4, "supervisor", SAM, status="Disconnected", at=40, left=60),
    ]
    call = _call(ended_at=T0 + timedelta(seconds=90), duration_ms=90_000)
    common: dict[str, Any] = {"base": BASE, "now": T0, "extensions": EXTENSIONS}
    record = call_log_record(call, _session(live=False), parties, detailed=True, **common)
    # the record is the current (last) agent's
    assert record["extension"]["id"] == BLAIR
    assert record["partyId"] == "p-c1-3"
    first, second, supervisor = record["legs"]
    assert (first["action"], first["legType"], first["master"]) == ("Phone Call", "PstnToSip", True)
    assert (first["duration"], first["to"]["extensionId"]) == (30, str(ALEX))
    assert first["recording"] == record["recording"]
    assert (second["action"], second["legType"], second["master"]) == (
        "Transfer",
        "TransferCall",
        False,
    )
    assert (second["startTime"], second["duration"]) == ("2026-05-04T15:02:42.000Z", 59)
    assert second["to"]["name"] == "Blair Agent"
    assert "recording" not in second
    assert (supervisor["action"], supervisor["legType"]) == ("Monitoring", "Monitoring")
    assert supervisor["from"] == {
        "name": "Sam Supervisor",
        "phoneNumber": "101",
        "extensionId": str(SAM),
    }
    assert supervisor["extension"] == {"id": SAM, "uri": f"{BASE}/extension/{SAM}"}
    assert all(leg["result"] == ENDED_RESULT for leg in record["legs"])
    # read from the first agent's log, the record is that agent's
    mine = call_log_record(call, _session(live=False), parties, extension_id=ALEX, **common)
    assert (mine["partyId"], mine["extension"]["id"]) == ("p-c1-2", ALEX)
    assert mine["uri"] == f"{BASE}/extension/{ALEX}/call-log/cl-c1"
