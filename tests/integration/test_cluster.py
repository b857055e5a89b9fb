"""Two ``callscope serve`` nodes on one PostgreSQL database and one Redis.

Calls stream into node A; a supervisor's tools talk to node B: the call list, telephony
sessions, the live transcript, WebHook events and insights. Then A is SIGKILLed mid-call:
B marks the call interrupted and keeps its recording, the events still arrive, the live
transcript viewer on B is told the transcript ended, and the insights job A was working on
is finished by B.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from callscope.media.g711 import lin2ulaw
from tests.conftest import Server, free_port, make_stereo_fixture, serve_local
from tests.helpers.cluster import DEAD_AFTER_S, node_args
from tests.helpers.insights import document
from tests.helpers.login import assert_rc_error, request
from tests.helpers.phone import Phone, extensions, genesys, monitoring_group, supervise, tone
from tests.helpers.receiver import LIFECYCLE, TEL, Receiver, subscribe
from tests.helpers.runner import (
    call_options,
    live_session,
    recording,
    run_calls,
    start_call,
    start_simulate,
    stream_pcm,
)
from tests.helpers.wait import until, until_async

pytestmark = pytest.mark.slow


async def two_nodes_and_a_phone_on_b(
    server_factory: type[Server], data: Path, pg_url: str, prefix: str
) -> tuple[Server, Server, dict[str, dict[str, Any]], Phone]:
    """Nodes A and B; 101 may supervise 102; 101's web phone connected to B."""
    a = server_factory(data, extra_args=node_args("node-a", pg_url, prefix)).start()
    b = server_factory(data, extra_args=node_args("node-b", pg_url, prefix)).start()
    exts = await extensions(b)
    await monitoring_group(b, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    phone = await Phone(b, b.headers["Authorization"][7:]).connect()
    return a, b, exts, phone


class HangingLlm:
    """An OpenAI-compatible endpoint that takes every request and never answers (it stands
    in for a model we cannot run here): the node calling it holds its insights job."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.released = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(await request.json())
        await self.released.wait()  # until the test ends
        return web.json_response({})

    async def start(self) -> HangingLlm:
        self.runner = await serve_local(self.port, web.post("/v1/chat/completions", self.handle))
        return self

    async def stop(self) -> None:
        self.released.set()  # or the server's shutdown would wait a minute for the handler
        if self.runner is not None:
            await self.runner.cleanup()


async def live_calls(server: Server) -> list[dict[str, Any]]:
    _, calls = await request(server, "GET", "/calls?status=live", headers=server.headers)
    return calls["records"]  # type: ignore[no-any-return]


async def test_calls_on_node_a_are_served_by_node_b_and_survive_a_sigkill_of_a(
    pg_url: str, redis_prefix: str, server_factory: type[Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"  # one data directory: the recordings are on shared storage
    llm = await HangingLlm().start()
    receiver = await Receiver().start()
    a = server_factory(
        data,
        asr=True,
        extra_args=node_args(
            "node-a",
            pg_url,
            redis_prefix,
            *("--insights-llm-url", f"http://127.0.0.1:{llm.port}"),
            *("--insights-llm-deadline-s", "600"),
        ),
    ).start(timeout_s=120)
    try:
        await subscribe(a, receiver.url)
        # Call 1 ends on A; A takes its insights job and waits on the (hanging) LLM.
        await run_calls(a, "--speed", "4", "--max-frames", "750", timeout_s=120)
        await until(lambda: llm.requests, timeout=60, what="node A working on call 1's job")
        _, calls = await request(a, "GET", "/calls", headers=a.headers)
        first = calls["records"][0]

        b = server_factory(data, extra_args=node_args("node-b", pg_url, redis_prefix)).start()
        _, health = await request(b, "GET", "/health")
        assert health["node"] == "node-b"
        assert health["cluster"]["nodesAlive"] == ["node-a", "node-b"]

        # Call 2 streams into A for a minute of call (at twice real time); B lists it, shows
        # its session and transcript.
        sim = start_simulate(a, "--speed", "2", "--max-frames", "3000")
        try:
            live = await until_async(lambda: live_calls(b), what="call 2 listed live by node B")
            second = live[0]
            status, session = await request(
                b,
                "GET",
                f"/restapi/v1.0/account/~/telephony/sessions/{second['telephonySessionId']}",
                headers=b.headers,
            )
            assert status == 200, session
            events: list[dict[str, Any]] = []
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(
                    f"{b.http}/calls/{second['id']}/transcript/ws", headers=b.headers
                ) as ws,
            ):
                snapshot = await ws.receive_json(timeout=10)
                assert snapshot["event"] == "transcript.snapshot"
                assert snapshot["status"] == "live"
                # finals made on A reach the viewer on B
                while not any(e["event"] == "transcript.final" for e in events):
                    events.append(await ws.receive_json(timeout=30))
                await until(
                    lambda: len(receiver.sessions().get(second["telephonySessionId"], [])) >= 3,
                    what="call 2's Setup, Proceeding, Answered",
                )
                # each once, whichever node sent them
                assert receiver.sessions()[second["telephonySessionId"]] == LIFECYCLE[:3]
                a.kill()  # mid-call, mid-job
                # B tells the viewer the transcript ended with the node
                while events[-1]["event"] != "transcript.completed":
                    msg = await ws.receive(timeout=DEAD_AFTER_S + 20)
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    events.append(json.loads(msg.data))
        finally:
            sim.kill()
            await sim.ended()
        assert events[-1]["event"] == "transcript.completed"
        assert events[-1]["status"] == "incomplete"
        assert "node-a" in events[-1]["reason"]

        # B marked call 2 interrupted and kept its recording
        _, call = await request(b, "GET", f"/calls/{second['id']}", headers=b.headers)
        assert call["status"] == "interrupted"
        assert "node node-a stopped mid-call" in call["endReason"]
        status, wav = await request(b, "GET", f"/calls/{second['id']}/recording", headers=b.headers)
        assert status == 200
        assert len(wav) > 44 + 8000 * 4  # more than a second of stereo audio, header repaired
        assert int.from_bytes(wav[40:44], "little") == len(wav) - 44

        # every event of both calls arrived, in order, the last ones made by B
        sessions = await until(
            lambda: (
                receiver.sessions()
                if len(receiver.sessions().get(second["telephonySessionId"], [])) == 4
                else None
            ),
            what="call 2's Disconnected, published by node B",
        )
        assert sessions[first["telephonySessionId"]] == LIFECYCLE
        assert sessions[second["telephonySessionId"]] == LIFECYCLE

        # the job A held is taken over and finished by B (offline: B has no LLM)
        doc = await document(b, first["id"], timeout_s=60)
        assert doc["callscopeAnalysis"]["engine"] == "offline"
        assert "northwind" in " ".join(u["text"] for u in doc["insights"]["Transcript"]).lower()
        assert len(llm.requests) == 1  # nobody asked the LLM again
        doc2 = await document(b, second["id"], timeout_s=60)
        assert doc2["sourceRecordId"] == second["id"]

        _, health = await request(b, "GET", "/health")
        assert health["cluster"]["nodesAlive"] == ["node-b"]
        _, metrics = await request(b, "GET", "/metrics")
        assert "callscope_cluster_nodes_reaped_total 1" in metrics
    finally:
        await receiver.stop()
        await llm.stop()


async def test_a_supervisor_on_node_b_listens_to_and_coaches_a_call_on_node_a(
    pg_url: str, redis_prefix: str, server_factory: type[Server], tmp_path: Path
) -> None:
    a, b, exts, phone = await two_nodes_and_a_phone_on_b(
        server_factory, tmp_path / "data", pg_url, redis_prefix
    )
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=6.0)  # what the test does takes 2-3 s of it
    voice = tone()
    spoken = lin2ulaw(np.frombuffer(voice, dtype="<i2"))
    try:
        call = start_call(call_options(a, source))  # the call: into A
        sid = (await live_session(b, exts["102"]))["telephonySessionId"]
        body = {"supervisorDeviceId": phone.device_id, "agentExtensionNumber": "102"}
        # every request goes to B; B passes it to A, which carries the call
        status, party = await supervise(b, sid, {**body, "mode": "Listen"})
        assert status == 201, party
        assert party["from"]["deviceId"] == phone.device_id
        _, session = await request(b, "GET", f"{TEL}/{sid}", headers=b.headers)
        assert party["id"] in [p["id"] for p in session["parties"]]
        await until(lambda: phone.first("StreamStarted"), what="the stream, through B")
        state = await until(
            lambda: next((s for s in phone.states() if "supervisorMonitoringState" in s), None),
            what="the device state made on A",
        )
        assert state["supervisorMonitoringState"]["telephonySessionId"] == sid
        started = phone.first("StreamStarted")
        assert started is not None
        await until(  # a second of the call heard before the switch
            lambda: len(phone.audio.get(started["stream"], {})) >= 50, what="a second of audio"
        )
        status, again = await supervise(b, sid, {**body, "mode": "Coach"})
        assert status == 200, again
        await until(lambda: phone.of("ModeChanged"), what="ModeChanged")
        await phone.talk(voice, 25)  # B passes the microphone on to A
        await asyncio.sleep(0.5)
        status, text = await request(
            b, "DELETE", f"{TEL}/{sid}/parties/{party['id']}", headers=b.headers
        )
        assert status == 204, text
        await until(lambda: phone.of("StreamEnded"), what="StreamEnded")
        # the rules hold across nodes: a call another node carries is still one call
        status, err = await supervise(b, "s-c0ffee", {**body, "mode": "Listen"})
        assert_rc_error(err, 404, status, "CMN-102")
        result = await asyncio.wait_for(call, 30)
    finally:
        await phone.close()
    assert result.status == "completed"
    assert result.heard is not None
    agent_heard = list(result.heard.frames["agent"].values())
    assert len(agent_heard) == 25, len(agent_heard)
    assert all(f == spoken for f in agent_heard)
    assert not result.heard.frames["customer"]
    # what the phone on B heard is the call recorded on A, sample for sample
    started = phone.first("StreamStarted")
    assert started is not None
    first, got = stream_pcm(phone.audio[started["stream"]])
    assert len(got) >= 8000
    pcm = recording(a, sid.removeprefix("s-")).astype(np.int32)
    mixed = np.clip(pcm[:, 0] + pcm[:, 1], -32768, 32767)
    assert np.array_equal(got, mixed[first * 160 : first * 160 + len(got)])


async def test_a_phone_supervising_calls_on_two_nodes_gets_a_stream_id_for_each(
    pg_url: str, redis_prefix: str, server_factory: type[Server], tmp_path: Path
) -> None:
    """Each node numbers a device's streams from 1: the phone's node renumbers the streams of
    other nodes' calls, so a call on A and a call on B never share an id, and the audio, the
    microphone and the end of each stream stay with their own call."""
    a, b, exts, phone = await two_nodes_and_a_phone_on_b(
        server_factory, tmp_path / "data", pg_url, redis_prefix
    )
    await monitoring_group(b, {"101": ["Monitoring"], "103": ["Monitored"]}, exts)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=8.0)  # what the test does takes about 3 s of it
    voice = tone()
    spoken = lin2ulaw(np.frombuffer(voice, dtype="<i2"))
    try:
        there = start_call(call_options(a, source))  # 102's call, into A
        here = start_call(call_options(b, source), index=1)  # 103's call, into B
        sids = {}
        for node, agent in ((a, "102"), (b, "103")):
            sid = (await live_session(node, exts[agent]))["telephonySessionId"]
            body = {"supervisorDeviceId": phone.device_id, "agentExtensionNumber": agent}
            status, party = await supervise(b, sid, {**body, "mode": "Coach"})
            assert status == 201, party
            sids[sid] = party
        started = await until(
            lambda: len(phone.of("StreamStarted")) == 2 and phone.of("StreamStarted"),
            what="a stream of each call",
        )
        stream_of = {m["telephonySessionId"]: m["stream"] for m in started}
        assert set(stream_of) == set(sids)
        assert len(set(stream_of.values())) == 2, f"one id for two calls: {started}"
        on_a, on_b = (stream_of[s] for s in sids)
        await until(  # each stream's own audio comes under its own id
            lambda: all(len(phone.audio.get(n, {})) >= 50 for n in (on_a, on_b)),
            what="a second of each call",
        )
        await phone.talk(voice, 25, stream=on_a)  # coaching A's call only
        await asyncio.sleep(0.5)
        sid_a = next(iter(sids))
        status, text = await request(
            b, "DELETE", f"{TEL}/{sid_a}/parties/{sids[sid_a]['id']}", headers=b.headers
        )
        assert status == 204, text
        ended = await until(lambda: phone.first("StreamEnded"), what="StreamEnded of A's call")
        assert ended["stream"] == on_a
        heard_b = len(phone.audio[on_b])
        await until(lambda: len(phone.audio[on_b]) > heard_b + 25, what="B's call goes on")
        result_a, result_b = await asyncio.wait_for(asyncio.gather(there, here), 40)
    finally:
        await phone.close()
    assert result_a.heard is not None
    assert result_b.heard is not None
    agent_a = list(result_a.heard.frames["agent"].values())
    assert len(agent_a) == 25, len(agent_a)
    assert all(f == spoken for f in agent_a)
    assert not result_b.heard.frames["agent"], "the microphone went to the other call"


async def test_when_the_supervisors_node_dies_the_call_node_ends_the_supervision(
    pg_url: str, redis_prefix: str, server_factory: type[Server], tmp_path: Path
) -> None:
    a, b, exts, phone = await two_nodes_and_a_phone_on_b(
        server_factory, tmp_path / "data", pg_url, redis_prefix
    )
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=20.0)
    try:
        call = start_call(call_options(a, source, two_way=False))
        sid = (await live_session(a, exts["102"]))["telephonySessionId"]
        status, party = await supervise(
            a,
            sid,
            {
                "mode": "Listen",
                "supervisorDeviceId": phone.device_id,
                "agentExtensionId": exts["102"]["id"],
            },
        )
        assert status == 201, party
        await until(lambda: phone.audio, what="audio on the phone")
        b.kill()
        session = await until_async(
            lambda: _party_gone(a, sid, party["id"]),
            timeout=DEAD_AFTER_S + 15,
            what="the supervisor party disconnected by node A",
        )
        assert session["status"]["reason"] == "CallDropped"
        _, devices = await request(
            a, "GET", "/restapi/v1.0/account/~/extension/~/device", headers=a.headers
        )
        mine = next(d for d in devices["records"] if d["id"] == phone.device_id)
        assert mine["status"] == "Offline"  # B's web phones went with it
        call.cancel()
    finally:
        with contextlib.suppress(Exception):
            await phone.close()


async def test_when_the_calls_node_dies_the_web_phone_on_another_node_is_told_it_ended(
    pg_url: str, redis_prefix: str, server_factory: type[Server], tmp_path: Path
) -> None:
    a, _b, exts, phone = await two_nodes_and_a_phone_on_b(
        server_factory, tmp_path / "data", pg_url, redis_prefix
    )
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=30.0)
    try:
        call = start_call(call_options(a, source, two_way=False))  # the call: into A
        sid = (await live_session(a, exts["102"]))["telephonySessionId"]
        status, party = await supervise(
            a,
            sid,
            {
                "mode": "Listen",
                "supervisorDeviceId": phone.device_id,
                "agentExtensionId": exts["102"]["id"],
            },
        )
        assert status == 201, party
        started = await until(lambda: phone.first("StreamStarted"), what="the stream, via B")
        await until(lambda: phone.audio, what="audio on the phone")
        a.kill()  # the node carrying the call dies
        ended = await until(
            lambda: phone.first("StreamEnded"),
            timeout=DEAD_AFTER_S + 15,
            what="StreamEnded from node B once A is dead",
        )
        assert ended["stream"] == started["stream"]
        assert ended["callId"] == started["callId"]
        assert "node-a" in ended["reason"]
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
    finally:
        with contextlib.suppress(Exception):
            await phone.close()


async def _party_gone(server: Server, sid: str, party_id: str) -> dict[str, Any] | None:
    _, session = await request(server, "GET", f"{TEL}/{sid}", headers=server.headers)
    party = next((p for p in session.get("parties", []) if p["id"] == party_id), None)
    if party is not None and party["status"]["code"] == "Disconnected":
        return party  # type: ignore[no-any-return]
    return None


async def test_an_order_armed_on_a_node_that_just_started_is_mirrored_at_once(
    pg_url: str, redis_prefix: str, server_factory: type[Server], tmp_path: Path
) -> None:
    # heartbeats 20 s apart: node A's listing of live nodes does not name B for a while after
    # B starts, and B's order must reach A all the same (B's own beat says it is alive)
    slow = ("--node-heartbeat-s", "20", "--node-dead-after-s", "120")
    data = tmp_path / "data"
    a = server_factory(data, extra_args=node_args("node-a", pg_url, redis_prefix, *slow)).start()
    b = server_factory(data, extra_args=node_args("node-b", pg_url, redis_prefix, *slow)).start()
    exts = await extensions(b)
    await monitoring_group(b, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    phone = await Phone(b, b.headers["Authorization"][7:]).connect()
    try:
        status, ok = await genesys(b, phone.device_id, operationName="ListenIn", phoneNumber="102")
        assert (status, ok) == (200, {"statusCode": 0})

        async def mirrored() -> dict[str, Any] | None:
            _, mine = await request(a, "GET", "/api/v2/me/devices", headers=a.headers)
            found = [d for d in mine["devices"] if d["id"] == phone.device_id]
            return found[0] if found and "supervisorMonitoringState" in found[0] else None

        listed = await until_async(mirrored, timeout=10, what="node A mirroring B's order")
        assert listed["supervisorMonitoringState"]["agentExtensionId"] == str(exts["102"]["id"])
        _, health = await request(a, "GET", "/health")
        assert health["cluster"]["nodesAlive"] == ["node-a"]  # B not listed yet: the race
    finally:
        await phone.close()


async def test_a_monitoring_order_armed_on_node_b_picks_up_the_agents_call_on_node_a(
    pg_url: str, redis_prefix: str, server_factory: type[Server], tmp_path: Path
) -> None:
    a, b, exts, phone = await two_nodes_and_a_phone_on_b(
        server_factory, tmp_path / "data", pg_url, redis_prefix
    )
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=3.0)
    try:
        status, ok = await genesys(
            b,
            phone.device_id,
            operationName="ListenIn",
            phoneNumber="102",
            supervisorMonitoringMode="NextCall",
        )
        assert (status, ok) == (200, {"statusCode": 0})

        # node A lists the web phone connected to B, with the order it mirrors (the order
        # reaches A over Redis after B has answered)
        async def mirrored() -> dict[str, Any] | None:
            _, mine = await request(a, "GET", "/api/v2/me/devices", headers=a.headers)
            found = [d for d in mine["devices"] if d["id"] == phone.device_id]
            return found[0] if found and "supervisorMonitoringState" in found[0] else None

        listed = await until_async(mirrored, what="node A mirroring B's web phone and order")
        assert listed["supervisorMonitoringState"]["state"] == "ListenIn"
        assert listed["supervisorMonitoringState"]["agentExtensionId"] == str(exts["102"]["id"])

        first = await asyncio.wait_for(start_call(call_options(a, source, two_way=False)), 30)
        assert first.status == "completed"
        started = await until(lambda: phone.first("StreamStarted"), what="the order's stream")
        await until(lambda: phone.of("StreamEnded"), what="the stream's end")
        assert len(phone.audio[started["stream"]]) >= 100  # 2 s of the call, via B
        # NextCall: used up on every node; the agent's next call is not picked up
        second = await asyncio.wait_for(start_call(call_options(a, source, two_way=False)), 30)
        assert second.status == "completed"
        await asyncio.sleep(0.5)
        assert len(phone.of("StreamStarted")) == 1
        _, mine = await request(a, "GET", "/api/v2/me/devices", headers=a.headers)
        listed = next(d for d in mine["devices"] if d["id"] == phone.device_id)
        assert "supervisorMonitoringState" not in listed
    finally:
        await phone.close()
