"""What the dashboard stands on, through real HTTP and WebSockets on 127.0.0.1: the pages
and their headers, the public dashboard OAuth client, who sees which calls (``monitored``,
``q``), and the per-call page's signed links."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import yarl

from tests.conftest import Server
from tests.helpers.login import Login, admin_cli, assert_rc_error, demo_lead, request
from tests.helpers.receiver import agent
from tests.helpers.runner import run_calls, start_simulate

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

    # monitored=true: what a supervisor could listen to, admins included (Sam monitors the
    # demo agents in the Demo team the first start made)
    _, sams = await request(server, "GET", "/calls?monitored=true", headers=server.headers)
    assert sorted(c["agentId"] for c in sams["records"]) == ["5501", "5502"]
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
            sim = start_simulate(server, "--max-frames", "100", "--speed", "2", "--seed", "77")
            snapshot = await _next_json(ws)
            assert snapshot["event"] == "transcript.snapshot"
            assert snapshot["callId"]
            assert await sim.ended() == 0
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


# -- the wallboard ---------------------------------------------------------------------------


async def test_first_start_makes_the_demo_team_and_group_names_are_unique(server: Server) -> None:
    _, groups = await request(
        server, "GET", ACC + "/call-monitoring-groups", headers=server.headers
    )
    assert [g["name"] for g in groups["records"]] == ["Demo team"]
    team = groups["records"][0]
    _, members = await request(
        server, "GET", f"{ACC}/call-monitoring-groups/{team['id']}/members", headers=server.headers
    )
    perms = {m["extensionNumber"]: m["permissions"] for m in members["records"]}
    assert perms == {
        "101": ["Monitoring"],
        "102": ["Monitored"],
        "103": ["Monitored"],
        "104": ["Monitored"],
    }
    # another group of the same name (any case) is refused, by create and by rename
    status, body = await request(
        server,
        "POST",
        ACC + "/call-monitoring-groups",
        headers=server.headers,
        json={"name": "demo TEAM"},
    )
    assert_rc_error(body, 400, status, "CMN-101")
    assert "exists already" in body["message"]
    _, other = await request(
        server,
        "POST",
        ACC + "/call-monitoring-groups",
        headers=server.headers,
        json={"name": "Floor 2"},
    )
    status, body = await request(
        server,
        "PUT",
        f"{ACC}/call-monitoring-groups/{other['id']}",
        headers=server.headers,
        json={"name": "Demo Team"},
    )
    assert_rc_error(body, 400, status, "CMN-101")
    status, body = await request(  # its own name again is fine
        server,
        "PUT",
        f"{ACC}/call-monitoring-groups/{other['id']}",
        headers=server.headers,
        json={"name": "Floor 2"},
    )
    assert status == 200, body


async def test_the_wallboard_shows_each_live_call_to_those_who_may_see_it(
    server: Server, tmp_path: Path
) -> None:
    from tests.conftest import make_stereo_fixture
    from tests.helpers.phone import Phone, extensions, supervise
    from tests.helpers.runner import call_options, live_session, start_call
    from tests.helpers.wait import until

    exts = await extensions(server)
    creds = server.credentials()
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=4.0)  # what the test does takes under a second
    lead_ext, lead = demo_lead(server)
    alex = Login(
        server,
        creds["clientId"],
        creds["clientSecret"],
        "alex@demo.callscope.test",
        creds["password"],
    )
    # Lee (no admin) monitors Blair only
    _, group = await request(
        server,
        "POST",
        ACC + "/call-monitoring-groups",
        headers=server.headers,
        json={"name": "Lee's"},
    )
    await request(
        server,
        "POST",
        f"{ACC}/call-monitoring-groups/{group['id']}/bulk-assign",
        headers=server.headers,
        json={
            "addedExtensions": [
                {"id": str(lead_ext["extensionId"]), "permissions": ["Monitoring"]},
                {"id": exts["103"]["id"], "permissions": ["Monitored"]},
            ]
        },
    )
    lee_headers = await lead.headers()
    phone = await Phone(server, server.headers["Authorization"][7:]).connect()
    token = {"access_token": server.headers["Authorization"][7:]}
    lee_token = {"access_token": lee_headers["Authorization"][7:]}
    sam_events: list[dict[str, Any]] = []
    lee_events: list[dict[str, Any]] = []

    async def follow(ws: aiohttp.ClientWebSocketResponse, into: list[dict[str, Any]]) -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                into.append(msg.json())

    async with aiohttp.ClientSession() as http:
        status_ws = await http.get(server.http + "/calls/wallboard/ws")  # no token
        assert status_ws.status == 401
        sam_ws = await http.ws_connect(server.http + "/calls/wallboard/ws", params=token)
        lee_ws = await http.ws_connect(server.http + "/calls/wallboard/ws", params=lee_token)
        readers = [
            asyncio.create_task(follow(sam_ws, sam_events)),
            asyncio.create_task(follow(lee_ws, lee_events)),
        ]
        opts = call_options(server, source, calls=2)
        calls = [start_call(opts, i) for i in range(2)]  # agents 102 and 103, two-way
        try:
            alex_call = await live_session(server, exts["102"])
            blair_call = await live_session(server, exts["103"])
            body = {"supervisorDeviceId": phone.device_id, "agentExtensionNumber": "102"}
            status, party = await supervise(
                server, alex_call["telephonySessionId"], {**body, "mode": "Listen"}
            )
            assert status == 201, party
            status, _ = await supervise(
                server, alex_call["telephonySessionId"], {**body, "mode": "Coach"}
            )
            assert status == 200

            async def board(headers: dict[str, str]) -> dict[str, Any]:
                status, got = await request(server, "GET", "/calls/wallboard", headers=headers)
                assert status == 200, got
                return got  # type: ignore[no-any-return]

            def coached(b: dict[str, Any]) -> bool:
                return any(
                    c["agent"]["id"] == "5501"
                    and [(m["name"], m["mode"]) for m in c["monitoredBy"]]
                    == [("Sam Supervisor", "Coach")]
                    for c in b["calls"]
                )

            sams = await board(server.headers)
            for _ in range(100):
                if coached(sams):
                    break
                await asyncio.sleep(0.05)
                sams = await board(server.headers)
            assert coached(sams), sams["calls"]
            assert sorted(c["agent"]["name"] for c in sams["calls"]) == [
                "Alex Agent",
                "Blair Agent",
            ]
            first = sams["calls"][0]
            ids = {c["agent"]["id"]: c["id"] for c in sams["calls"]}
            assert first["productType"] == "Queue"
            assert first["elapsedMs"] >= 0
            assert first["sentiment"] == {"score": None, "label": None}  # no transcription here
            presence = {a["extensionNumber"]: a["presence"] for a in sams["agents"]}
            assert presence == {"102": "OnCall", "103": "OnCall", "104": "Available"}
            assert sams["queues"] == [
                {
                    "productType": "Queue",
                    "productId": first["productId"],
                    "liveCalls": 2,
                    "longestCallMs": max(c["elapsedMs"] for c in sams["calls"]),
                }
            ]
            # Lee sees Blair's call and Blair only; Alex his own
            lees = await board(lee_headers)
            assert [c["agent"]["id"] for c in lees["calls"]] == ["5502"]
            assert [a["extensionNumber"] for a in lees["agents"]] == ["103"]
            alexs = await board(await alex.headers())
            assert [c["agent"]["id"] for c in alexs["calls"]] == ["5501"]
            # the wallboard socket: Sam hears of the change on Alex's call, Lee does not
            await until(
                lambda: any(
                    e.get("event") == "wallboard.monitoring" and e["callId"] == ids["5501"]
                    for e in sam_events
                ),
                what="Sam's wallboard told of the supervision",
            )
            status, _ = await supervise(
                server,
                blair_call["telephonySessionId"],
                {**body, "agentExtensionNumber": "103", "mode": "Listen"},
            )
            assert status == 201
            await until(
                lambda: any(e.get("event") == "wallboard.monitoring" for e in lee_events),
                what="Lee's wallboard told of the supervision of Blair's call",
            )
            assert {e["callId"] for e in lee_events if "callId" in e} == {ids["5502"]}
            assert lee_events[0] == {"event": "wallboard.ready"}
            await asyncio.gather(*(asyncio.wait_for(c, 60) for c in calls))
        finally:
            await phone.close()
            await sam_ws.close()
            await lee_ws.close()
            for r in readers:
                r.cancel()
    # the audit trail stays with the call: Listen, then Coach, each with its times
    alex_id = ids["5501"]

    async def trail() -> dict[str, Any]:
        _, got = await request(server, "GET", f"/calls/{alex_id}/audit", headers=server.headers)
        return got  # type: ignore[no-any-return]

    audit = await trail()
    for _ in range(100):
        if audit["supervision"] and all(s["endTime"] for s in audit["supervision"]):
            break
        await asyncio.sleep(0.05)
        audit = await trail()
    assert [(s["supervisor"]["name"], s["mode"]) for s in audit["supervision"]] == [
        ("Sam Supervisor", "Listen"),
        ("Sam Supervisor", "Coach"),
    ]
    listen, coach = audit["supervision"]
    assert listen["startTime"] <= listen["endTime"] <= coach["startTime"] <= coach["endTime"]
    assert audit["alerts"] == []
    status, body = await request(server, "GET", f"/calls/{alex_id}/audit", headers=lee_headers)
    assert_rc_error(body, 404, status, "CMN-102")
    _, after = await request(server, "GET", "/calls/wallboard", headers=server.headers)
    assert after["calls"] == []  # ended calls leave the board


async def test_history_finds_calls_by_agent_extension_any_number_format_and_dates(
    server: Server,
) -> None:
    await run_calls(
        server, "--calls", "2", "--max-frames", "50", "--agent-id", "5501", "--agent-id", "5502"
    )
    _, every = await request(server, "GET", "/calls", headers=server.headers)
    by_agent = {c["agentId"]: c for c in every["records"]}
    blair = by_agent["5502"]
    digits = blair["ani"]  # the simulator's 10-digit national number, 650555NNNN

    async def found(**params: str) -> list[str]:
        status, body = await request(server, "GET", "/calls", headers=server.headers, params=params)
        assert status == 200, body
        return sorted(c["agentId"] for c in body["records"])

    # an agent by name (any case, part of it) or extension number
    assert await found(q="blair") == ["5502"]
    assert await found(q="Alex Agent") == ["5501"]
    assert await found(q="103") == ["5502"]
    # a number in any common format: E.164, spaces, dashes, brackets, dots
    e164 = f"+1{digits}"
    for written in (
        digits,
        e164,
        f"+1 {digits[:3]} {digits[3:6]} {digits[6:]}",
        f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
        f"{digits[:3]}.{digits[3:6]}.{digits[6:]}",
    ):
        expected = sorted(a for a, c in by_agent.items() if c["ani"] == digits)
        if written.startswith("+1"):  # the stored national number has no country code
            expected = []
        assert await found(phoneNumber=written) == expected, written
        if not written.startswith("+1"):
            assert await found(q=written) == expected, written
    # a date range: today's calls; none before
    today = blair["startTime"][:10]
    assert await found(dateFrom=today, dateTo=today) == ["5501", "5502"]
    assert await found(dateTo="2001-01-01") == []
    assert await found(dateFrom=blair["startTime"]) == sorted(
        a for a, c in by_agent.items() if c["startTime"] >= blair["startTime"]
    )
    # sorted as asked; each record says its alerts and sentiment
    _, oldest = await request(
        server, "GET", "/calls", headers=server.headers, params={"sort": "oldest"}
    )
    starts = [c["startTime"] for c in oldest["records"]]
    assert starts == sorted(starts)
    assert [c["alertCount"] for c in oldest["records"]] == [0, 0]  # no transcription here
    for c in oldest["records"]:  # the insights' overall sentiment, once they are made
        _, doc = await request(
            server,
            "GET",
            f"/ai/ringsense/v1/public/accounts/~/domains/pbx/records/{c['id']}/insights",
            headers=server.headers,
        )
        made = (doc.get("insights") or {}).get("Sentiment") if isinstance(doc, dict) else None
        if c["sentiment"] is not None:
            assert made
            assert made[0]["value"] == c["sentiment"]
    for bad in ({"sort": "agent"}, {"dateFrom": "yesterday"}, {"dateTo": "2026-13-01"}):
        status, body = await request(server, "GET", "/calls", headers=server.headers, params=bad)
        assert_rc_error(body, 400, status, "CMN-101")
        assert body["errors"][0]["parameterName"] == next(iter(bad))
