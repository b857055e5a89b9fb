"""Ingest authentication, attacked as someone on the same network would: every stream must
prove a streaming profile's secret, and its call belongs to that profile's account.

Each test makes the attack first, then checks the refusal and that nothing was stored."""

from __future__ import annotations

import asyncio
import base64
import os
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callscope.protocols.ringcx import Perspective, build_connected, build_media, build_start
from callscope.protocols.twilio import build_stream_start
from tests.conftest import Server, make_stereo_fixture
from tests.helpers.login import other_account, request
from tests.helpers.phone import Phone, desk_phone_uri, extensions, genesys, monitoring_group, tone
from tests.helpers.runner import call_options, start_call
from tests.helpers.wait import until

pytestmark = pytest.mark.slow

PRODUCT = "/platform/api/media/product"
DEMO_QUERY = {
    "subaccountId": "88800012",
    "productType": "Queue",
    "productId": "4401",
    "callId": "attack-1",
    "agentId": "5501",
}


async def calls(server: Server, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    _, body = await request(server, "GET", "/calls", headers=headers or server.headers)
    return list(body["records"])


async def upgrade(
    server: Server,
    query: dict[str, str],
    headers: dict[str, str] | None = None,
    path: str = "/ringcx/stream",
) -> tuple[int, str]:
    """Try a stream upgrade; the HTTP status (101 when accepted) and the body."""
    status, text, _ = await upgrade_answer(server, query, headers, path)
    return status, text


async def upgrade_answer(
    server: Server,
    query: dict[str, str],
    headers: dict[str, str] | None = None,
    path: str = "/ringcx/stream",
) -> tuple[int, str, dict[str, str]]:
    """Try a stream upgrade over a raw socket (to read a refusal's body); status (101 when
    accepted), body and headers of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        lines = [
            f"GET {path}?{urllib.parse.urlencode(query)} HTTP/1.1",
            f"Host: 127.0.0.1:{server.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *header_lines = head.decode().split("\r\n")
        answer = {k.strip(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
        status = int(status_line.split()[1])
        body = b""
        if status != 101:
            body = await asyncio.wait_for(
                reader.readexactly(int(answer.get("Content-Length", "0"))), 10
            )
        return status, body.decode(), answer
    finally:
        writer.close()


async def one_way_call(
    server: Server,
    query: dict[str, str],
    start: dict[str, Any],
    headers: dict[str, str],
    frames: int = 5,
) -> tuple[int | None, str]:
    """Stream a short call; returns the close code and reason the server gave."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(server.ws, params=query, headers=headers) as ws,
    ):
        await ws.send_str(build_connected().decode())
        await ws.send_str(build_start(start).decode())
        for seq in range(1, frames + 1):
            for p in (Perspective.PARTICIPANT, Perspective.CONFERENCE):
                await ws.send_str(build_media(p, seq, b"\x55" * 160).decode())
        await ws.send_str('{"event": "Stop", "metadata": {}}')
        await ws.send_str('{"event": "Stop", "metadata": {}}')
        msg = await ws.receive(timeout=15)
        return ws.close_code, msg.extra if isinstance(msg.extra, str) else ""


async def test_no_credentials_no_call(server: Server) -> None:
    # a flood of streams that name the demo account but prove nothing
    results = await asyncio.gather(
        *(
            upgrade(server, {**DEMO_QUERY, "rcAccountId": "70000001", "callId": f"x{i}"})
            for i in range(30)
        )
    )
    assert {status for status, _ in results} <= {401, 429}
    assert results[0][0] == 401
    assert "X-Streaming-Secret" in results[0][1]
    assert await calls(server) == []
    assert not list((server.data_dir / "recordings").iterdir())


async def test_the_call_goes_to_the_profiles_account_never_the_one_named(
    server: Server,
) -> None:
    other, _ = other_account(server)
    theirs = await other.headers()
    # Another account's admin makes a profile for the very same product triple as ours
    # (profiles are per account: that is allowed, and does not lock us out) ...
    profile = {
        "productType": "QUEUE",
        "productId": 4401,
        "subAccountId": "88800012",
        "mainAccountId": "88800010",
        "rcAccountId": "80000001",
        "streamingUrl": "",
        "secret": "her-own-secret-1",
    }
    status, body = await request(server, "POST", PRODUCT, headers=theirs, json=profile)
    assert status == 200, body
    status, ours = await request(
        server,
        "GET",
        PRODUCT + "/account/88800012/type/QUEUE/id/4401",
        headers=server.headers,
    )
    assert (status, ours["rcAccountId"]) == (200, "70000001")
    # ... and streams with her secret, naming our account: refused, nothing stored.
    secret = {"X-Streaming-Secret": "her-own-secret-1"}
    status, text = await upgrade(server, {**DEMO_QUERY, "rcAccountId": "70000001"}, secret)
    assert status == 403
    assert "rcAccountId" in text
    # naming our account only in the Start: refused at the Start, nothing stored
    code, reason = await one_way_call(
        server, DEMO_QUERY, {**DEMO_QUERY, "rcAccountId": "70000001"}, secret
    )
    assert code == 1008
    assert "rcAccountId" in reason
    assert await calls(server) == []
    # naming no account: the call is hers, not ours
    code, _ = await one_way_call(server, DEMO_QUERY, DEMO_QUERY, secret)
    assert code == 1000
    theirs_calls = await until_calls(server, theirs, 1)
    assert theirs_calls[0]["accountId"] == "80000001"
    assert await calls(server) == []
    # her secret cannot be given to our profile either (a secret names one account)
    status, body = await request(
        server,
        "PUT",
        PRODUCT,
        headers=server.headers,
        json={**profile, "rcAccountId": "70000001", "secret": "her-own-secret-1"},
    )
    assert status == 409, body


async def until_calls(server: Server, headers: dict[str, str], n: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def poll() -> None:
        for _ in range(200):
            found[:] = await calls(server, headers)
            if len(found) >= n:
                return
            await asyncio.sleep(0.05)

    await poll()
    assert len(found) >= n, found
    return found


@pytest.mark.parametrize(
    ("query", "start", "word"),
    [
        # the product named only in the Start, a different one from the profile's
        (
            {"callId": "a"},
            {"callId": "a", "productId": 4402, "subaccountId": "88800012"},
            "productId",
        ),
        # a product id the profile does not hold, spelled to dodge a digits-only check
        ({**DEMO_QUERY, "productId": "+4401"}, DEMO_QUERY, "productId"),
        # the upgrade and the Start disagree on what gets stored
        (DEMO_QUERY, {**DEMO_QUERY, "agentId": 5503}, "agentId"),
        (DEMO_QUERY, {**DEMO_QUERY, "callId": "another"}, "callId"),
    ],
)
async def test_claims_that_disagree_with_the_profile_are_refused(
    module_server: Server, query: dict[str, str], start: dict[str, Any], word: str
) -> None:
    status, text = await upgrade(module_server, query, module_server.stream_headers)
    if status == 101:  # the upgrade says nothing wrong: the Start is refused
        code, reason = await one_way_call(module_server, query, start, module_server.stream_headers)
        assert code == 1008
        assert word in reason
    else:
        assert status == 403
        assert word in text
    await asyncio.sleep(0.3)  # rows are written behind: give a wrong one time to show up
    assert await calls(module_server) == []


async def test_profiles_secrets_are_write_only_and_hashed(module_server: Server) -> None:
    status, body = await request(module_server, "GET", PRODUCT, headers=module_server.headers)
    assert status == 200
    assert all("secret" not in p and p["secretSet"] for p in body["records"])
    import sqlite3

    with sqlite3.connect(module_server.data_dir / "callscope.db") as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(streaming_profiles)")]
        stored = db.execute("SELECT secret_hash FROM streaming_profiles").fetchall()
    assert "secret" not in columns
    assert stored
    assert all(row[0].startswith("v1$") for row in stored)
    assert module_server.stream_secret not in str(stored)


async def test_guessing_secrets_holds_the_address_back(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "d", extra_args=["--ingest-auth-max-failures", "5"]).start()
    statuses = [
        (await upgrade(server, DEMO_QUERY, {"X-Streaming-Secret": f"guess-{i:04d}"}))[0]
        for i in range(8)
    ]
    assert statuses[:5] == [403] * 5
    assert statuses[5:] == [429] * 3
    # held back: even the right secret waits (and no hash is computed for it)
    status, _, headers = await upgrade_answer(server, DEMO_QUERY, server.stream_headers)
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert await calls(server) == []


async def test_sockets_that_never_start_are_closed_and_addresses_are_capped(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(
        tmp_path / "d",
        extra_args=[
            "--ingest-idle-timeout-s",
            "60",
            "--ingest-start-deadline-s",
            "1",
            "--ingest-max-connections-per-ip",
            "3",
        ],
    ).start()
    async with aiohttp.ClientSession() as http:
        held = [
            await http.ws_connect(server.ws, params=DEMO_QUERY, headers=server.stream_headers)
            for _ in range(3)
        ]
        status, _ = await upgrade(server, DEMO_QUERY, server.stream_headers)
        assert status == 503  # a fourth stream from one address
        # they keep talking (Connected again and again) but never Start: closed anyway
        for ws in held:
            await ws.send_str(build_connected().decode())
        # read all three at once: each must answer the server's close within its 2 s
        messages = await asyncio.gather(*(ws.receive(timeout=15) for ws in held))
        assert all(m.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) for m in messages)
        assert [ws.close_code for ws in held] == [1008] * 3
        # the address may stream again once they are gone
        code, _ = await one_way_call(server, DEMO_QUERY, DEMO_QUERY, server.stream_headers)
        assert code == 1000
    assert len(await until_calls(server, server.headers, 1)) == 1


async def test_a_two_way_stream_that_proves_nothing_never_hears_a_supervisor(
    server_factory: type[Server], tmp_path: Path
) -> None:
    # default posture: refused at its start, nothing stored
    server = server_factory(tmp_path / "a").start()
    custom = {**DEMO_QUERY, "rcAccountId": "70000001"}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(server.http + "/twilio/stream") as ws,
    ):
        await ws.send_str(build_stream_start("MZ1", "CA1", custom).decode())
        msg = await ws.receive(timeout=10)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 1008
    assert await calls(server) == []
    server.kill()

    # lab posture (unauthenticated streams accepted): a Coach order armed for the agent
    # never attaches to such a stream, and no coaching reaches it
    lab = server_factory(tmp_path / "b", extra_args=["--ingest-allow-unauthenticated"]).start()
    exts = await extensions(lab)
    await monitoring_group(lab, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=3.0)
    phone = await Phone(lab, lab.headers["Authorization"][7:]).connect()
    try:
        status, ok = await genesys(
            lab,
            phone.device_id,
            operationName="Coach",
            targetDeviceUri=await desk_phone_uri(lab, exts["102"]),
            supervisorMonitoringMode="AllCalls",
        )
        assert (status, ok) == (200, {"statusCode": 0})
        sneaky = start_call(call_options(lab, source, secret=None))
        talking = asyncio.create_task(phone.talk(tone(), 100))
        result = await asyncio.wait_for(sneaky, 30)
        talking.cancel()
        assert result.status == "completed"
        assert result.heard is not None
        assert result.heard.count("agent") == 0
        assert phone.of("StreamStarted") == []
        (lab_call,) = await until_calls(lab, lab.headers, 1)
        assert lab_call["authenticated"] is False
        # the same order does attach to an authenticated call (the check above can fail)
        honest = start_call(call_options(lab, source))
        await until(lambda: phone.of("StreamStarted"), what="the order attached")
        await phone.talk(tone(), 10)
        result = await asyncio.wait_for(honest, 30)
        assert result.heard is not None
        assert result.heard.count("agent") == 10
    finally:
        await phone.close()


async def test_two_way_streams_waiting_for_their_start_are_capped_per_address(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(
        tmp_path / "d", extra_args=["--ingest-max-unproven-per-ip", "2"]
    ).start()
    url = server.http + "/twilio/stream"
    async with aiohttp.ClientSession() as http:
        waiting = [await http.ws_connect(url) for _ in range(2)]
        status, _, headers = await upgrade_answer(server, {}, path="/twilio/stream")
        assert status == 429  # a third stream that has proved nothing must wait its turn
        assert headers["Retry-After"] == "1"
        # one proves its secret at its start: it no longer counts as waiting
        custom = {**DEMO_QUERY, "secret": server.stream_secret}
        await waiting[0].send_str(build_stream_start("MZ1", "CA1", custom).decode())
        third = await until_upgrade(server)
        assert third == 101
        # one that was refused (a wrong secret) or went away frees its place too
        await waiting[1].close()
        assert await until_upgrade(server) == 101
        for ws in waiting:
            await ws.close()
    # a stream that presents its secret as a header is never made to wait
    for _ in range(3):
        status, _, _ = await upgrade_answer(
            server, {}, headers=server.stream_headers, path="/twilio/stream"
        )
        assert status == 101


async def until_upgrade(server: Server) -> int:
    """The status of an unproven two-way upgrade, once it is not 429 (bounded wait)."""
    status = 0
    for _ in range(50):
        status, _, _ = await upgrade_answer(server, {}, path="/twilio/stream")
        if status != 429:
            break
        await asyncio.sleep(0.1)
    return status
