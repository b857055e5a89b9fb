"""The WebSocket gateway (spec §8.3) against a real server: the official SDK's WebSocket
subscription unchanged, the frame protocol, bad input, and recovery of a dropped session
with the notifications it missed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import struct
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from ringcentral import SDK
from ringcentral.websocket.events import WebSocketEvents

from tests.conftest import Server
from tests.helpers.cluster import node_args
from tests.helpers.login import assert_rc_error, request
from tests.helpers.receiver import LIFECYCLE, TEL
from tests.helpers.runner import run_calls
from tests.helpers.wait import until

pytestmark = pytest.mark.slow

ACCOUNT_TEL = "/restapi/v1.0/account/70000001/telephony/sessions"


async def ws_token(server: Server) -> dict[str, Any]:
    status, body = await request(
        server, "POST", "/restapi/oauth/wstoken", headers=server.headers, json={}
    )
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def recv(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10) -> list[Any]:
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    frame: list[Any] = json.loads(msg.data)
    return frame


def subscribe_frame(message_id: str, *filters: str, transport: str = "WebSocket") -> list[Any]:
    return [
        {
            "type": "ClientRequest",
            "messageId": message_id,
            "method": "POST",
            "path": "/restapi/v1.0/subscription/",
        },
        {"eventFilters": list(filters or (TEL,)), "deliveryMode": {"transportType": transport}},
    ]


def lifecycles(frames: list[list[Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for meta, env in frames:
        assert meta["type"] == "ServerNotification"
        out.setdefault(env["body"]["telephonySessionId"], []).append(
            env["body"]["parties"][0]["status"]["code"]
        )
    return out


async def test_the_official_sdk_websocket_subscription_receives_telephony_events(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    creds = server.credentials()
    sdk = SDK(creds["clientId"], creds["clientSecret"], server.http)
    sdk.platform().login(jwt=creds["supervisor"]["jwt"])
    client = sdk.create_web_socket_client()
    created: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    notifications: list[list[Any]] = []

    pending: list[asyncio.Future[Any]] = []

    def on_connected(c: Any) -> None:
        pending.append(asyncio.ensure_future(c.create_subscription([TEL])))

    client.on(WebSocketEvents.connectionCreated, on_connected)
    client.on(WebSocketEvents.subscriptionCreated, lambda sub: created.set_result(sub))
    client.on(WebSocketEvents.receiveSubscriptionNotification, notifications.append)
    connection = asyncio.ensure_future(client.create_new_connection())
    try:
        subscription = await asyncio.wait_for(created, 15)
        info = subscription.get_subscription_info()
        assert info[0]["headers"]["WSG-SubscriptionId"] == info[1]["id"]
        assert info[1]["eventFilters"] == [ACCOUNT_TEL]
        assert info[1]["deliveryMode"]["transportType"] == "WebSocket"

        await run_calls(server, "--speed", "20", "--max-frames", "100")
        await until(lambda: LIFECYCLE in lifecycles(notifications).values(), what="SDK events")
        env = notifications[0][1]
        assert env["subscriptionId"] == info[1]["id"]
        assert env["event"] == ACCOUNT_TEL
        assert [m["wsc"]["sequence"] for m, _ in notifications] == sorted(
            m["wsc"]["sequence"] for m, _ in notifications
        )
        assert [e["body"]["sequence"] for _, e in notifications] == [1, 2, 3, 4]
    finally:
        await client.close_connection()
        connection.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await connection  # the SDK's receive loop ends with the closed connection


async def test_gateway_frames_and_bad_input(server_factory: type[Server], tmp_path: Path) -> None:
    server = server_factory(tmp_path / "data").start()
    async with aiohttp.ClientSession() as http:
        # a made-up token is refused before the upgrade, with the RingCentral body
        async with http.get(server.http + "/ws?access_token=W1-nope") as r:
            assert_rc_error(await r.json(), 401, r.status, "OAU-213")
        token = await ws_token(server)
        assert token["uri"] == f"ws://127.0.0.1:{server.port}/ws"
        url = f"{token['uri']}?access_token={token['ws_access_token']}"
        async with http.ws_connect(url) as ws:
            meta, details = await recv(ws)
            assert meta["type"] == "ConnectionDetails"
            assert meta["status"] == 200
            assert meta["wsc"]["token"].startswith("wsc-")
            assert details["recoveryTimeout"] == 180
            assert "recoveryState" not in details

            await ws.send_str(json.dumps([{"type": "Heartbeat", "messageId": "hb-1"}]))
            assert await recv(ws) == [{"type": "Heartbeat", "messageId": "hb-1"}]

            await ws.send_str("{not json")
            meta, body = await recv(ws)
            assert (meta["type"], meta["status"], body["errorCode"]) == ("Error", 400, "WSG-400")

            await ws.send_str(json.dumps(subscribe_frame("m-1", "/restapi/v1.0/nonsense")))
            meta, body = await recv(ws)
            assert (meta["messageId"], meta["status"]) == ("m-1", 400)
            assert body["errorCode"] == "SUB-508"
            assert "WSG-SubscriptionId" not in meta["headers"]

            await ws.send_str(json.dumps(subscribe_frame("m-2", TEL, transport="WebHook")))
            meta, body = await recv(ws)
            assert (meta["status"], body["errorCode"]) == (400, "CMN-101")

            await ws.send_str(
                json.dumps(
                    [{"type": "ClientRequest", "messageId": "m-3", "method": "GET", "path": "/x"}]
                )
            )
            meta, body = await recv(ws)
            assert (meta["status"], body["errorCode"]) == (400, "CMN-101")
            assert "only the subscription API" in body["message"]

            await ws.send_str(json.dumps(subscribe_frame("m-4", TEL)))
            meta, sub = await recv(ws)
            assert (meta["type"], meta["messageId"], meta["status"]) == (
                "ClientRequest",
                "m-4",
                200,
            )
            assert meta["headers"]["WSG-SubscriptionId"] == sub["id"]

            # a second create replaces the first: one subscription per connection
            await ws.send_str(json.dumps(subscribe_frame("m-5", TEL)))
            meta, second = await recv(ws)
            assert meta["headers"]["WSG-SubscriptionId"] == second["id"] != sub["id"]
            status, listed = await request(
                server, "GET", "/restapi/v1.0/subscription", headers=server.headers
            )
            assert [s["id"] for s in listed["records"]] == [second["id"]]

            # not changed over HTTP
            status, body = await request(
                server,
                "PUT",
                f"/restapi/v1.0/subscription/{second['id']}",
                headers=server.headers,
                json={"eventFilters": [TEL]},
            )
            assert_rc_error(body, 400, status, "CMN-101")

            # the token was single use
        async with http.get(url) as r:
            assert_rc_error(await r.json(), 401, r.status, "OAU-213")


async def test_a_dropped_session_recovers_with_what_it_missed(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    async with aiohttp.ClientSession() as http:
        token = await ws_token(server)
        async with http.ws_connect(f"{token['uri']}?access_token={token['ws_access_token']}") as ws:
            meta, _ = await recv(ws)
            wsc = meta["wsc"]["token"]
            await ws.send_str(json.dumps(subscribe_frame("m-1", TEL)))
            _, sub = await recv(ws)
        # disconnected: the call happens while no one listens
        await run_calls(server, "--speed", "20", "--max-frames", "100")
        await asyncio.sleep(1.0)

        token = await ws_token(server)
        url = f"{token['uri']}?access_token={token['ws_access_token']}&wsc={wsc}"
        async with http.ws_connect(url) as ws:
            meta, details = await recv(ws)
            assert details["recoveryState"] == "Successful"
            assert meta["wsc"]["token"] == wsc
            missed = [await recv(ws) for _ in range(4)]
            assert list(lifecycles(missed).values()) == [LIFECYCLE]
            assert all(env["subscriptionId"] == sub["id"] for _, env in missed)
            seq = [m["wsc"]["sequence"] for m, _ in missed]
            assert seq == list(range(seq[0], seq[0] + 4))

            # and the session goes on live
            await run_calls(server, "--speed", "20", "--max-frames", "100")
            live = [await recv(ws) for _ in range(4)]
            assert list(lifecycles(live).values()) == [LIFECYCLE]
            assert live[0][0]["wsc"]["sequence"] == seq[-1] + 1

            # deleting it over the socket stops the notifications
            await ws.send_str(
                json.dumps(
                    [
                        {
                            "type": "ClientRequest",
                            "messageId": "d-1",
                            "method": "DELETE",
                            "path": f"/restapi/v1.0/subscription/{sub['id']}",
                        }
                    ]
                )
            )
            meta_d = (await recv(ws))[0]
            assert (meta_d["messageId"], meta_d["status"]) == ("d-1", 204)
            await run_calls(server, "--speed", "20", "--max-frames", "50")
            with pytest.raises(TimeoutError):
                await ws.receive(timeout=2)

        # an unknown session token: a new session, recovery Failed
        token = await ws_token(server)
        url = f"{token['uri']}?access_token={token['ws_access_token']}&wsc=wsc-unknown"
        async with http.ws_connect(url) as ws:
            meta, details = await recv(ws)
            assert details["recoveryState"] == "Failed"
            assert meta["wsc"]["token"] != "wsc-unknown"


async def sent_over_websockets(server: Server) -> int:
    """Notifications written to gateway sockets so far (the server's metrics)."""
    async with aiohttp.ClientSession() as http, http.get(server.http + "/metrics") as r:
        text = await r.text()
    m = re.search(r'callscope_deliveries_total\{result="sent",transport="WebSocket"\} (\d+)', text)
    return int(m.group(1)) if m else 0


async def connect(
    http: aiohttp.ClientSession, server: Server, wsc: str = "", sequence: int | None = None
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any], dict[str, Any]]:
    """A gateway connection (recovering ``wsc`` if given): (socket, meta, details)."""
    token = await ws_token(server)
    url = f"{token['uri']}?access_token={token['ws_access_token']}"
    if wsc:
        url += f"&wsc={wsc}"
    if sequence is not None:
        url += f"&wscSequence={sequence}"
    ws = await http.ws_connect(url)
    meta, details = await recv(ws)
    assert meta["type"] == "ConnectionDetails"
    return ws, meta, details


async def drop_without_close(ws: aiohttp.ClientWebSocketResponse) -> None:
    """The connection dies as on a broken network: no close frame, a TCP reset."""
    ws.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
    )
    ws._conn.transport.abort()  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):
        await ws.close()


async def half_open_then_recover(
    http: aiohttp.ClientSession, first: Server, second: Server, names_its_sequence: bool
) -> None:
    """A client of ``first`` stops reading (and so answering pings); 20 events are written
    into its connection, which then dies without a close; one more call is queued while
    nobody is connected. It recovers the session on ``second`` (the same node or another):
    all 24, each once, in order, the 20 missed before the queued ones."""
    ws, meta, _ = await connect(http, first)
    wsc = meta["wsc"]["token"]
    await ws.send_str(json.dumps(subscribe_frame("m-1", TEL)))
    _, sub = await recv(ws)
    seen = 0
    if names_its_sequence:  # it reads one call's events first, then stalls
        await run_calls(first, "--speed", "20", "--max-frames", "50")
        read = [await recv(ws) for _ in range(4)]
        assert list(lifecycles(read).values()) == [LIFECYCLE]
        seen = read[-1][0]["wsc"]["sequence"]
        assert seen == 4
    await run_calls(first, "--calls", "5", "--speed", "20", "--max-frames", "50")
    deadline = asyncio.get_running_loop().time() + 30
    while await sent_over_websockets(first) < seen + 20:
        assert asyncio.get_running_loop().time() < deadline, "the 20 were never written"
        await asyncio.sleep(0.1)
    await drop_without_close(ws)
    await run_calls(first, "--speed", "20", "--max-frames", "50")

    ws, meta, details = await connect(http, second, wsc, seen if names_its_sequence else None)
    try:
        assert details["recoveryState"] == "Successful"
        assert meta["wsc"] == {"token": wsc, "sequence": seen}
        frames = [await recv(ws) for _ in range(24)]
        with pytest.raises(TimeoutError):
            await ws.receive(timeout=1.5)  # nothing twice
        assert [m["wsc"]["sequence"] for m, _ in frames] == list(range(seen + 1, seen + 25))
        assert len({env["uuid"] for _, env in frames}) == 24
        assert all(env["subscriptionId"] == sub["id"] for _, env in frames)
        missed, queued = lifecycles(frames[:20]), lifecycles(frames[20:])
        assert list(missed.values()) == [LIFECYCLE] * 5
        assert list(queued.values()) == [LIFECYCLE]
        assert set(missed).isdisjoint(queued)
    finally:
        await ws.close()


@pytest.mark.parametrize("names_its_sequence", [False, True], ids=["wsc-only", "wscSequence"])
async def test_a_half_open_client_gets_every_notification_once_in_order_on_recovery(
    server_factory: type[Server], tmp_path: Path, names_its_sequence: bool
) -> None:
    server = server_factory(tmp_path / "data").start()
    async with aiohttp.ClientSession() as http:
        await half_open_then_recover(http, server, server, names_its_sequence)


async def test_a_session_lost_on_one_node_is_recovered_on_another(
    pg_url: str, redis_prefix: str, server_factory: type[Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"  # one demo account: the nodes share the database
    a = server_factory(data, extra_args=node_args("node-a", pg_url, redis_prefix)).start()
    b = server_factory(data, extra_args=node_args("node-b", pg_url, redis_prefix)).start()
    async with aiohttp.ClientSession() as http:
        await half_open_then_recover(http, a, b, names_its_sequence=False)


async def test_wsc_sequence_keeps_counting_across_a_server_crash(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    async with aiohttp.ClientSession() as http:
        ws, meta, _ = await connect(http, server)
        wsc = meta["wsc"]["token"]
        await ws.send_str(json.dumps(subscribe_frame("m-1", TEL)))
        await recv(ws)
        await run_calls(server, "--speed", "20", "--max-frames", "50")
        before = [await recv(ws) for _ in range(4)]
        assert [m["wsc"]["sequence"] for m, _ in before] == [1, 2, 3, 4]

        server.kill()
        with contextlib.suppress(Exception):
            await ws.close()
        server.start()
        ws, meta, details = await connect(http, server, wsc, 4)
        try:
            assert details["recoveryState"] == "Successful"
            assert meta["wsc"] == {"token": wsc, "sequence": 4}
            await run_calls(server, "--speed", "20", "--max-frames", "50")
            after = [await recv(ws) for _ in range(4)]
            assert [m["wsc"]["sequence"] for m, _ in after] == [5, 6, 7, 8]
            assert list(lifecycles(after).values()) == [LIFECYCLE]
        finally:
            await ws.close()


async def test_an_orphaned_websocket_subscription_expires_after_the_recovery_window(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data", extra_args=["--events-ws-recovery-s", "3"]).start()
    async with aiohttp.ClientSession() as http:
        ws, meta, details = await connect(http, server)
        assert details["recoveryTimeout"] == 3
        wsc = meta["wsc"]["token"]
        await ws.send_str(json.dumps(subscribe_frame("m-1", TEL)))
        _, sub = await recv(ws)
        assert sub["expiresIn"] <= 3  # renewed while connected, not for a day
        status, live = await request(
            server, "GET", f"/restapi/v1.0/subscription/{sub['id']}", headers=server.headers
        )
        assert (status, live["status"]) == (200, "Active")

        server.kill()  # the socket is gone and nothing said so: no clean-up ran
        with contextlib.suppress(Exception):
            await ws.close()
        server.start()

        async def gone() -> bool:
            status, _ = await request(
                server, "GET", f"/restapi/v1.0/subscription/{sub['id']}", headers=server.headers
            )
            return status == 404

        deadline = asyncio.get_running_loop().time() + 20
        while not await gone():
            assert asyncio.get_running_loop().time() < deadline, "the orphan did not expire"
            await asyncio.sleep(0.2)
        _, listed = await request(
            server, "GET", "/restapi/v1.0/subscription", headers=server.headers
        )
        assert sub["id"] not in [s["id"] for s in listed["records"]]
        ws, meta, details = await connect(http, server, wsc)
        try:
            assert details["recoveryState"] == "Failed"
            assert meta["wsc"]["token"] != wsc
        finally:
            await ws.close()
