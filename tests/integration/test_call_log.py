"""Call log and call recordings on a real server, read through the official Python SDK where
a RingCentral app would, and with plain HTTP for the refusals (vendor spec "Call Log" and
"Call Recordings"; spec §1.2, §1.3, §6)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ringcentral import SDK
from yarl import URL

from tests.conftest import Server, free_port, make_stereo_fixture
from tests.helpers.login import assert_rc_error, demo_lead, demo_login, other_account, request
from tests.helpers.runner import simulate, start_simulate

pytestmark = pytest.mark.slow

ACC = "/restapi/v1.0/account/~"


def rel(uri: str) -> str:
    """A URI of an answer as a path for ``request`` (which adds the server's origin)."""
    return URL(uri).path_qs


def _ended(server: Server, n: int) -> list[dict[str, Any]]:
    """The account's call log once ``n`` calls have ended (newest first)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        req = urllib.request.Request(server.http + ACC + "/call-log", headers=server.headers)
        with urllib.request.urlopen(req, timeout=10) as r:
            records = json.loads(r.read())["records"]
        done = [r for r in records if r["result"] == "Call connected"]
        if len(done) >= n:
            return done
        time.sleep(0.2)
    raise AssertionError(f"{n} ended calls never showed in the call log")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with two ended calls — Alex's (RingCX agent 5501, ANI 6505550000) and
    Blair's (5502, ANI 6505550001) — a non-admin supervisor and a foreign account."""
    tmp = tmp_path_factory.mktemp("calllog")
    server = Server(tmp / "data", port=free_port()).start()
    try:
        make_stereo_fixture(tmp / "f.wav", seconds=2)
        sim = simulate(
            server, "--source", str(tmp / "f.wav"), "--calls", "2", "--speed", "4", timeout=120
        )
        assert sim.returncode == 0, sim.stderr
        records = _ended(server, 2)
        creds = server.credentials()
        alex, blair = (int(a["extensionId"]) for a in creds["agents"][:2])
        by_agent = {r["extension"]["id"]: r for r in records}
        lead, lead_login = demo_lead(server)
        other, _ = other_account(server)
        yield {
            "server": server,
            "creds": creds,
            "alex": alex,
            "blair": blair,
            "alex_record": by_agent[alex],
            "blair_record": by_agent[blair],
            "alex_login": demo_login(server, "Alex"),
            "lead": lead_login,
            "lead_id": int(lead["extensionId"]),
            "other": other,
        }
    finally:
        server.kill()


def _sdk(server: Server) -> Any:
    creds = server.credentials()
    sdk = SDK(creds["clientId"], creds["clientSecret"], server.http)
    sdk.platform().login(jwt=creds["supervisor"]["jwt"])
    return sdk.platform()


def test_the_sdk_reads_the_company_call_log_in_ringcentrals_shape(world: dict[str, Any]) -> None:
    platform = _sdk(world["server"])
    body = platform.get("/restapi/v1.0/account/~/call-log").json_dict()
    assert body["paging"]["totalElements"] == 2
    assert body["uri"].endswith("/restapi/v1.0/account/~/call-log")
    newest, oldest = body["records"]
    assert newest["startTime"] >= oldest["startTime"]
    record = world["alex_record"]
    alex = world["alex"]
    assert record["id"].startswith("cl-")
    assert record["uri"].endswith(f"/account/70000001/extension/{alex}/call-log/{record['id']}")
    assert record["telephonySessionId"] == f"s-{record['id'][3:]}"
    assert (record["type"], record["direction"], record["action"], record["result"]) == (
        "Voice",
        "Inbound",
        "Phone Call",
        "Call connected",
    )
    assert record["duration"] >= 1
    assert record["from"] == {
        "phoneNumber": "+16505550000",  # E.164
        "dialerPhoneNumber": "6505550000",  # as the stream sent it
        "name": "Customer",
    }
    assert record["to"] == {
        "phoneNumber": "+16505550900",
        "dialedPhoneNumber": "6505550900",
        "name": "Alex Agent",
        "extensionNumber": "102",
        "extensionId": str(alex),
    }
    recording = record["recording"]
    assert recording["type"] == "Automatic"
    assert recording["id"] == record["id"][3:]
    assert recording["uri"].endswith(f"/restapi/v1.0/account/70000001/recording/{recording['id']}")
    assert recording["contentUri"] == recording["uri"] + "/content"
    assert "legs" not in record

    # the record's uri resolves (the SDK takes absolute URLs as they are)
    assert platform.get(record["uri"]).json_dict() == record
    one = platform.get(f"/restapi/v1.0/account/~/call-log/{record['id']}").json_dict()
    assert one == record

    # view=Detailed adds the legs
    detailed = platform.get(record["uri"], {"view": "Detailed"}).json_dict()
    (leg,) = detailed["legs"]
    assert (leg["master"], leg["action"], leg["legType"]) == (True, "Phone Call", "PstnToSip")
    assert leg["to"]["extensionId"] == str(alex)
    assert leg["recording"] == recording

    # the recording's metadata, then its WAV
    meta = platform.get(recording["uri"]).json_dict()
    assert meta["id"] == recording["id"]
    assert meta["contentUri"] == recording["contentUri"]
    assert meta["contentType"] == "audio/wav"
    wav = platform.get(recording["contentUri"]).response()
    assert wav.headers["Content-Type"] == "audio/wav"
    assert wav.content[:4] == b"RIFF"
    part = platform.get(recording["contentUri"], headers={"Range": "bytes=0-43"}).response()
    assert (part.status_code, part.content) == (206, wav.content[:44])


def test_call_log_filters_and_paging(world: dict[str, Any]) -> None:
    platform = _sdk(world["server"])

    def ids(query: dict[str, Any], path: str = "/restapi/v1.0/account/~/call-log") -> list[str]:
        return [r["id"] for r in platform.get(path, query).json_dict()["records"]]

    alex_id, blair_id = world["alex_record"]["id"], world["blair_record"]["id"]
    both = sorted([alex_id, blair_id])
    # the SDK sends the query unencoded: "+1650…" arrives as " 1650…" and still matches
    assert ids({"phoneNumber": "+16505550001"}) == [blair_id]
    assert ids({"phoneNumber": "16505550000"}) == [alex_id]  # the vendor's form: no "+"
    assert ids({"phoneNumber": "6505550000"}) == [alex_id]  # as streamed
    assert ids({"phoneNumber": "+16505550900"}) == ids({})  # the called number
    assert sorted(ids({"direction": ["Inbound", "Outbound"]})) == both
    assert ids({"direction": "Outbound"}) == []
    assert sorted(ids({"type": "Voice", "withRecording": "true"})) == both
    assert ids({"type": "Fax"}) == []
    assert ids({"recordingType": "OnDemand"}) == []
    assert ids({"extensionNumber": "103"}) == [blair_id]
    assert ids({"extensionNumber": "999"}) == []
    assert ids({"dateFrom": "2020-01-01T00:00:00Z", "dateTo": "2020-01-02T00:00:00.000Z"}) == []
    assert sorted(ids({"dateFrom": "2020-01-01T00:00:00+00:00"})) == both
    sid = world["blair_record"]["sessionId"]
    assert ids({"sessionId": sid}) == [blair_id]

    page = platform.get("/restapi/v1.0/account/~/call-log", {"perPage": 1}).json_dict()
    assert page["paging"] == {
        "page": 1,
        "perPage": 1,
        "totalPages": 2,
        "totalElements": 2,
        "pageStart": 0,
        "pageEnd": 0,
    }
    second = platform.get(page["navigation"]["nextPage"]["uri"]).json_dict()
    assert [page["records"][0]["id"], second["records"][0]["id"]] == ids({})

    # an extension's log: its own calls only
    alex = world["alex"]
    path = f"/restapi/v1.0/account/~/extension/{alex}/call-log"
    assert ids({}, path) == [alex_id]
    assert ids({"phoneNumber": "+16505550001"}, path) == []


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("view=Everything", "view"),
        ("direction=Sideways", "direction"),
        ("type=Video", "type"),
        ("withRecording=maybe", "withRecording"),
        ("dateFrom=yesterday", "dateFrom"),
        ("dateTo=2026-13-01", "dateTo"),
        ("perPage=0", "perPage"),
        ("recordingType=Manual", "recordingType"),
    ],
)
async def test_invalid_parameters_are_cmn_101(world: dict[str, Any], query: str, name: str) -> None:
    server = world["server"]
    got, body = await request(server, "GET", f"{ACC}/call-log?{query}", headers=server.headers)
    assert_rc_error(body, 400, got, "CMN-101")
    assert body["errors"][0]["parameterName"] == name


async def test_who_may_read_which_call_log(world: dict[str, Any]) -> None:
    server = world["server"]
    alex, blair = world["alex"], world["blair"]
    alex_rec, blair_rec = world["alex_record"], world["blair_record"]
    agent = await world["alex_login"].headers()

    # an agent: not the company log, its own extension's, nobody else's
    got, body = await request(server, "GET", f"{ACC}/call-log", headers=agent)
    assert_rc_error(body, 403, got, "CMN-408")
    assert body["errors"][0]["permissionName"] == "ReadCompanyCallLog"
    got, body = await request(server, "GET", f"{ACC}/call-log/{alex_rec['id']}", headers=agent)
    assert_rc_error(body, 403, got, "CMN-408")
    got, body = await request(server, "GET", f"{ACC}/extension/~/call-log", headers=agent)
    assert [r["id"] for r in body["records"]] == [alex_rec["id"]]
    got, body = await request(server, "GET", rel(alex_rec["uri"]), headers=agent)
    assert (got, body["id"]) == (200, alex_rec["id"])
    got, body = await request(server, "GET", f"{ACC}/extension/{blair}/call-log", headers=agent)
    assert_rc_error(body, 403, got, "CMN-404")
    got, body = await request(server, "GET", rel(blair_rec["uri"]), headers=agent)
    assert_rc_error(body, 403, got, "CMN-404")
    # Blair's record under Alex's own log: no such record there
    got, body = await request(
        server, "GET", f"{ACC}/extension/~/call-log/{blair_rec['id']}", headers=agent
    )
    assert_rc_error(body, 404, got, "CMN-102")
    # and Blair's recording is as if it did not exist; Alex's own is there
    for suffix in ("", "/content"):
        got, body = await request(
            server, "GET", rel(blair_rec["recording"]["uri"] + suffix), headers=agent
        )
        assert_rc_error(body, 404, got, "CMN-102")
        got, _ = await request(
            server, "GET", rel(alex_rec["recording"]["uri"] + suffix), headers=agent
        )
        assert got == 200

    # a supervisor who is no admin: Alex's log once a monitoring group allows it
    lead = await world["lead"].headers()
    got, body = await request(server, "GET", f"{ACC}/extension/{alex}/call-log", headers=lead)
    assert_rc_error(body, 403, got, "CMN-404")
    got, body = await request(server, "GET", rel(alex_rec["recording"]["uri"]), headers=lead)
    assert_rc_error(body, 404, got, "CMN-102")
    got, group = await request(
        server,
        "POST",
        ACC + "/call-monitoring-groups",
        headers=server.headers,
        json={"name": "call log leads"},
    )
    assert got == 200, group
    got, _ = await request(
        server,
        "POST",
        f"{ACC}/call-monitoring-groups/{group['id']}/bulk-assign",
        headers=server.headers,
        json={
            "addedExtensions": [
                {"id": world["lead_id"], "permissions": ["Monitoring"]},
                {"id": alex, "permissions": ["Monitored"]},
            ]
        },
    )
    assert got == 204
    got, body = await request(server, "GET", f"{ACC}/extension/{alex}/call-log", headers=lead)
    assert [r["id"] for r in body["records"]] == [alex_rec["id"]]
    got, _ = await request(server, "GET", rel(alex_rec["recording"]["contentUri"]), headers=lead)
    assert got == 200
    got, body = await request(server, "GET", f"{ACC}/extension/{blair}/call-log", headers=lead)
    assert_rc_error(body, 403, got, "CMN-404")
    got, body = await request(server, "GET", rel(blair_rec["recording"]["uri"]), headers=lead)
    assert_rc_error(body, 404, got, "CMN-102")


async def test_a_foreign_account_gets_404(world: dict[str, Any]) -> None:
    server = world["server"]
    other = await world["other"].headers()
    rec = world["alex_record"]
    alex = world["alex"]
    for path in (
        f"{ACC}/call-log/{rec['id']}",
        "/restapi/v1.0/account/70000001/call-log",
        f"/restapi/v1.0/account/70000001/call-log/{rec['id']}",
        f"{ACC}/extension/{alex}/call-log",
        f"{ACC}/extension/{alex}/call-log/{rec['id']}",
        f"{ACC}/recording/{rec['recording']['id']}",
        f"{ACC}/recording/{rec['recording']['id']}/content",
        f"/restapi/v1.0/account/70000001/recording/{rec['recording']['id']}/content",
    ):
        got, body = await request(server, "GET", path, headers=other)
        assert_rc_error(body, 404, got, "CMN-102")
    # its own company log is empty
    got, body = await request(server, "GET", f"{ACC}/call-log", headers=other)
    assert (got, body["records"]) == (200, [])


async def test_unknown_records_and_recordings_are_404(world: dict[str, Any]) -> None:
    server = world["server"]
    for path in (
        f"{ACC}/call-log/cl-nope",
        f"{ACC}/call-log/{world['alex_record']['id'][3:]}",  # a call id is no record id
        f"{ACC}/recording/nope",
        f"{ACC}/recording/nope/content",
    ):
        got, body = await request(server, "GET", path, headers=server.headers)
        assert_rc_error(body, 404, got, "CMN-102")


async def _poll(predicate: Any, timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError("condition not met in time")


async def test_a_live_call_is_in_progress_and_its_active_call_uri_is_its_record(
    world: dict[str, Any], tmp_path: Path
) -> None:
    server, headers = world["server"], world["server"].headers
    make_stereo_fixture(tmp_path / "f.wav", seconds=3)  # what is done while it is live: < 1 s
    sim = start_simulate(server, "--source", str(tmp_path / "f.wav"), "--seed", "41")
    try:

        async def active() -> list[dict[str, Any]]:
            _, body = await request(server, "GET", f"{ACC}/active-calls", headers=headers)
            return body["records"]  # type: ignore[no-any-return]

        (live,) = await _poll(active)
        got, record = await request(server, "GET", rel(live["uri"]), headers=headers)
        assert got == 200, record
        assert record["id"] == live["id"]
        assert record["result"] == live["result"] == "In Progress"
        assert record["from"] == live["from"]
        assert record["to"] == live["to"]
        assert "recording" not in record  # listed once the call has ended
        got, body = await request(server, "GET", f"{ACC}/call-log", headers=headers)
        assert body["records"][0]["id"] == live["id"]
        got, body = await request(
            server, "GET", f"{ACC}/call-log?withRecording=true", headers=headers
        )
        assert live["id"] not in [r["id"] for r in body["records"]]
    finally:
        await sim.ended(60)
    assert sim.returncode == 0, sim.stderr

    async def ended() -> dict[str, Any] | None:
        _, record = await request(server, "GET", rel(live["uri"]), headers=headers)
        return record if record["result"] == "Call connected" else None

    record = await _poll(ended)
    assert record["recording"]["id"] == live["id"][3:]


async def test_a_purged_recording_is_gone_as_on_calls(
    world: dict[str, Any], tmp_path: Path
) -> None:
    server, headers = world["server"], world["server"].headers
    make_stereo_fixture(tmp_path / "f.wav", seconds=2)
    sim = start_simulate(server, "--source", str(tmp_path / "f.wav"), "--seed", "53")
    assert await sim.ended(60) == 0, sim.stderr

    async def ended() -> dict[str, Any] | None:
        _, calls = await request(server, "GET", "/calls", headers=headers)
        mine = [c for c in calls["records"] if c["ringcxCallId"] == "sim-53-00001"]
        if not mine:
            return None
        _, record = await request(
            server, "GET", f"{ACC}/call-log/cl-{mine[0]['id']}", headers=headers
        )
        return record if "recording" in record else None

    rec = await _poll(ended)
    call_id = rec["recording"]["id"]
    with sqlite3.connect(server.data_dir / "callscope.db") as db:
        db.execute(
            "UPDATE calls SET recording_purged_at = '2026-05-04 00:00:00.000000' WHERE id = ?",
            (call_id,),
        )
    got, body = await request(server, "GET", f"/calls/{call_id}/recording", headers=headers)
    assert got == 410, body
    for suffix in ("", "/content"):
        got, gone = await request(
            server, "GET", rel(rec["recording"]["uri"] + suffix), headers=headers
        )
        assert (got, gone) == (410, body)
    got, record = await request(server, "GET", rel(rec["uri"]), headers=headers)
    assert got == 200
    assert "recording" not in record
    got, body = await request(server, "GET", f"{ACC}/call-log?withRecording=true", headers=headers)
    assert rec["id"] not in [r["id"] for r in body["records"]]
    assert world["alex_record"]["id"] in [r["id"] for r in body["records"]]
