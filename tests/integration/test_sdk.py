"""The official `ringcentral` Python SDK (PyPI, pinned 0.9.2) against callscope, unchanged
but for the server URL and credentials, following the developer guide's call-monitoring
samples (spec §12-13)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from ringcentral import SDK
from ringcentral.http.api_exception import ApiException

from tests.conftest import Server, make_stereo_fixture, simulate_command

pytestmark = pytest.mark.slow


def poll(fn: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_official_sdk_runs_the_call_monitoring_flow(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    creds = server.credentials()
    sdk = SDK(creds["clientId"], creds["clientSecret"], server.http)
    platform = sdk.platform()

    platform.login(jwt=creds["supervisor"]["jwt"])
    assert platform.logged_in()
    first = platform.auth().access_token()
    platform.refresh()
    assert platform.auth().access_token() != first

    # sample: list users, split supervisors (admins) from agents by permissions.admin.enabled
    resp = platform.get("/restapi/v1.0/account/~/extension", {"type": "User", "status": "Enabled"})
    users = resp.json().records
    supervisors = [u for u in users if u.permissions.admin.enabled]
    agents = [u for u in users if not u.permissions.admin.enabled]
    assert [u.extensionNumber for u in supervisors] == ["101"]
    assert [u.extensionNumber for u in agents] == ["102", "103", "104"]

    group = platform.post(
        "/restapi/v1.0/account/~/call-monitoring-groups", {"name": "SDK Tier 1"}
    ).json_dict()
    assert group["name"] == "SDK Tier 1"
    assigned = platform.post(
        f"/restapi/v1.0/account/~/call-monitoring-groups/{group['id']}/bulk-assign",
        {
            "addedExtensions": [{"id": u.id, "permissions": ["Monitoring"]} for u in supervisors]
            + [{"id": u.id, "permissions": ["Monitored"]} for u in agents]
        },
    )
    assert assigned.response().status_code == 204
    # what the sample posts when its extension list failed: refused, naming the parameter
    with pytest.raises(ApiException) as refused:
        platform.post(
            f"/restapi/v1.0/account/~/call-monitoring-groups/{group['id']}/bulk-assign",
            {"addedExtensions": None},
        )
    assert refused.value.api_response().response().status_code == 400
    assert refused.value.api_response().json_dict()["errors"][0] == {
        "errorCode": "CMN-101",
        "message": "Parameter [addedExtensions] value is invalid: use a list",
        "parameterName": "addedExtensions",
        "parameterValue": "null",
    }
    members = platform.get(
        f"/restapi/v1.0/account/~/call-monitoring-groups/{group['id']}/members"
    ).json_dict()["records"]
    assert {m["extensionNumber"]: m["permissions"] for m in members} == {
        "101": ["Monitoring"],
        "102": ["Monitored"],
        "103": ["Monitored"],
        "104": ["Monitored"],
    }
    groups = platform.get("/restapi/v1.0/account/~/call-monitoring-groups").json().records
    assert [g.name for g in groups] == ["SDK Tier 1"]

    make_stereo_fixture(tmp_path / "f.wav", seconds=8)
    sim = subprocess.Popen(
        simulate_command(server, "--source", str(tmp_path / "f.wav")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        agent = agents[0]  # RingCX agent 5501 answers the simulator's first call

        def live_calls() -> list[Any]:
            r = platform.get(f"/restapi/v1.0/account/~/extension/{agent.id}/active-calls")
            return [c for c in r.json().records if c.result == "In Progress"]

        (call,) = poll(live_calls)
        session = platform.get(
            f"/restapi/v1.0/account/~/telephony/sessions/{call.telephonySessionId}"
        ).json_dict()
        assert [p["status"]["code"] for p in session["parties"]] == ["Answered", "Answered"]
        assert session["parties"][1]["extensionId"] == str(agent.id)
        assert call.partyId == session["parties"][1]["id"]
        company = platform.get("/restapi/v1.0/account/~/active-calls").json().records
        assert [c.telephonySessionId for c in company] == [call.telephonySessionId]
    finally:
        sim.communicate(timeout=60)
    assert sim.returncode == 0
    platform.logout()
    assert not platform.logged_in()
