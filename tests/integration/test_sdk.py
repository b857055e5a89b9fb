"""The official `ringcentral` Python SDK (PyPI, pinned 0.9.2) against callscope, unchanged
but for the server URL and credentials, following the developer guide's call-monitoring
and webhook samples (spec §12-13)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ringcentral import SDK
from ringcentral.http.api_exception import ApiException

from tests.conftest import Server, make_stereo_fixture
from tests.helpers.runner import start_simulate
from tests.helpers.wait import until_sync

pytestmark = pytest.mark.slow


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
    assert [g.name for g in groups] == ["Demo team", "SDK Tier 1"]  # the first start's, and ours

    make_stereo_fixture(tmp_path / "f.wav", seconds=4)  # what is done while it is live: < 1 s
    sim = start_simulate(server, "--source", str(tmp_path / "f.wav"))
    try:
        agent = agents[0]  # RingCX agent 5501 answers the simulator's first call

        def live_calls() -> list[Any]:
            r = platform.get(f"/restapi/v1.0/account/~/extension/{agent.id}/active-calls")
            return [c for c in r.json().records if c.result == "In Progress"]

        (call,) = until_sync(live_calls, 20, "the call listed live")
        session = platform.get(
            f"/restapi/v1.0/account/~/telephony/sessions/{call.telephonySessionId}"
        ).json_dict()
        assert [p["status"]["code"] for p in session["parties"]] == ["Answered", "Answered"]
        assert session["parties"][1]["extensionId"] == str(agent.id)
        assert call.partyId == session["parties"][1]["id"]
        company = platform.get("/restapi/v1.0/account/~/active-calls").json().records
        assert [c.telephonySessionId for c in company] == [call.telephonySessionId]
        presence = platform.get(
            f"/restapi/v1.0/account/~/extension/{agent.id}/presence",
            {"detailedTelephonyState": "true"},
        ).json()
        assert (presence.telephonyStatus, presence.extension.id) == ("CallConnected", agent.id)
        assert [c.telephonySessionId for c in presence.activeCalls] == [call.telephonySessionId]
    finally:
        sim.communicate(timeout=60)
    assert sim.returncode == 0
    platform.logout()
    assert not platform.logged_in()


class _Hooks(BaseHTTPRequestHandler):
    """A WebHook receiver as the developer guide's webhook-server.py: it echoes the
    Validation-Token (what it is sent is not used here)."""

    def do_POST(self) -> None:
        token = self.headers.get("Validation-Token")
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        if token is not None:
            self.send_header("Validation-Token", token)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the test reads the server's answers, not the receiver's log


@pytest.fixture
def hooks() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/webhook"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_official_sdk_as_an_agent_reads_what_its_events_imply(
    server_factory: type[Server], tmp_path: Path, hooks: str
) -> None:
    server = server_factory(tmp_path / "data").start()
    creds = server.credentials()
    platform = SDK(creds["clientId"], creds["clientSecret"], server.http).platform()

    # every demo agent has a JWT: a sample acting on ~ runs as that agent
    alex, blair = creds["agents"][:2]
    platform.login(jwt=alex["jwt"])
    me = platform.get("/restapi/v1.0/account/~/extension/~").json()
    assert (str(me.id), me.extensionNumber) == (alex["extensionId"], "102")

    presence = platform.get(
        "/restapi/v1.0/account/~/extension/~/presence", {"detailedTelephonyState": "true"}
    ).json()
    assert (presence.telephonyStatus, presence.presenceStatus) == ("NoCall", "Available")
    assert presence.activeCalls == []
    assert presence.uri.endswith(f"/extension/{alex['extensionId']}/presence")
    for path in (
        f"/restapi/v1.0/account/~/extension/{blair['extensionId']}/presence",
        "/restapi/v1.0/account/~/presence",
    ):
        with pytest.raises(ApiException) as refused:
            platform.get(path)
        assert refused.value.api_response().response().status_code == 403

    account = platform.get("/restapi/v1.0/account/~").json()
    assert (account.id, account.status) == (70000001, "Confirmed")
    versions = platform.get("/restapi").json()
    assert [v.uriString for v in versions.apiVersions] == ["v1.0"]
    assert platform.get("/restapi/v1.0").json().versionString == "1.0"
    client = platform.get("/restapi/v1.0/client-info").json().client
    assert (client.appId, client.appName) == (creds["clientId"], "Demo supervision app")
    assert client.appVersion == "0.0.0"  # the SDK's User-Agent: Unnamed/0.0.0 …

    # its own devices, each uri resolving to the device
    (desk,) = platform.get("/restapi/v1.0/account/~/extension/~/device").json().records
    assert platform.get(desk.uri).json_dict()["id"] == desk.id
    assert [d.id for d in platform.get("/restapi/v1.0/account/~/device").json().records] == [
        desk.id
    ]

    # webhook-notification.py's SMS filter: the subscription is made, the filter disabled
    sub = platform.post(
        "/restapi/v1.0/subscription",
        {
            "eventFilters": [
                "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS",
                "/restapi/v1.0/account/~/extension/~/presence?detailedTelephonyState=true",
            ],
            "deliveryMode": {"transportType": "WebHook", "address": hooks},
        },
    ).json()
    assert sub.eventFilters == [
        f"/restapi/v1.0/account/70000001/extension/{alex['extensionId']}/presence"
        "?detailedTelephonyState=true"
    ]
    (disabled,) = sub.disabledFilters
    assert disabled.filter.endswith("/message-store/instant?type=SMS")
    assert disabled.reason == "NotSupported"
    platform.delete(f"/restapi/v1.0/subscription/{sub.id}")
    platform.logout()

    # the supervisor's web phone: the samples' supervisorDeviceId, Offline until connected
    platform.login(jwt=creds["supervisor"]["jwt"])
    devices = platform.get("/restapi/v1.0/account/~/device", {"type": "WebPhone"}).json()
    (web_phone,) = devices.records
    assert (web_phone.id, web_phone.status) == (creds["supervisor"]["deviceId"], "Offline")
    assert platform.get(web_phone.uri).json().extension.extensionNumber == "101"
    platform.logout()
