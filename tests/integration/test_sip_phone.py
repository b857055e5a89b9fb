"""Supervisors on SIP phones, with an independent SIP client: Debian's baresip registers with
callscope's registrar (digest), auto-answers the supervision call and records what it hears
(its sndfile module writes the decoded audio to a WAV). No sound card: baresip's audio source
is a file (aufile) and the call's audio is judged from the recording of what it decoded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import subprocess
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trustme
from aiosipua import SipMessage, SipResponse, parse_auth

from callscope.media.g711 import lin2ulaw, ulaw2lin
from callscope.sip.digest import ha1, response
from tests.conftest import Server, free_port, make_stereo_fixture
from tests.helpers.login import admin_cli, request
from tests.helpers.phone import extensions, monitoring_group, supervise
from tests.helpers.runner import call_options, live_session, recording, start_call
from tests.helpers.wait import until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("baresip") is None, reason="needs Debian's baresip"),
]

DEVICES = "/restapi/v1.0/account/~/extension/~/device"
TEL = "/restapi/v1.0/account/~/telephony/sessions"


@dataclass
class Baresip:
    """A baresip process with one account on callscope's registrar."""

    home: Path
    registrar: int
    username: str
    password: str
    port: int = field(default_factory=free_port)
    ctrl_port: int = field(default_factory=free_port)
    transport: str = "udp"
    answermode: str = "auto"
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Baresip:
        self.home.mkdir(parents=True, exist_ok=True)
        mic = self.home / "mic.wav"
        with wave.open(str(mic), "wb") as w:  # what the phone "says": a 440 Hz tone
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            t = np.arange(8000 * 60) / 8000
            w.writeframes((3000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes())
        (self.home / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{self.port}",
                    "net_interface 127.0.0.1",
                    f"audio_source aufile,{mic}",
                    f"audio_player aufile,{self.home / 'played.wav'}",
                    "ausrc_srate 8000",
                    "auplay_srate 8000",
                    "ausrc_channels 1",
                    "auplay_channels 1",
                    "module_path /usr/lib/baresip/modules",
                    "module g711.so",
                    "module aufile.so",
                    "module sndfile.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
                    f"snd_path {self.home}",
                    f"sip_cafile {self.home.parent / 'ca.pem'}",
                    "",
                ]
            )
        )
        (self.home / "accounts").write_text(
            f"<sip:{self.username}@127.0.0.1:{self.registrar};transport={self.transport}>"
            f";auth_pass={self.password};answermode={self.answermode};regint=600;audio_codecs=PCMU\n"
        )
        with (self.home / "log").open("wb") as log:
            self.proc = subprocess.Popen(
                ["baresip", "-f", str(self.home)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    async def command(self, command: str, params: str = "") -> str:
        """A command on baresip's control socket (ctrl_tcp: JSON in netstrings)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
        try:
            body = json.dumps({"command": command, "params": params, "token": "t"}).encode()
            writer.write(b"%d:%s," % (len(body), body))
            await writer.drain()
            while True:  # events (call established, …) may come first: skip to the response
                length = await reader.readuntil(b":")
                data = (await reader.readexactly(int(length[:-1]) + 1))[:-1].decode()
                if json.loads(data).get("response") and json.loads(data).get("token") == "t":
                    return data
        finally:
            writer.close()

    def log(self) -> str:
        return (self.home / "log").read_text(errors="replace")

    def heard(self) -> np.ndarray:
        """What it decoded from callscope's RTP (sndfile's ``…-dec.wav``)."""
        files = sorted(self.home.glob("*-dec.wav"))
        assert files, f"baresip recorded nothing:\n{self.log()}"
        with wave.open(str(files[-1]), "rb") as w:
            assert (w.getframerate(), w.getnchannels()) == (8000, 1)
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sip_account(server: Server, extension_id: str, name: str) -> dict[str, Any]:
    account = server.credentials()["accountId"]
    return admin_cli(
        server.data_dir,
        "device",
        "--account",
        account,
        "--extension",
        extension_id,
        "--sip",
        "--name",
        name,
    )


async def device(server: Server, device_id: str) -> dict[str, Any]:
    _, devices = await request(server, "GET", DEVICES, headers=server.headers)
    found: dict[str, Any] = next(d for d in devices["records"] if d["id"] == device_id)
    return found


def aligned(heard: np.ndarray, expected: np.ndarray) -> tuple[int, np.ndarray]:
    """Where ``heard`` starts in ``expected`` (by cross-correlation), and the overlap."""
    start = int(np.argmax(np.abs(heard) > 200))  # past the silence before RTP arrived
    probe = heard[start : start + 4000].astype(np.float64)
    assert len(probe) == 4000, "less than half a second of audio heard"
    e = expected.astype(np.float64)
    n = len(e) + len(probe)
    corr = np.fft.irfft(np.fft.rfft(e, n) * np.conj(np.fft.rfft(probe, n)), n)[: len(e)]
    offset = int(np.argmax(corr)) - start
    lo = max(0, -offset)
    hi = min(len(heard), len(expected) - offset)
    return offset, heard[lo:hi] - expected[lo + offset : hi + offset]


async def desk_phone(
    server: Server, tmp_path: Path
) -> tuple[dict[str, dict[str, Any]], str, Baresip]:
    """Sam (101) monitoring Alex (102), and Sam's desk phone: a SIP account and a started
    baresip registering with it. Returns the extensions, the device id and the phone."""
    exts = await extensions(server)
    await monitoring_group(server, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    created = sip_account(server, str(exts["101"]["id"]), "Desk phone")
    device_id, sip = created["deviceId"], created["sip"]
    phone = Baresip(tmp_path / "phone", server.sip_port, sip["username"], sip["password"])  # type: ignore[attr-defined]
    return exts, device_id, phone.start()


@pytest.fixture
def sip_server(server_factory: type[Server], tmp_path: Path) -> Server:
    """A server with SIP on UDP and TCP (``sip_port``) and TLS (``sip_tls_port``, a
    certificate for 127.0.0.1 from a throwaway CA in ``ca.pem``)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    port, tls_port = free_port(), free_port()
    server = server_factory(
        tmp_path / "data",
        extra_args=[
            *("--ingest-idle-timeout-s", "2", "--sip-port", str(port)),
            *("--sip-tls-port", str(tls_port), "--tls-cert", str(tmp_path / "cert.pem")),
            *("--tls-key", str(tmp_path / "key.pem")),
        ],
    ).start()
    server.sip_port = port  # type: ignore[attr-defined]
    server.sip_tls_port = tls_port  # type: ignore[attr-defined]
    return server


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_a_sip_phone_registers_and_hears_the_calls_mixed_audio(
    sip_server: Server, tmp_path: Path, transport: str
) -> None:
    server = sip_server
    exts = await extensions(server)
    await monitoring_group(server, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    created = sip_account(server, str(exts["101"]["id"]), "Desk phone")
    device_id, sip = created["deviceId"], created["sip"]
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
        await until(lambda: registered in phone.log(), what=f"baresip registered: {transport}")
        listed = await device(server, device_id)
        assert (listed["type"], listed["status"]) == ("SoftPhone", "Online")

        source = tmp_path / "call.wav"
        make_stereo_fixture(source, seconds=6.0)
        call = start_call(call_options(server, source, two_way=False))
        sid = (await live_session(server, exts["102"]))["telephonySessionId"]
        status, party = await supervise(
            server,
            sid,
            {"mode": "Listen", "supervisorDeviceId": device_id, "agentExtensionNumber": "102"},
        )
        assert status == 201, party
        assert party["from"]["deviceId"] == device_id
        await until(lambda: "Call established" in phone.log(), what="phone answered")
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
    _, diff = aligned(heard, expected)
    assert len(diff) >= 3 * 8000, f"only {len(diff)} samples of the call heard"
    equal = np.count_nonzero(diff == 0) / len(diff)
    assert equal > 0.95, f"heard audio matches the call's mixed audio at {equal:.1%}"
    assert (await device(server, device_id))["status"] == "Offline"  # it unregistered


async def test_wrong_password_and_unregistered_phones_are_refused(
    sip_server: Server, tmp_path: Path
) -> None:
    server = sip_server
    exts = await extensions(server)
    await monitoring_group(server, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    created = sip_account(server, str(exts["101"]["id"]), "Desk phone")
    device_id, sip = created["deviceId"], created["sip"]
    phone = Baresip(tmp_path / "phone", server.sip_port, sip["username"], "not-the-password")  # type: ignore[attr-defined]
    phone.start()
    try:
        await until(lambda: "403" in phone.log(), what="registration refused")
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
        with contextlib.suppress(Exception):
            await asyncio.wait_for(call, 30)


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
        await until(lambda: "200 OK" in phone.log(), what="baresip registered")
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
        await until(lambda: "200 OK" in phone.log(), what="baresip registered")
        call = start_call(call_options(server, source, two_way=False))
        sid = (await live_session(server, exts["102"]))["telephonySessionId"]
        status, party = await supervise(server, sid, body)
        assert status == 201, party
        await until(lambda: "Call established" in phone.log(), what="phone answered")
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
        await asyncio.wait_for(call, 30)
    finally:
        phone.stop()


async def test_digits_on_the_phone_switch_listen_coach_barge(
    sip_server: Server, tmp_path: Path
) -> None:
    server = sip_server
    exts, device_id, phone = await desk_phone(server, tmp_path)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=10.0)

    async def active_mode() -> str | None:
        _, body = await request(server, "GET", "/api/v2/me/devices", headers=server.headers)
        mine = [d for d in body["devices"] if d["id"] == device_id]
        state = mine[0].get("supervisorMonitoringState") if mine else None
        return state.get("activeMode") if state else None

    async def mode_becomes(mode: str) -> None:
        for _ in range(200):
            if await active_mode() == mode:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"mode is {await active_mode()}, not {mode}")

    try:
        await until(lambda: "200 OK" in phone.log(), what="baresip registered")
        call = start_call(call_options(server, source))
        sid = (await live_session(server, exts["102"]))["telephonySessionId"]
        status, party = await supervise(
            server,
            sid,
            {"mode": "Listen", "supervisorDeviceId": device_id, "agentExtensionNumber": "102"},
        )
        assert status == 201, party
        await until(lambda: "Call established" in phone.log(), what="phone answered")
        assert await active_mode() == "Listen"
        for digit, mode in (("5", "Coach"), ("6", "Barge"), ("4", "Listen")):
            await phone.command("sndcode", digit)
            await mode_becomes(mode)
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
    exts = await extensions(server)
    await monitoring_group(server, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    created = sip_account(server, str(exts["101"]["id"]), "Desk phone")
    device_id, sip = created["deviceId"], created["sip"]
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
        await until(lambda: "200 OK" in phone.log(), what="baresip registered")
        call = start_call(call_options(server, source, two_way=False))
        sid = (await live_session(server, exts["102"]))["telephonySessionId"]
        status, party = await supervise(
            server,
            sid,
            {"mode": "Listen", "supervisorDeviceId": device_id, "agentExtensionNumber": "102"},
        )
        assert status == 201, party
        await until(lambda: "Incoming call" in phone.log(), what="the phone rings")
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
        await asyncio.wait_for(call, 30)
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
        await until(lambda: "200 OK" in phone.log(), what="baresip registered")
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
        await until(lambda: "Call established" in phone.log(), what="rung on the agent's call")
        stat = json.loads(await phone.command("callstat"))["data"]
        assert "peer_uri:  Listen: Alex Agent (102) <sip:callscope@" in stat
        result = await asyncio.wait_for(call, 30)
        assert result.status == "completed"
        await until(lambda: "session closed" in phone.log(), what="BYE when the call ended")
    finally:
        phone.stop()


class RawSip(asyncio.DatagramProtocol):
    """Hand-written SIP datagrams to the registrar, for the answers baresip never provokes."""

    def __init__(self) -> None:
        self.answers: asyncio.Queue[SipResponse] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        message = SipMessage.parse(data)
        if isinstance(message, SipResponse):
            self.answers.put_nowait(message)

    async def register(
        self, port: int, user: str, *, expires: str = "600", auth: str = ""
    ) -> SipResponse:
        assert self.transport is not None
        local = self.transport.get_extra_info("sockname")[1]
        lines = [
            f"REGISTER sip:127.0.0.1:{port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{secrets.token_hex(4)}",
            f"From: <sip:{user}@127.0.0.1>;tag=r1",
            f"To: <sip:{user}@127.0.0.1>",
            "Call-ID: raw-1",
            "CSeq: 1 REGISTER",
            f"Contact: <sip:{user}@127.0.0.1:{local}>",
            f"Expires: {expires}",
            *([f"Authorization: {auth}"] if auth else []),
            "Content-Length: 0",
        ]
        self.transport.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), ("127.0.0.1", port))
        return await asyncio.wait_for(self.answers.get(), 10)


def digest_header(challenge: SipResponse, user: str, password: str, port: int) -> str:
    params = parse_auth(challenge.headers.get_first("WWW-Authenticate") or "").params
    uri = f"sip:127.0.0.1:{port}"
    key = ha1(user, params["realm"], password)
    r = response(key, "REGISTER", uri, params["nonce"], "00000001", "c", "auth")
    return (
        f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
        f'uri="{uri}", response="{r}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c"'
    )


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
        await until(lambda: "200 OK" in phone.log(), what="baresip registered")
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
