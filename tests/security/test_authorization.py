"""Permissions on every path, as an agent (not an admin) of the demo account would try to get
past them: subscriptions need the permission the matching REST read needs, telephony session
reads are scoped as ``/calls/{id}`` is, and a client link needs permission to its call and
opens exactly that call."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.conftest import Server
from tests.helpers.login import demo_login, request
from tests.helpers.receiver import Receiver
from tests.helpers.runner import start_simulate

pytestmark = pytest.mark.slow

SUB = "/restapi/v1.0/subscription"


async def extension_ids(server: Server) -> dict[str, int]:
    _, users = await request(
        server, "GET", "/restapi/v1.0/account/~/extension", headers=server.headers
    )
    return {u["extensionNumber"]: int(u["id"]) for u in users["records"]}


async def run_call(server: Server, *args: str) -> None:
    proc = start_simulate(server, "--speed", "20", "--max-frames", "60", *args)
    assert await proc.ended(60) == 0, proc.stderr


async def test_an_agent_cannot_subscribe_to_what_it_cannot_read(server: Server) -> None:
    ids = await extension_ids(server)
    alex = await demo_login(server, "Alex").headers()  # ext 102, not an admin, no group
    receiver = await Receiver().start()
    try:
        refused = (
            "/restapi/v1.0/account/~/telephony/sessions",  # every call of the account
            "/ai/ringsense/v1/public/accounts/~/domains/pbx/insights",  # every insight
            f"/restapi/v1.0/account/~/extension/{ids['103']}/telephony/sessions",  # a peer's
            f"/restapi/v1.0/account/~/extension/{ids['103']}/presence",
        )
        for event_filter in refused:
            status, body = await request(
                server,
                "POST",
                SUB,
                headers=alex,
                json={
                    "eventFilters": [event_filter],
                    "deliveryMode": {"transportType": "WebHook", "address": receiver.url},
                },
            )
            assert status == 403, (event_filter, body)
            assert body["errorCode"] == "CMN-408"
        # the same over the WebSocket gateway
        _, token = await request(server, "POST", "/restapi/oauth/wstoken", headers=alex, json={})
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"{token['uri']}?access_token={token['ws_access_token']}") as ws,
        ):
            await ws.receive(timeout=10)  # ConnectionDetails
            await ws.send_str(
                json.dumps(
                    [
                        {
                            "type": "ClientRequest",
                            "messageId": "m1",
                            "method": "POST",
                            "path": "/restapi/v1.0/subscription/",
                        },
                        {
                            "eventFilters": ["/restapi/v1.0/account/~/telephony/sessions"],
                            "deliveryMode": {"transportType": "WebSocket"},
                        },
                    ]
                )
            )
            meta, body = json.loads((await ws.receive(timeout=10)).data)
            assert meta["status"] == 403, body
        _, listed = await request(server, "GET", SUB, headers=alex)
        assert listed["records"] == []
        assert receiver.notifications == []

        # what it may read, it may subscribe to: its own calls and presence
        status, body = await request(
            server,
            "POST",
            SUB,
            headers=alex,
            json={
                "eventFilters": [
                    "/restapi/v1.0/account/~/extension/~/telephony/sessions",
                    "/restapi/v1.0/account/~/extension/~/presence",
                ],
                "deliveryMode": {"transportType": "WebHook", "address": receiver.url},
            },
        )
        assert status == 200, body
        # a supervisor its group lets monitor 103 may subscribe to 103's calls
        status, group = await request(
            server,
            "POST",
            "/restapi/v1.0/account/~/call-monitoring-groups",
            headers=server.headers,
            json={"name": "Alex watches Blair"},
        )
        assert status == 200, group
        status, _ = await request(
            server,
            "POST",
            f"/restapi/v1.0/account/~/call-monitoring-groups/{group['id']}/bulk-assign",
            headers=server.headers,
            json={
                "addedExtensions": [
                    {"id": str(ids["102"]), "permissions": ["Monitoring"]},
                    {"id": str(ids["103"]), "permissions": ["Monitored"]},
                ]
            },
        )
        assert status == 204
        status, body = await request(
            server,
            "POST",
            SUB,
            headers=alex,
            json={
                "eventFilters": [refused[2]],
                "deliveryMode": {"transportType": "WebHook", "address": receiver.url},
            },
        )
        assert status == 200, body
    finally:
        await receiver.stop()


async def test_telephony_sessions_and_client_links_are_scoped_like_calls(
    server: Server,
) -> None:
    await run_call(server, "--agent-id", "5502", "--seed", "41")  # Blair's call (ext 103)
    (call,) = (await request(server, "GET", "/calls", headers=server.headers))[1]["records"]
    session = f"/restapi/v1.0/account/~/telephony/sessions/{call['telephonySessionId']}"
    alex = await demo_login(server, "Alex").headers()
    blair = await demo_login(server, "Blair").headers()

    status, _ = await request(server, "GET", session, headers=alex)
    assert status == 404  # another agent's call, as /calls/{id} answers
    status, _ = await request(server, "GET", f"/calls/{call['id']}", headers=alex)
    assert status == 404
    status, body = await request(server, "GET", session, headers=blair)
    assert status == 200, body  # her own

    # a client link to someone else's call: refused
    status, body = await request(
        server, "POST", "/calls/client-links", headers=alex, json={"callId": call["ringcxCallId"]}
    )
    assert status == 403, body
    # ... nor to a call that does not exist yet (only an admin may link ahead)
    status, _ = await request(
        server, "POST", "/calls/client-links", headers=alex, json={"callId": "future-1"}
    )
    assert status == 403

    # her own: a link bound to that very call row
    status, link = await request(
        server, "POST", "/calls/client-links", headers=blair, json={"callId": call["ringcxCallId"]}
    )
    assert status == 201, link
    assert f"call={call['id']}" in link["uri"]
    # a later call reusing the RingCX call id does not take the link over
    await run_call(server, "--agent-id", "5502", "--seed", "41")
    records: list[dict[str, Any]] = []
    for _ in range(100):
        records = (await request(server, "GET", "/calls", headers=server.headers))[1]["records"]
        if len(records) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(records) == 2
    assert {r["ringcxCallId"] for r in records} == {call["ringcxCallId"]}
    query = link["uri"].split("?", 1)[1]
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"ws://127.0.0.1:{server.port}/client/ws?{query}") as ws,
    ):
        snapshot = json.loads((await ws.receive(timeout=15)).data)
    assert snapshot["event"] == "transcript.snapshot"
    assert snapshot["callId"] == call["id"]
