"""What the dashboard stands on, through real HTTP and WebSockets on 127.0.0.1: the pages
and their headers, the public dashboard OAuth client, who sees which calls (``monitored``,
``q``), and the per-call page's signed links."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import yarl

from tests.conftest import Server, simulate_command
from tests.helpers.login import Login, admin_cli, assert_rc_error, demo_lead, request
from tests.helpers.receiver import agent
from tests.helpers.runner import run_calls

ACC = "/restapi/v1.0/account/~"
DASHBOARD = "callscope-dashboard"


async def dashboard_token(server: Server, username: str, password: str, **extra: str) -> Any:
    return await request(
        server,
        "POST",
        "/restapi/oauth/token",
        data={
            "grant_type": "password",
            "client_id": DASHBOARD,
            "username": username,
            "password": password,
            **extra,
        },
    )


async def test_pages_are_served_with_their_headers_and_ingest_still_works_on_root(
    server: Server,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.http + "/") as r:
            assert r.status == 200
            assert r.content_type == "text/html"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
            assert r.headers["X-Frame-Options"] == "DENY"
            assert '<script type="module" src="/static/app.js">' in await r.text()
        for name, kind in (
            ("app.js", "javascript"),
            ("worklets.js", "javascript"),
            ("style.css", "css"),
        ):
            async with http.get(f"{server.http}/static/{name}") as r:
                assert r.status == 200, name
                assert kind in r.content_type
        traversal = yarl.URL(server.http + "/static/%2e%2e/%2e%2e/callscope.db", encoded=True)
        async with http.get(traversal) as r:
            assert r.status in (403, 404)
        async with http.get(server.http + "/client") as r:
            assert r.status == 403
            assert "lacks callId" in await r.text()
    # a RingCX stream may still connect to "/" (the streaming profile's bare wss://host)
    await run_calls(server, "--url", server.http.replace("http", "ws") + "/", "--max-frames", "50")
    _, calls = await request(server, "GET", "/calls", headers=server.headers)
    assert [c["status"] for c in calls["records"]] == ["completed"]


async def test_the_dashboard_client_signs_in_without_a_secret(shared_server: Server) -> None:
    creds = shared_server.credentials()
    status, token = await dashboard_token(shared_server, creds["username"], creds["password"])
    assert status == 200, token
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    status, me = await request(shared_server, "GET", ACC + "/extension/~", headers=headers)
    assert (status, me["extensionNumber"]) == (200, "101")
    # account*extension works too, and the refresh grant keeps the session
    status, by_number = await dashboard_token(shared_server, "70000001*102", creds["password"])
    assert status == 200, by_number
    status, refreshed = await request(
        shared_server,
        "POST",
        "/restapi/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": DASHBOARD,
            "refresh_token": token["refresh_token"],
        },
    )
    assert status == 200, refreshed
    # what it refuses: a wrong password, a secret (it has none), the JWT grant
    status, body = await dashboard_token(shared_server, creds["username"], "wrong")
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body = await dashboard_token(
        shared_server, creds["username"], creds["password"], client_secret="guess"
    )
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = await request(
        shared_server,
        "POST",
        "/restapi/oauth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "client_id": DASHBOARD,
            "assertion": creds["supervisor"]["jwt"],
        },
    )
    assert (status, body["error"]) == (400, "unauthorized_client")


async def test_who_sees_which_calls(server: Server) -> None:
    creds = server.credentials()
    await run_calls(
        server, "--calls", "2", "--max-frames", "50", "--agent-id", "5501", "--agent-id", "5502"
    )
    alex = Login(
        server,
        creds["clientId"],
        creds["clientSecret"],
        "alex@demo.callscope.test",
        creds["password"],
    )
    lead_ext, lead = demo_lead(server)
    _, every = await request(server, "GET", "/calls", headers=server.headers)
    assert sorted(c["agentId"] for c in every["records"]) == ["5501", "5502"]
    by_agent = {c["agentId"]: c for c in every["records"]}

    # an agent sees its own call only; another's is 404 everywhere
    headers = await alex.headers()
    _, mine = await request(server, "GET", "/calls", headers=headers)
    assert [c["agentId"] for c in mine["records"]] == ["5501"]
    for path in ("", "/transcript", "/recording"):
        status, body = await request(
            server, "GET", f"/calls/{by_agent['5502']['id']}{path}", headers=headers
        )
        assert_rc_error(body, 404, status, "CMN-102")

    # a supervisor who is not an admin sees nothing until a group lets them monitor
    headers = await lead.headers()
    _, none = await request(server, "GET", "/calls", headers=headers)
    assert none["records"] == []
    _, group = await request(
        server, "POST", ACC + "/call-monitoring-groups", headers=server.headers, json={"name": "g"}
    )
    blair = await agent(server, "103")
    await request(
        server,
        "POST",
        f"{ACC}/call-monitoring-groups/{group['id']}/bulk-assign",
        headers=server.headers,
        json={
            "addedExtensions": [
                {"id": str(lead_ext["extensionId"]), "permissions": ["Monitoring"]},
                {"id": str(blair["id"]), "permissions": ["Monitored"]},
            ]
        },
    )
    _, monitored = await request(server, "GET", "/calls", headers=headers)
    assert [c["agentId"] for c in monitored["records"]] == ["5502"]
    status, _ = await request(
        server, "GET", f"/calls/{by_agent['5502']['id']}/transcript", headers=headers
    )
    assert status == 200

    # monitored=true: what a supervisor could listen to, admins included (Sam is in no group)
    _, sams = await request(server, "GET", "/calls?monitored=true", headers=server.headers)
    assert sams["records"] == []
    _, leads = await request(server, "GET", "/calls?monitored=true", headers=headers)
    assert [c["agentId"] for c in leads["records"]] == ["5502"]
    status, body = await request(server, "GET", "/calls?monitored=yes", headers=headers)
    assert_rc_error(body, 400, status, "CMN-101")

    # q: a number, an agent id or a RingCX call id (words of transcripts: tests/e2e)
    for q, expected in (
        ("5502", ["5502"]),
        (by_agent["5501"]["ringcxCallId"], ["5501"]),
        (
            by_agent["5501"]["ani"],
            [c["agentId"] for c in every["records"] if c["ani"] == by_agent["5501"]["ani"]],
        ),
        ("100%_", []),
    ):
        _, found = await request(server, "GET", "/calls", headers=server.headers, params={"q": q})
        assert sorted(c["agentId"] for c in found["records"]) == sorted(expected), q
    status, body = await request(
        server, "GET", "/calls", headers=server.headers, params={"q": "x" * 201}
    )
    assert_rc_error(body, 400, status, "CMN-101")


async def _next_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=30)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = msg.json()
    return data


async def test_a_signed_link_streams_one_call_and_waits_for_it_to_start(
    server: Server, tmp_path: Path
) -> None:
    creds = server.credentials()
    status, link = await request(
        server,
        "POST",
        "/calls/client-links",
        headers=server.headers,
        json={"callId": "sim-77-00001"},
    )
    assert status == 201, link
    assert link["uri"].startswith(server.http + "/client?")
    query = link["uri"].split("?", 1)[1]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.http}/client?{query}") as r:
            assert r.status == 200
            assert "frame-ancestors" not in r.headers["Content-Security-Policy"]  # embeddable
            assert "client.js" in await r.text()
        async with http.ws_connect(f"{server.ws.rsplit('/', 2)[0]}/client/ws?{query}") as ws:
            assert (await _next_json(ws))["event"] == "client.waiting"
            sim = await asyncio.create_subprocess_exec(
                *simulate_command(server, "--max-frames", "100", "--speed", "2", "--seed", "77")
            )
            snapshot = await _next_json(ws)
            assert snapshot["event"] == "transcript.snapshot"
            assert snapshot["callId"]
            assert await sim.wait() == 0
        # tampered: refused before the upgrade with the reason
        bad = query.replace("sim-77", "sim-78")
        async with http.get(f"{server.http}/client/ws?{bad}") as r:
            body = await r.json()
            assert_rc_error(body, 403, r.status, "CMN-408")
            assert "signature" in body["message"]

    # the rules of making one
    for payload, parameter in (
        ({}, "callId"),
        ({"callId": "x" * 65}, "callId"),
        ({"callId": "u", "expiresIn": 10}, "expiresIn"),
        ({"callId": "u", "expiresIn": "600"}, "expiresIn"),
    ):
        status, body = await request(
            server, "POST", "/calls/client-links", headers=server.headers, json=payload
        )
        assert_rc_error(body, 400, status, "CMN-101")
        assert body["errors"][0]["parameterName"] == parameter
    status, body = await request(server, "POST", "/calls/client-links", json={"callId": "u"})
    assert_rc_error(body, 401, status, "OAU-123")
    # an agent may link its own call, not another's
    alex = await Login(
        server,
        creds["clientId"],
        creds["clientSecret"],
        "alex@demo.callscope.test",
        creds["password"],
    ).headers()
    status, body = await request(
        server, "POST", "/calls/client-links", headers=alex, json={"callId": "sim-77-00001"}
    )
    assert (status, body.get("callId")) == (
        201,
        "sim-77-00001",
    )  # the simulator's first agent, 5501
    status, body = await request(
        server, "POST", "/calls/client-links", headers=alex, json={"callId": "uii-none"}
    )
    assert_rc_error(body, 403, status, "CMN-408")


async def test_the_admin_command_makes_a_link_the_server_accepts(shared_server: Server) -> None:
    made = admin_cli(
        shared_server.data_dir,
        "client-link",
        "--account",
        "70000001",
        "--call-id",
        "uii-5",
        "--expires-in",
        "120",
        "--base-url",
        shared_server.http,
    )
    async with aiohttp.ClientSession() as http, http.get(made["uri"]) as r:
        assert r.status == 200
        assert "client.js" in await r.text()
    status, _ = await request(
        shared_server, "GET", made["uri"].replace("uii-5", "uii-6")[len(shared_server.http) :]
    )
    assert status == 403
