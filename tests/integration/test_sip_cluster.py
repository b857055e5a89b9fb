"""A SIP phone registered with one node of a cluster supervises a call another node carries:
node B's registrar has Sam's desk phone (Debian's baresip), node A has Alex's call. A rings
the phone through B, B passes the call's audio to it and its microphone, digits and hang-up
back to A."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import Server, make_stereo_fixture
from tests.helpers.cluster import node_args
from tests.helpers.login import request
from tests.helpers.phone import monitoring_group, supervise
from tests.helpers.runner import call_options, live_session, start_call
from tests.helpers.sip import active_mode, desk_phone, sam_listens, start_sip_server
from tests.helpers.wait import until, until_async

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("baresip") is None, reason="needs Debian's baresip"),
]

TEL = "/restapi/v1.0/account/~/telephony/sessions"


async def test_a_sip_phone_on_node_b_supervises_a_call_on_node_a(
    pg_url: str, redis_prefix: str, server_factory: type[Server], tmp_path: Path
) -> None:
    a = server_factory(tmp_path / "data", extra_args=node_args("node-a", pg_url, redis_prefix))
    a.start()
    b = start_sip_server(server_factory, tmp_path, *node_args("node-b", pg_url, redis_prefix))
    exts, device_id, phone = await desk_phone(b, tmp_path)  # registers with B
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=6.0)  # what the test does takes about a second

    async def supervisor_on_a(sid: str, party_id: str) -> str:
        """The supervisor party's status code in the session A serves."""
        _, session = await request(a, "GET", f"{TEL}/{sid}", headers=a.headers)
        found = next(p for p in session["parties"] if p["id"] == party_id)
        return str(found["status"]["code"])

    try:
        await phone.logged("200 OK", "baresip registered with node B")
        call = start_call(call_options(a, source))  # a two-way call into node A
        sid, party = await sam_listens(a, exts, device_id)  # A takes B's phone as its device
        await phone.logged("Call established", "the phone on B answered A's supervision")
        stat = json.loads(await phone.command("callstat"))["data"]
        assert "Listen: Alex Agent (102)" in stat  # who is monitored, though A knows the call
        for digit, mode in (("5", "Coach"), ("6", "Barge")):
            await phone.command("sndcode", digit)  # RFC 4733 on B, the mode switched on A

            async def switched(mode: str = mode) -> bool:
                return await active_mode(a, device_id) == mode

            await until_async(switched, what=f"digit {digit}: {mode} on node A")
        assert await supervisor_on_a(sid, party["id"]) == "Answered"
        await phone.command("hangup")  # BYE to B: A's supervision ends, the call goes on

        async def left() -> bool:
            return await supervisor_on_a(sid, party["id"]) == "Disconnected"

        await until_async(left, what="the supervisor party left the call on A")
        assert await active_mode(a, device_id) is None
        result = await asyncio.wait_for(call, 40)
    finally:
        phone.stop()
    assert result.status == "completed"
    assert result.heard is not None  # what the phone said reached A's call, through B
    assert result.heard.frames["agent"], "coached and barged: the agent heard the phone"
    assert result.heard.frames["customer"], "barged: the customer heard the phone"
    assert "supervision ended (the phone hung up)" in b.log()  # B saw the BYE


async def test_a_sip_phone_on_node_b_rings_a_line_for_a_call_on_each_node(
    pg_url: str, redis_prefix: str, server_factory: type[Server], tmp_path: Path
) -> None:
    """Each node numbers a device's streams from 1: B gives the stream of A's call an id of
    the phone's own, so the phone rings a second line for B's call instead of taking it for
    the call it already has."""
    a = server_factory(tmp_path / "data", extra_args=node_args("node-a", pg_url, redis_prefix))
    a.start()
    b = start_sip_server(server_factory, tmp_path, *node_args("node-b", pg_url, redis_prefix))
    exts, device_id, phone = await desk_phone(b, tmp_path)
    await monitoring_group(b, {"101": ["Monitoring"], "103": ["Monitored"]}, exts)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=6.0)  # both lines ring within about a second
    try:
        await phone.logged("200 OK", "baresip registered with node B")
        on_a = start_call(call_options(a, source, two_way=False))  # 102's call, into A
        on_b = start_call(call_options(b, source, two_way=False), index=1)  # 103's, into B
        await sam_listens(a, exts, device_id)
        await phone.logged("Call established", "the line for A's call")
        sid = (await live_session(b, exts["103"]))["telephonySessionId"]
        body = {"mode": "Listen", "supervisorDeviceId": device_id, "agentExtensionNumber": "103"}
        status, party = await supervise(b, sid, body)
        assert status == 201, party
        await until(
            lambda: phone.log().count("Call established") == 2, what="a second line for B's call"
        )
        results = await asyncio.wait_for(asyncio.gather(on_a, on_b), 40)
        await until(lambda: phone.log().count("session closed") == 2, what="both lines hung up")
    finally:
        phone.stop()
    assert [r.status for r in results] == ["completed", "completed"]
