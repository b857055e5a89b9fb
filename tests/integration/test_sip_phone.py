"""Supervisors on SIP phones, with an independent SIP client: Debian's baresip registers with
callscope's registrar (digest), auto-answers the supervision call and records what it hears
(its sndfile module writes the decoded audio to a WAV). No sound card: baresip's audio source
is a file (aufile) and the call's audio is judged from the recording of what it decoded."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callscope.media.g711 import lin2ulaw, ulaw2lin
from tests.conftest import Server, make_stereo_fixture
from tests.helpers.login import request
from tests.helpers.phone import extensions, monitoring_group, supervise
from tests.helpers.runner import call_options, live_session, recording, start_call
from tests.helpers.sip import (
    Baresip,
    RawSip,
    active_mode,
    aligned,
    desk_phone,
    device,
    digest_header,
    sam_listens,
    sam_sip_account,
    sip_account,
    start_sip_server,
)
from tests.helpers.wait import until, until_async

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("baresip") is None, reason="needs Debian's baresip"),
]

DEVICES = "/restapi/v1.0/account/~/extension/~/device"
TEL = "/restapi/v1.0/account/~/telephony/sessions"


async def hang_up(call: asyncio.Task[Any]) -> None:
    """The simulated caller goes away mid-call (a call nothing more is read from)."""
    call.cancel()
    await asyncio.gather(call, return_exceptions=True)


@pytest.fixture
def sip_server(server_factory: type[Server], tmp_path: Path) -> Server:
    return start_sip_server(server_factory, tmp_path)


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_a_sip_phone_registers_and_hears_the_calls_mixed_audio(
    sip_server: Server, tmp_path: Path, transport: str
) -> None:
    server = sip_server
    exts, device_id, sip = await sam_sip_account(server)
    assert set(sip) == {"username", "password", "realm"}
    assert (await device(server, device_id))["status"] == "Offline"
    phone = Baresip(
        tmp_path / "phone",
        server.sip_tls_port if transport == "tls" else server.sip_port,  # type: ignore[attr-defined]
        sip["username"],
        sip["password"],
        transport=transport,
    )
    phone.start()
    try:
        registered = f"{{0/{transport.upper()}/v4}} 200 OK"  # over that transport
        await phone.logged(registered, f"baresip registered: {transport}")
        listed = await device(server, device_id)
        assert (listed["type"], listed["status"]) == ("SoftPhone", "Online")

        source = tmp_path / "call.wav"
        make_stereo_fixture(source, seconds=6.0)
        call = start_call(call_options(server, source, two_way=False))
        sid, party = await sam_listens(server, exts, device_id)
        assert party["from"]["deviceId"] == device_id
        await phone.logged("Call established", "phone answered")
        # the phone shows who is monitored (the caller's display name)
        assert (
            "peer_uri:  Listen: Alex Agent (102) <sip:callscope@"
            in json.loads(await phone.command("callstat"))["data"]
        )
        result = await asyncio.wait_for(call, 30)
        assert result.status == "completed"
        # callscope hangs up when the supervision ends with the call
        await until(lambda: "closed" in phone.log().lower(), what="BYE from callscope")
        await until(lambda: list(phone.home.glob("*-dec.wav")), what="baresip's recording")
    finally:
        phone.stop()
    heard = phone.heard()
    pcm = recording(server, sid.removeprefix("s-")).astype(np.int32)
    mixed = np.clip(pcm[:, 0] + pcm[:, 1], -32768, 32767).astype(np.int16)
    expected = ulaw2lin(lin2ulaw(mixed))  # what G.711 μ-law carries
    offset, diff = aligned(heard, expected)
    assert len(diff) >= 3 * 8000, f"only {len(diff)} samples of the call heard"
    equal = np.count_nonzero(diff == 0) / len(diff)
    # on a miss, where it went wrong: the share equal per half second (a shift part-way
    # through reads as 100 % then near 0 %; lost packets as dips)
    profile = [
        f"{np.count_nonzero(d == 0) / len(d):.0%}" for d in np.array_split(diff, len(diff) // 4000)
    ]
    assert equal > 0.95, (
        f"heard audio matches the call's mixed audio at {equal:.1%} (offset {offset}, per "
        f"half second: {' '.join(profile)})\n{phone.log()[-3000:]}"
    )
    assert (await device(server, device_id))["status"] == "Offline"  # it unregistered


async def test_wrong_password_and_unregistered_phones_are_refused(
    sip_server: Server, tmp_path: Path
) -> None:
    server = sip_server
    exts, device_id, sip = await sam_sip_account(server)
    phone = Baresip(tmp_path / "phone", server.sip_port, sip["username"], "not-the-password")  # type: ignore[attr-defined]
    phone.start()
    try:
        await phone.logged("403", "registration refused")
        assert (await device(server, device_id))["status"] == "Offline"
    finally:
        phone.stop()
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=3.0)
    call = start_call(call_options(server, source, two_way=False))
    try:
        sid = (await live_session(server, exts["102"]))["telephonySessionId"]
        status, body = await supervise(
            server,
            sid,
            {"mode": "Listen", "supervisorDeviceId": device_id, "agentExtensionNumber": "102"},
        )
        assert status == 400, body
        assert f"Device {device_id} is Offline" in body["message"]
        assert "admin device --sip" in body["message"]  # says how a SIP phone gets online
    finally:
        await hang_up(call)  # the rest of the call is of no interest


def dominant_hz(pcm: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.argmax(spectrum[1:]) + 1) * 8000 / len(pcm)


async def test_a_coaching_sip_phone_is_heard_by_the_agent_only(
    sip_server: Server, tmp_path: Path
) -> None:
    server = sip_server
    exts, device_id, phone = await desk_phone(server, tmp_path)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=6.0)
    try:
        await phone.logged("200 OK", "baresip registered")
        call = start_call(call_options(server, source))  # two-way: Coach possible
        sid = (await live_session(server, exts["102"]))["telephonySessionId"]
        status, party = await supervise(
            server,
            sid,
            {"mode": "Coach", "supervisorDeviceId": device_id, "agentExtensionNumber": "102"},
        )
        assert status == 201, party
        result = await asyncio.wait_for(call, 30)
        await until(lambda: list(phone.home.glob("*-enc.wav")), what="baresip's recording")
    finally:
        phone.stop()
    assert result.heard is not None
    agent = list(result.heard.frames["agent"].values())
    assert len(agent) >= 50, f"the agent heard {len(agent)} frames of the supervisor"
    assert result.heard.frames["customer"] == {}  # Coach: the customer hears nothing
    # Each frame the agent heard is what the phone sent (baresip's encoder rounds μ-law its
    # own way: within one quantisation step). Its 440 Hz tone repeats every 200 samples.
    with wave.open(str(sorted(phone.home.glob("*-enc.wav"))[-1]), "rb") as w:
        sent = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int32)
    windows = np.lib.stride_tricks.sliding_window_view(sent[:360], 160)  # every phase
    for frame in agent:
        pcm = ulaw2lin(frame).astype(np.int32)
        assert np.min(np.max(np.abs(windows - pcm), axis=1)) <= 128, "not the phone's audio"
    assert abs(dominant_hz(ulaw2lin(b"".join(agent))) - 440) < 5


async def test_the_phone_hanging_up_cancels_its_supervision(
    sip_server: Server, tmp_path: Path
) -> None:
    server = sip_server
    exts, device_id, phone = await desk_phone(server, tmp_path)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=10.0)
    body = {"mode": "Listen", "supervisorDeviceId": device_id, "agentExtensionNumber": "102"}
    try:
        await phone.logged("200 OK", "baresip registered")
        call = start_call(call_options(server, source, two_way=False))
        sid = (await live_session(server, exts["102"]))["telephonySessionId"]
        status, party = await supervise(server, sid, body)
        assert status == 201, party
        await phone.logged("Call established", "phone answered")
        await phone.command("hangup")

        async def supervisor_party() -> dict[str, Any]:
            _, session = await request(
                server,
                "GET",
                f"/restapi/v1.0/account/~/telephony/sessions/{sid}",
                headers=server.headers,
            )
            found: dict[str, Any] = next(p for p in session["parties"] if p["id"] == party["id"])
            return found

        for _ in range(200):
            if (await supervisor_party())["status"]["code"] == "Disconnected":
                break
            await asyncio.sleep(0.05)
        assert (await supervisor_party())["status"]["code"] == "Disconnected"
        assert (await device(server, device_id))["status"] == "Online"  # still registered
        # It can supervise again: callscope calls it again.
        status, again = await supervise(server, sid, body)
        assert status == 201, again
        await until(lambda: phone.log().count("Call established") == 2, what="called again")
        await hang_up(call)  # the rest of the call is of no interest
    finally:
        phone.stop()


async def test_digits_on_the_phone_switch_listen_coach_barge(
    sip_server: Server, tmp_path: Path
) -> None:
    server = sip_server
    exts, device_id, phone = await desk_phone(server, tmp_path)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=5.0)  # the three switches take about a second

    try:
        await phone.logged("200 OK", "baresip registered")
        call = start_call(call_options(server, source))
        await sam_listens(server, exts, device_id)
        await phone.logged("Call established", "phone answered")
        assert await active_mode(server, device_id) == "Listen"
        for digit, mode in (("5", "Coach"), ("6", "Barge"), ("4", "Listen")):
            await phone.command("sndcode", digit)

            async def switched(mode: str = mode) -> bool:
                return await active_mode(server, device_id) == mode

            await until_async(switched, what=f"digit {digit}: {mode}")
        result = await asyncio.wait_for(call, 30)
    finally:
        phone.stop()
    assert result.heard is not None
    assert result.heard.frames["agent"], "coached and barged: the agent heard the phone"
    assert result.heard.frames["customer"], "barged: the customer heard the phone"


async def test_a_phone_that_declines_cancels_the_supervision(
    sip_server: Server, tmp_path: Path
) -> None:
    server = sip_server
    exts, device_id, sip = await sam_sip_account(server)
    phone = Baresip(
        tmp_path / "phone",
        server.sip_port,  # type: ignore[attr-defined]
        sip["username"],
        sip["password"],
        answermode="manual",
    )
    phone.start()
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=8.0)
    try:
        await phone.logged("200 OK", "baresip registered")
        call = start_call(call_options(server, source, two_way=False))
        sid, party = await sam_listens(server, exts, device_id)
        await phone.logged("Incoming call", "the phone rings")
        await phone.command("hangup")  # declined while ringing

        async def supervisor_status() -> str:
            _, session = await request(server, "GET", f"{TEL}/{sid}", headers=server.headers)
            found = next(p for p in session["parties"] if p["id"] == party["id"])
            return str(found["status"]["code"])

        for _ in range(200):
            if await supervisor_status() == "Disconnected":
                break
            await asyncio.sleep(0.05)
        assert await supervisor_status() == "Disconnected"
        assert "Call established" not in phone.log()
        await hang_up(call)  # the rest of the call is of no interest
    finally:
        phone.stop()


async def test_a_genesys_listen_in_order_rings_the_sip_phone_on_the_agents_next_call(
    sip_server: Server, tmp_path: Path
) -> None:
    server = sip_server
    _, device_id, phone = await desk_phone(server, tmp_path)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=4.0)
    try:
        await phone.logged("200 OK", "baresip registered")
        status, body = await request(
            server,
            "POST",
            f"/api/v2/me/devices/{device_id}",
            headers=server.headers,
            json={"operationName": "ListenIn", "phoneNumber": "102"},
        )
        assert (status, body) == (200, {"statusCode": 0}), body
        assert "Incoming call" not in phone.log()  # armed: no call yet
        call = start_call(call_options(server, source, two_way=False))
        await phone.logged("Call established", "rung on the agent's call")
        stat = json.loads(await phone.command("callstat"))["data"]
        assert "peer_uri:  Listen: Alex Agent (102) <sip:callscope@" in stat
        result = await asyncio.wait_for(call, 30)
        assert result.status == "completed"
        await phone.logged("session closed", "BYE when the call ended")
    finally:
        phone.stop()


async def test_registrar_answers(sip_server: Server) -> None:
    server = sip_server
    port = server.sip_port  # type: ignore[attr-defined]
    exts = await extensions(server)
    created = sip_account(server, str(exts["101"]["id"]), "Desk phone")
    device_id, sip = created["deviceId"], created["sip"]
    user, password = sip["username"], sip["password"]
    loop = asyncio.get_running_loop()
    transport, raw = await loop.create_datagram_endpoint(RawSip, local_addr=("127.0.0.1", 0))
    raw.transport = transport  # type: ignore[assignment]

    async def signed() -> str:
        """An Authorization for a fresh challenge (each nonce count is accepted once)."""
        first = await raw.register(port, user)
        assert first.status_code == 401
        assert 'qop="auth"' in (first.headers.get_first("WWW-Authenticate") or "")
        return digest_header(first, user, password, port)

    try:
        # a response that is not Digest MD5: 400 saying why
        bad = await raw.register(port, user, auth="Basic eDp5")
        assert (bad.status_code, "use Digest" in bad.reason_phrase) == (400, True)
        # another account's username in To: refused
        assert (await raw.register(port, "cs1", auth=await signed())).status_code == 403
        # too short an expiry: 423 with Min-Expires
        brief = await raw.register(port, user, expires="10", auth=await signed())
        assert (brief.status_code, brief.headers.get_first("Min-Expires")) == (423, "60")
        auth = await signed()
        assert (await raw.register(port, user, auth=auth)).status_code == 200
        assert (await device(server, device_id))["status"] == "Online"
        # the same Authorization again (a replay): a new challenge, marked stale
        replay = await raw.register(port, user, auth=auth)
        assert replay.status_code == 401
        assert "stale=true" in (replay.headers.get_first("WWW-Authenticate") or "")
        # Expires: 0 unregisters: Offline
        gone = await raw.register(port, user, expires="0", auth=await signed())
        assert gone.status_code == 200
        assert (await device(server, device_id))["status"] == "Offline"
    finally:
        transport.close()


async def test_two_supervised_calls_ring_the_phone_on_two_lines(
    sip_server: Server, tmp_path: Path
) -> None:
    server = sip_server
    exts = await extensions(server)
    await monitoring_group(
        server, {"101": ["Monitoring"], "102": ["Monitored"], "103": ["Monitored"]}, exts
    )
    created = sip_account(server, str(exts["101"]["id"]), "Desk phone")
    device_id, sip = created["deviceId"], created["sip"]
    phone = Baresip(tmp_path / "phone", server.sip_port, sip["username"], sip["password"])  # type: ignore[attr-defined]
    phone.start()
    sources = [tmp_path / "a.wav", tmp_path / "b.wav"]
    make_stereo_fixture(sources[0], seconds=8.0, seed=3)
    make_stereo_fixture(sources[1], seconds=8.0, seed=4)
    sids = []
    try:
        await phone.logged("200 OK", "baresip registered")
        calls = [
            start_call(call_options(server, source, two_way=False), index=i)
            for i, source in enumerate(sources)
        ]
        for n, number in enumerate(("102", "103")):
            sids.append((await live_session(server, exts[number]))["telephonySessionId"])
            if n:  # baresip names its recordings by the second: the second call a second on
                first = int(time.time())
                await until(lambda t=first: int(time.time()) > t, what="the next second")
            status, party = await supervise(
                server,
                sids[-1],
                {"mode": "Listen", "supervisorDeviceId": device_id, "agentExtensionNumber": number},
            )
            assert status == 201, party
            await until(
                lambda n=n: phone.log().count("Call established") == n + 1,
                what=f"line {n + 1} answered",
            )
        for call in calls:
            assert (await asyncio.wait_for(call, 30)).status == "completed"
        await until(lambda: phone.log().count("session closed") == 2, what="two BYEs")
    finally:
        phone.stop()
    recordings = sorted(phone.home.glob("*-dec.wav"))
    assert len(recordings) == 2, recordings
    # Each line heard its own call's mixed audio.
    for path, sid in zip(recordings, sids, strict=True):
        with wave.open(str(path), "rb") as w:
            heard = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        pcm = recording(server, sid.removeprefix("s-")).astype(np.int32)
        mixed = np.clip(pcm[:, 0] + pcm[:, 1], -32768, 32767).astype(np.int16)
        _, diff = aligned(heard, ulaw2lin(lin2ulaw(mixed)))
        assert len(diff) >= 3 * 8000
        assert np.count_nonzero(diff == 0) / len(diff) > 0.95, f"{path.name}: not {sid}'s audio"
