"""Supervision end to end on 127.0.0.1: calls streamed by the simulator (RingCX one-way and
the two-way Twilio-style stream) into a real server; supervisors' web phones on real
WebSockets; audio compared sample for sample with the recording, and what each simulated
party heard compared with what the supervisor said."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from callscope.media.g711 import lin2ulaw
from callscope.media.wav import WavWriter, read_wav
from callscope.supervision.webphone import mic_frame
from tests.conftest import Server, make_stereo_fixture
from tests.helpers.login import Login, admin_cli, assert_rc_error, other_account, request
from tests.helpers.phone import (
    Phone,
    desk_phone_uri,
    extensions,
    genesys,
    latest_state,
    monitoring_group,
    supervise,
    tone,
)
from tests.helpers.receiver import Receiver, subscribe
from tests.helpers.runner import (
    call_id_of,
    call_options,
    live_session,
    recording,
    start_call,
    start_simulate,
    stream_pcm,
)
from tests.helpers.wait import until

pytestmark = pytest.mark.slow

TEL = "/restapi/v1.0/account/~/telephony/sessions"
GROUPS = "/restapi/v1.0/account/~/call-monitoring-groups"


# -- RingCentral Supervise Call Session / Party ----------------------------------------------


async def test_session_and_party_supervision_deliver_the_calls_audio(
    server: Server, tmp_path: Path
) -> None:
    exts = await extensions(server)
    await monitoring_group(server, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=5.0)
    phone = await Phone(server, server.headers["Authorization"][7:]).connect()
    try:
        # The web phone is a device of the supervisor, Online while connected.
        _, devices = await request(
            server, "GET", "/restapi/v1.0/account/~/extension/~/device", headers=server.headers
        )
        mine = next(d for d in devices["records"] if d["id"] == phone.device_id)
        assert (mine["type"], mine["status"]) == ("WebPhone", "Online")

        call = start_call(call_options(server, source, two_way=False))
        active = await live_session(server, exts["102"])
        sid = active["telephonySessionId"]
        status, party = await supervise(
            server,
            sid,
            {
                "mode": "Listen",
                "supervisorDeviceId": phone.device_id,
                "agentExtensionNumber": "102",
            },
        )
        assert status == 201, party
        assert party["status"] == {"code": "Answered", "rcc": False, "reason": "Supervising"}
        assert party["extensionId"] == exts["101"]["id"].__str__()
        assert party["from"]["deviceId"] == phone.device_id
        assert party["to"]["extensionId"] == str(exts["102"]["id"])
        # Each party alone, on the same device: two more streams.
        customer_party = f"p-{call_id_of(sid)}-1"
        streams = {}
        for target, channel in ((customer_party, "customer"), (active["partyId"], "agent")):
            status, p = await supervise(
                server,
                sid,
                {
                    "mode": "Listen",
                    "supervisorDeviceId": phone.device_id,
                    "agentExtensionId": exts["102"]["id"],
                },
                party=target,
            )
            assert status == 201, p
            streams[channel] = p["id"]
        _, session = await request(server, "GET", f"{TEL}/{sid}", headers=server.headers)
        supervisors = [p for p in session["parties"] if p["id"] in (party["id"], *streams.values())]
        assert len(supervisors) == 3
        assert all(p["status"]["reason"] == "Supervising" for p in supervisors)

        result = await asyncio.wait_for(call, 30)
        assert result.status == "completed"
        await until(lambda: len(phone.of("StreamEnded")) == 3, what="streams ended")
    finally:
        await phone.close()

    started = {m["channel"]: m for m in phone.of("StreamStarted")}
    assert set(started) == {"mixed", "customer", "agent"}
    assert started["customer"]["partyId"] == customer_party
    pcm = recording(server, call_id_of(sid)).astype(np.int32)
    expected = {
        "mixed": np.clip(pcm[:, 0] + pcm[:, 1], -32768, 32767),
        "agent": pcm[:, 0],
        "customer": pcm[:, 1],
    }
    for channel, msg in started.items():
        first, got = stream_pcm(phone.audio[msg["stream"]])
        assert len(got) >= 8000, f"{channel}: less than a second of audio"
        want = expected[channel][first * 160 : first * 160 + len(got)]
        assert np.array_equal(got, want), f"{channel} audio differs from the recording"
    # Mixed is both parties: it differs from either channel alone where both speak.
    assert not np.array_equal(expected["mixed"], expected["agent"])


async def test_coach_reaches_the_agent_only_and_barge_reaches_both(
    server: Server, tmp_path: Path
) -> None:
    exts = await extensions(server)
    await monitoring_group(server, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=5.0)  # the talking and switching take about 1.5 s
    phone = await Phone(server, server.headers["Authorization"][7:]).connect()
    voice = tone()
    spoken = lin2ulaw(np.frombuffer(voice, dtype="<i2"))
    try:
        call = start_call(call_options(server, source))
        sid = (await live_session(server, exts["102"]))["telephonySessionId"]
        body = {"supervisorDeviceId": phone.device_id, "agentExtensionNumber": "102"}
        status, party = await supervise(server, sid, {**body, "mode": "Listen"})
        assert status == 201, party
        await phone.talk(voice, 10)  # while listening: heard by no one
        status, again = await supervise(server, sid, {**body, "mode": "Coach"})
        assert status == 200, again
        assert again["id"] == party["id"]  # same party, new mode
        await until(lambda: phone.of("ModeChanged"), what="ModeChanged")
        await phone.talk(voice, 25)
        status, _ = await supervise(server, sid, {**body, "mode": "Barge"})
        assert status == 200
        await phone.talk(voice, 15)
        status, _ = await supervise(server, sid, {**body, "mode": "Listen"})
        assert status == 200
        await until(lambda: len(phone.of("ModeChanged")) == 3, what="back to Listen")
        await phone.talk(voice, 10)  # listening again: heard by no one
        result = await asyncio.wait_for(call, 30)
    finally:
        await phone.close()
    assert result.status == "completed"
    assert result.heard is not None
    agent_heard = list(result.heard.frames["agent"].values())
    customer_heard = list(result.heard.frames["customer"].values())
    # Coach (25) + barge (15) reached the agent; only barge (15) reached the customer.
    assert len(agent_heard) == 40, len(agent_heard)
    assert len(customer_heard) == 15, len(customer_heard)
    assert all(f == spoken for f in agent_heard + customer_heard)
    # The customer heard the supervisor only after the agent had heard the coaching.
    assert min(result.heard.arrivals["customer"]) > sorted(result.heard.arrivals["agent"])[24]
    # Going back to Listen clears what the platform still holds to play.
    assert result.heard.clears == 1
    assert [m["mode"] for m in phone.of("ModeChanged")] == ["Coach", "Barge", "Listen"]


async def test_every_supervision_rule_is_enforced(server: Server, tmp_path: Path) -> None:
    exts = await extensions(server)
    await monitoring_group(
        server, {"101": ["Monitoring"], "102": ["Monitored"], "103": ["Monitored"]}, exts
    )
    creds = server.credentials()
    # A second supervisor, Monitoring in the same group.
    second = admin_cli(
        server.data_dir,
        "extension",
        "--account",
        creds["accountId"],
        "--number",
        "105",
        "--first-name",
        "Robin",
        "--last-name",
        "Lead",
        "--email",
        "robin@demo.test",
        "--password",
        "robin-pass-1",
    )
    exts = await extensions(server)
    await monitoring_group(server, {"105": ["Monitoring"], "102": ["Monitored"]}, exts)
    robin = Login(
        server, creds["clientId"], creds["clientSecret"], "robin@demo.test", "robin-pass-1"
    )
    robin_headers = await robin.headers()
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=40.0)  # outlives the test: cancelled at its end
    sam = await Phone(server, server.headers["Authorization"][7:]).connect()
    sam2 = await Phone(server, server.headers["Authorization"][7:]).connect()
    robin_phone = await Phone(server, robin_headers["Authorization"][7:]).connect()
    assert second["extensionNumber"] == "105"
    assert len({sam.device_id, sam2.device_id, robin_phone.device_id}) == 3
    opts = call_options(server, source, two_way=False, calls=3)
    calls = [start_call(opts, i) for i in range(3)]  # agents 102, 103, 104 (one-way)
    try:
        sid = (await live_session(server, exts["102"]))["telephonySessionId"]
        sid103 = (await live_session(server, exts["103"]))["telephonySessionId"]
        sid104 = (await live_session(server, exts["104"]))["telephonySessionId"]
        body = {
            "mode": "Listen",
            "supervisorDeviceId": sam.device_id,
            "agentExtensionNumber": "102",
        }

        # Unknown session, party, device, agent; bad mode; malformed JSON.
        status, err = await supervise(server, "s-nope", body)
        assert_rc_error(err, 404, status, "CMN-102")
        status, err = await supervise(
            server, sid, {**body, "agentExtensionId": exts["102"]["id"]}, party="p-nope"
        )
        assert_rc_error(err, 404, status, "CMN-102")
        assert err["errors"][0]["parameterName"] == "partyId"
        status, err = await supervise(server, sid, {**body, "supervisorDeviceId": "999999"})
        assert_rc_error(err, 400, status, "CMN-102")
        assert err["errors"][0]["parameterName"] == "supervisorDeviceId"
        status, err = await supervise(server, sid, {**body, "agentExtensionNumber": "999"})
        assert_rc_error(err, 400, status, "CMN-102")
        status, err = await supervise(server, sid, {**body, "mode": "Whisper"})
        assert_rc_error(err, 400, status, "CMN-101")
        status, err = await request(
            server, "POST", f"{TEL}/{sid}/supervise", headers=server.headers, data=b"{bad"
        )
        assert_rc_error(err, 400, status, "CMN-103")
        status, err = await supervise(
            server, sid, {"mode": "Listen", "agentExtensionNumber": "102"}
        )
        assert_rc_error(err, 400, status, "CMN-101")
        # no mode: named, with no value (never "None")
        status, err = await supervise(
            server, sid, {"supervisorDeviceId": sam.device_id, "agentExtensionNumber": "102"}
        )
        assert_rc_error(err, 400, status, "CMN-101")
        assert err["errors"][0]["parameterName"] == "mode"
        assert "parameterValue" not in err["errors"][0]
        # The device must be Online: the seeded softphone is not connected.
        _, devices = await request(
            server, "GET", "/restapi/v1.0/account/~/extension/~/device", headers=server.headers
        )
        softphone = next(d for d in devices["records"] if d["type"] == "SoftPhone")
        assert softphone["status"] == "Offline"
        status, err = await supervise(server, sid, {**body, "supervisorDeviceId": softphone["id"]})
        assert_rc_error(err, 400, status, "CMN-101")
        assert "Offline" in err["message"]
        # The named agent must be the call's agent.
        status, err = await supervise(server, sid, {**body, "agentExtensionNumber": "103"})
        assert_rc_error(err, 400, status, "CMN-101")
        # Only Monitoring may supervise Monitored of the same group: 104 is in no group.
        status, err = await supervise(server, sid104, {**body, "agentExtensionNumber": "104"})
        assert_rc_error(err, 403, status, "CMN-408")
        # Coach and Barge need a two-way stream; this call is RingCX (one-way).
        for mode in ("Coach", "Barge"):
            status, err = await supervise(server, sid, {**body, "mode": mode})
            assert_rc_error(err, 400, status, "CMN-101")
            assert "two-way" in err["message"]
        # Another extension's device cannot be used by a non-admin: it answers as an unknown
        # device does (whether it exists is not told).
        status, err = await supervise(server, sid, body, headers=robin_headers)
        assert_rc_error(err, 400, status, "CMN-102")
        status, unknown = await supervise(
            server, sid, {**body, "supervisorDeviceId": "999999"}, headers=robin_headers
        )
        assert {k: v for k, v in err["errors"][0].items() if k != "parameterValue"} == {
            k: v for k, v in unknown["errors"][0].items() if k != "parameterValue"
        }

        # Sam supervises 102's call; Robin (also allowed) then gets 409: one per call.
        status, party = await supervise(server, sid, body)
        assert status == 201, party
        status, err = await supervise(
            server,
            sid,
            {**body, "supervisorDeviceId": robin_phone.device_id},
            headers=robin_headers,
        )
        assert_rc_error(err, 409, status, "CMN-409")
        # …and a monitoring order of Robin's on 102 while Sam holds 102's call: a conflict
        status, err = await request(
            server,
            "POST",
            f"/api/v2/me/devices/{robin_phone.device_id}",
            headers=robin_headers,
            json={"operationName": "ListenIn", "phoneNumber": "102"},
        )
        assert (status, err["statusCode"]) == (409, 4), err
        _, robins = await request(server, "GET", "/api/v2/me/devices", headers=robin_headers)
        assert "supervisorMonitoringState" not in robins["devices"][0]
        # Sam on a second device: 409, one device per call.
        status, err = await supervise(server, sid, {**body, "supervisorDeviceId": sam2.device_id})
        assert_rc_error(err, 409, status, "CMN-409")
        # One supervisor may hold many calls, on one device.
        status, other = await supervise(server, sid103, {**body, "agentExtensionNumber": "103"})
        assert status == 201, other
        await until(
            lambda: len({m["callId"] for m in sam.of("StreamStarted")}) == 2,
            what="a stream per call on one device",
        )
        # Robin cannot monitor 103 (not in Robin's group).
        status, err = await supervise(
            server,
            sid103,
            {**body, "supervisorDeviceId": robin_phone.device_id, "agentExtensionNumber": "103"},
            headers=robin_headers,
        )
        assert_rc_error(err, 403, status, "CMN-408")
        # Another account sees no such session.
        foreign, _ = await asyncio.to_thread(other_account, server)  # the calls keep streaming
        status, err = await supervise(server, sid, body, headers=await foreign.headers())
        assert_rc_error(err, 404, status, "CMN-102")
        # Dropping the supervisor party ends that supervision; the call's parties cannot be.
        status, err = await request(
            server, "DELETE", f"{TEL}/{sid}/parties/p-{call_id_of(sid)}-1", headers=server.headers
        )
        assert_rc_error(err, 403, status, "CMN-404")
        status, _ = await request(
            server, "DELETE", f"{TEL}/{sid}/parties/{party['id']}", headers=server.headers
        )
        assert status == 204
        _, session = await request(server, "GET", f"{TEL}/{sid}", headers=server.headers)
        gone = next(p for p in session["parties"] if p["id"] == party["id"])
        assert gone["status"]["code"] == "Disconnected"
        # Now the call is free: Robin may take it.
        status, taken = await supervise(
            server,
            sid,
            {**body, "supervisorDeviceId": robin_phone.device_id},
            headers=robin_headers,
        )
        assert status == 201, taken
    finally:
        for task in calls:
            task.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        for p in (sam, sam2, robin_phone):
            await p.close()


async def test_monitoring_orders_next_and_all_calls_agent_and_call_scope_across_transfers(
    server: Server, tmp_path: Path
) -> None:
    exts = await extensions(server)
    await monitoring_group(
        server, {"101": ["Monitoring"], "102": ["Monitored"], "103": ["Monitored"]}, exts
    )
    short, long_ = tmp_path / "short.wav", tmp_path / "long.wav"
    make_stereo_fixture(short, seconds=4.0)
    make_stereo_fixture(long_, seconds=40.0)
    phone = await Phone(server, server.headers["Authorization"][7:]).connect()
    target = await desk_phone_uri(server, exts["102"])
    voice = tone()
    try:
        # Refusals, in Genesys' own body.
        status, err = await genesys(server, phone.device_id, operationName="Whisper")
        assert (status, err["statusCode"]) == (400, 1), err
        status, err = await genesys(
            server,
            phone.device_id,
            operationName="ListenIn",
            targetDeviceUri=await desk_phone_uri(server, exts["104"]),
        )
        assert (status, err["statusCode"]) == (403, 2), err  # 104 is not Monitored
        status, err = await genesys(server, "424242", operationName="ListenIn", phoneNumber="102")
        assert (status, err["statusCode"]) == (400, 1), err
        status, err = await genesys(server, phone.device_id, operationName="ListenIn")
        assert (status, err["statusCode"]) == (400, 1), err  # no target

        # 1. ListenIn, Agent scope, AllCalls, armed before any call.
        status, ok = await genesys(
            server,
            phone.device_id,
            operationName="ListenIn",
            targetDeviceUri=target,
            supervisorMonitoringScope="Agent",
        )
        assert (status, ok) == (200, {"statusCode": 0})
        state = await latest_state(phone, lambda s: "supervisorMonitoringState" in s)
        assert state["supervisorMonitoringState"] == {
            "state": "ListenIn",
            "mode": "AllCalls",
            "scope": "Agent",
            "targetDeviceUri": target,
            "agentExtensionId": str(exts["102"]["id"]),
        }
        # the current operation is one of them: asking again changes scope or repeat
        assert state["capabilities"] == [
            "ListenIn",
            "Coach",
            "BargeIn",
            "CancelSupervisorMonitoring",
        ]
        # The agent transfers the call away after 1.5 s: Agent scope lets go.
        opts = call_options(server, short, transfer_at_s=1.5)
        first = await asyncio.wait_for(start_call(opts), 30)
        assert first.status == "completed"
        assert first.transferred_to == 5502
        started = await until(lambda: phone.of("StreamStarted"), what="picked up")
        ended = await until(lambda: phone.of("StreamEnded"), what="released")
        assert started[0]["callId"] == ended[0]["callId"]
        assert "Agent scope" in ended[0]["reason"]
        frames = phone.audio[started[0]["stream"]]
        assert frames, "no audio before the transfer"
        assert max(frames) < 75 + 25, "audio went on after the transfer"  # 1.5 s = frame 75
        # AllCalls: still armed, no call held.
        state = await latest_state(
            phone, lambda s: "telephonySessionId" not in s.get("supervisorMonitoringState", {})
        )
        assert state["supervisorMonitoringState"]["state"] == "ListenIn"

        # 2. Coach, Call scope, NextCall (same target: the order is updated).
        status, ok = await genesys(
            server,
            phone.device_id,
            operationName="Coach",
            targetDeviceUri=target,
            supervisorMonitoringScope="Call",
            supervisorMonitoringMode="NextCall",
        )
        assert (status, ok) == (200, {"statusCode": 0})
        # the same operation without supervisorMonitoringMode keeps the order NextCall
        status, ok = await genesys(
            server, phone.device_id, operationName="Coach", targetDeviceUri=target
        )
        assert (status, ok) == (200, {"statusCode": 0})
        _, mine = await request(server, "GET", "/api/v2/me/devices", headers=server.headers)
        state = next(d for d in mine["devices"] if d["id"] == phone.device_id)
        assert state["supervisorMonitoringState"]["mode"] == "NextCall"
        assert state["supervisorMonitoringState"]["scope"] == "Call"
        second = start_call(call_options(server, short, transfer_at_s=1.5))
        moved = await until(lambda: phone.of("StreamTransferred"), what="followed the transfer")
        assert moved[0]["agentExtensionId"] == str(exts["103"]["id"])
        assert moved[0]["mode"] == "Coach"
        await phone.talk(voice, 10)  # coaching the new agent
        result = await asyncio.wait_for(second, 30)
        assert result.status == "completed"
        assert result.heard is not None
        assert result.heard.count("agent") == 10
        assert result.heard.count("customer") == 0
        stream = moved[0]["stream"]
        assert max(phone.audio[stream]) > 75 + 25, "Call scope: audio goes on after transfer"
        # NextCall: disarmed once that call ended.
        await until(lambda: "supervisorMonitoringState" not in phone.states()[-1], what="disarmed")
        picked = len(phone.of("StreamStarted"))
        third = await asyncio.wait_for(start_call(call_options(server, short)), 30)
        assert third.status == "completed"
        assert len(phone.of("StreamStarted")) == picked, "a disarmed order picked up a call"

        # 3. Armed while the agent is on a call: that call is picked up at once.
        fourth = start_call(call_options(server, long_))
        await live_session(server, exts["102"])
        status, ok = await genesys(
            server, phone.device_id, operationName="BargeIn", phoneNumber="102"
        )
        assert (status, ok) == (200, {"statusCode": 0})
        await until(lambda: len(phone.of("StreamStarted")) == picked + 1, what="current call")
        held = (
            await latest_state(
                phone, lambda s: "telephonySessionId" in s.get("supervisorMonitoringState", {})
            )
        )["supervisorMonitoringState"]
        assert held["state"] == "BargeIn"
        assert held["activeMode"] == "Barge"
        assert held["telephonySessionId"].startswith("s-")
        # Switching modes keeps the stream: no new StreamStarted, audio goes on.
        stream = phone.of("StreamStarted")[-1]["stream"]
        before = len(phone.audio.get(stream, {}))
        status, _ = await genesys(
            server, phone.device_id, operationName="ListenIn", phoneNumber="102"
        )
        assert status == 200
        await until(lambda: len(phone.audio.get(stream, {})) > before + 25, what="audio goes on")
        assert len(phone.of("StreamStarted")) == picked + 1
        assert phone.of("ModeChanged")[-1]["mode"] == "Listen"
        status, ok = await genesys(
            server, phone.device_id, operationName="CancelSupervisorMonitoring"
        )
        assert (status, ok) == (200, {"statusCode": 0})
        await until(lambda: len(phone.of("StreamEnded")) == picked + 1, what="cancelled")
        state = await latest_state(phone, lambda s: "supervisorMonitoringState" not in s)
        assert "CancelSupervisorMonitoring" not in state["capabilities"]
        fourth.cancel()
        await asyncio.gather(fourth, return_exceptions=True)
    finally:
        await phone.close()


async def test_a_one_way_call_refuses_coach_orders_and_device_loss_ends_supervision(
    server: Server, tmp_path: Path
) -> None:
    exts = await extensions(server)
    await monitoring_group(server, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=40.0)
    receiver = await Receiver().start()
    phone = await Phone(server, server.headers["Authorization"][7:]).connect()
    call = start_call(call_options(server, source, two_way=False))
    try:
        await subscribe(server, receiver.url, TEL, "/v2/me/devices")
        sid = (await live_session(server, exts["102"]))["telephonySessionId"]
        status, err = await genesys(
            server, phone.device_id, operationName="Coach", phoneNumber="102"
        )
        assert (status, err["statusCode"]) == (400, 1), err
        assert "two-way" in err["statusMessage"]
        status, party = await supervise(
            server,
            sid,
            {
                "mode": "Listen",
                "supervisorDeviceId": phone.device_id,
                "agentExtensionNumber": "102",
            },
        )
        assert status == 201, party
        await until(lambda: phone.audio, what="audio")
        await phone.close()  # the supervisor's browser goes away

        def supervisor_left() -> bool:
            for n in receiver.notifications:
                for p in n["body"].get("parties", []):
                    if p["id"] == party["id"] and p["status"]["code"] == "Disconnected":
                        return True
            return False

        def device_inactive() -> bool:
            return any(
                d["id"] == phone.device_id and d["deviceState"] == "Inactive"
                for n in receiver.notifications
                if n["event"] == "/v2/me/devices"
                for d in n["body"]["devices"]
            )

        await until(supervisor_left, what="supervisor party Disconnected pushed")
        await until(device_inactive, what="device Inactive pushed")
        _, session = await request(server, "GET", f"{TEL}/{sid}", headers=server.headers)
        assert session["parties"][-1]["status"]["code"] == "Disconnected"
        _, devices = await request(
            server, "GET", "/restapi/v1.0/account/~/extension/~/device", headers=server.headers
        )
        web_phone = next(d for d in devices["records"] if d["id"] == phone.device_id)
        assert web_phone["status"] == "Offline"
        # The call itself goes on.
        assert not call.done()
    finally:
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
        await phone.close()
        await receiver.stop()


async def test_simulate_two_way_with_a_transfer_and_heard_files(
    server: Server, tmp_path: Path
) -> None:
    """`callscope simulate --protocol twilio --transfer-at … --heard-dir …` end to end: the
    session shows the transfer, presence follows both agents, the heard files are written."""
    exts = await extensions(server)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=3.0)
    heard = tmp_path / "heard"
    receiver = await Receiver().start()
    try:
        presence = "/restapi/v1.0/account/~/extension/{}/presence?detailedTelephonyState=true"
        await subscribe(
            server,
            receiver.url,
            TEL,
            presence.format(exts["102"]["id"]),
            presence.format(exts["103"]["id"]),
        )
        proc = start_simulate(
            server,
            *("--protocol", "twilio", "--transfer-at", "1"),
            *("--url", server.http.replace("http", "ws") + "/twilio/stream"),
            *("--source", str(source), "--heard-dir", str(heard)),
        )
        assert await proc.ended(60) == 0, proc.stdout + proc.stderr
        assert "1 completed" in proc.stdout
        files = sorted(p.name for p in heard.iterdir())
        assert files == ["sim-1-00001-agent-heard.wav", "sim-1-00001-customer-heard.wav"]
        _, calls = await request(server, "GET", "/calls", headers=server.headers)
        call = calls["records"][0]
        assert call["ringcxCallId"] == "sim-1-00001"
        _, session = await request(server, "GET", f"{TEL}/s-{call['id']}", headers=server.headers)
        agents = [p for p in session["parties"] if p.get("extensionId")]
        assert [(p["extensionId"], p["status"]["code"]) for p in agents] == [
            (str(exts["102"]["id"]), "Gone"),
            (str(exts["103"]["id"]), "Disconnected"),
        ]
        assert agents[0]["status"]["reason"] == "BlindTransfer"

        def presence_of(ext: dict[str, Any]) -> list[str]:
            return [
                n["body"]["telephonyStatus"]
                for n in receiver.notifications
                if "presence" in n["event"] and n["body"]["extensionId"] == str(ext["id"])
            ]

        await until(lambda: presence_of(exts["103"])[-1:] == ["NoCall"], what="103 hung up")
        assert presence_of(exts["102"]) == ["Ringing", "CallConnected", "NoCall"]
        assert presence_of(exts["103"]) == ["CallConnected", "NoCall"]
        # The recording runs on across the transfer: one call, its full length.
        assert len(recording(server, call["id"])) == 3 * 8000
    finally:
        await receiver.stop()


async def test_a_two_way_stream_is_refused_without_its_profile_secret(server: Server) -> None:
    from callscope.protocols.twilio import build_stream_start

    profile = {
        "productType": "QUEUE",
        "productId": 4402,
        "subAccountId": "88800012",
        "mainAccountId": "88800010",
        "rcAccountId": "70000001",
        "streamingUrl": "wss://x.test",
        "secret": "s3cret-value",
    }
    status, body = await request(
        server, "POST", "/platform/api/media/product", headers=server.headers, json=profile
    )
    assert status == 200, body
    params = {
        "subaccountId": "88800012",
        "productType": "Queue",
        "productId": "4402",
        "rcAccountId": "70000001",
    }
    url = server.http + "/twilio/stream"
    async with aiohttp.ClientSession() as http:
        for secret, accepted in (("wrong", False), (None, False), ("s3cret-value", True)):
            custom = {**params, "callId": f"c-{secret}", "agentId": "5501"}
            if secret:
                custom["secret"] = secret
            async with http.ws_connect(url) as ws:
                await ws.send_str(build_stream_start("MZ1", "CA1", custom).decode())
                if accepted:
                    await ws.send_str('{"event":"stop","streamSid":"MZ1"}')
                msg = await ws.receive(timeout=10)
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert ws.close_code == (1000 if accepted else 1008), (secret, ws.close_code)
    for _ in range(100):  # rows are written behind the stream
        _, calls = await request(server, "GET", "/calls", headers=server.headers)
        if calls["records"]:
            break
        await asyncio.sleep(0.05)
    assert [c["ringcxCallId"] for c in calls["records"]] == ["c-s3cret-value"]


async def test_web_phone_connection_rules_and_bad_frames(server: Server) -> None:
    url = server.http + "/supervision/device"
    bearer = server.headers["Authorization"][7:]
    async with aiohttp.ClientSession() as http:
        # Not a WebSocket; no token; someone else's or an unknown device; not a web phone.
        async with http.get(url, headers=server.headers) as r:
            assert r.status == 400
        for params, status in (
            ({}, 401),
            ({"access_token": "nope"}, 401),
            ({"access_token": bearer, "deviceId": "123456789"}, 404),
            ({"access_token": bearer, "deviceId": "x1"}, 400),
        ):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url, params=params)
            assert refused.value.status == status, params
        _, devices = await request(
            server, "GET", "/restapi/v1.0/account/~/extension/~/device", headers=server.headers
        )
        softphone = next(d for d in devices["records"] if d["type"] == "SoftPhone")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, params={"access_token": bearer, "deviceId": softphone["id"]})
        assert refused.value.status == 400

    phone = await Phone(server, bearer).connect(name="Desk 7")
    try:
        # The same device cannot be connected twice; a reconnect by id works once it is free.
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(
                    url, params={"access_token": bearer, "deviceId": phone.device_id}
                )
            assert refused.value.status == 409
        assert phone.ws is not None
        await phone.ws.send_bytes(b"\x02")  # shorter than a header
        await phone.ws.send_bytes(mic_frame(b"\x00" * 100))  # not whole frames
        await phone.ws.send_str("hello")
        await phone.ws.send_str('{"type": "Ping"}')
        await until(lambda: phone.of("Pong"), what="Pong")
        errors = phone.of("Error")
        assert [e["count"] for e in errors] == [1]  # a flood is not echoed frame by frame
        assert "8-byte header" in errors[0]["message"]
        # Microphone audio with no call to talk into reaches no one and ends nothing.
        await phone.talk(tone(), 3)
        status, mine = await request(server, "GET", "/api/v2/me/devices", headers=server.headers)
        assert status == 200
        assert [d["id"] for d in mine["devices"]] == [phone.device_id]
        assert mine["devices"][0]["capabilities"] == ["ListenIn", "Coach", "BargeIn"]
    finally:
        await phone.close()
    again = await Phone(server, bearer).connect(deviceId=phone.device_id)
    await again.close()
    assert again.device_id == phone.device_id
    # a reconnect made as soon as the close is answered finds the device free every time (the
    # server lets the closed web phone go before it judges the new one). The race this guards
    # is narrow: it showed once in a full run under load, as a 409 on the reconnect above.
    for _ in range(15):
        again = await Phone(server, bearer).connect(deviceId=phone.device_id)
        await again.close()
    for _ in range(100):  # the server notices the close just after the client does
        status, mine = await request(server, "GET", "/api/v2/me/devices", headers=server.headers)
        if not mine["devices"]:
            break
        await asyncio.sleep(0.02)
    assert mine["devices"] == []


async def test_a_barging_supervisor_is_transcribed_as_a_speaker_of_the_call(
    server_factory: type[Server], tmp_path: Path
) -> None:
    """The supervisor's microphone (here: the bundled call's agent greeting) is transcribed
    on a channel of its own, labelled ``supervisor`` with its party id."""
    from callscope.sim.runner import default_source

    server = server_factory(tmp_path / "data", asr=True).start(timeout_s=120)
    exts = await extensions(server)
    await monitoring_group(server, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    silent = tmp_path / "silent.wav"
    writer = WavWriter(silent)
    writer.write_stereo(np.zeros(12 * 8000, np.int16), np.zeros(12 * 8000, np.int16))
    writer.close()
    _, greeting = read_wav(default_source())
    speech = greeting[: 7 * 8000, 0].astype("<i2").tobytes()  # "Thank you for calling …"
    phone = await Phone(server, server.headers["Authorization"][7:]).connect()
    try:
        call = start_call(call_options(server, silent))
        sid = (await live_session(server, exts["102"]))["telephonySessionId"]
        status, party = await supervise(
            server,
            sid,
            {"mode": "Barge", "supervisorDeviceId": phone.device_id, "agentExtensionNumber": "102"},
        )
        assert status == 201, party
        assert phone.ws is not None
        chunk = 5 * 320  # 100 ms per message
        for i in range(0, len(speech), chunk):
            await phone.ws.send_bytes(mic_frame(speech[i : i + chunk], counter=i // chunk))
            await asyncio.sleep(0.1)
        result = await asyncio.wait_for(call, 30)
        assert result.status == "completed"
    finally:
        await phone.close()
    call_id = call_id_of(sid)
    for _ in range(600):
        _, body = await request(
            server, "GET", f"/calls/{call_id}/transcript", headers=server.headers
        )
        if body["status"] not in ("live", "pending"):
            break
        await asyncio.sleep(0.1)
    assert body["status"] == "complete", body
    said = [u for u in body["utterances"] if u["speaker"] == "supervisor"]
    text = " ".join(u["text"].lower() for u in said)
    assert "northwind" in text, body["utterances"]
    assert {u["partyId"] for u in said} == {party["id"]}
    assert not [u for u in body["utterances"] if u["speaker"] != "supervisor"]  # silent call
