"""SIP test helpers: Debian's baresip as an independent phone, a hand-written SIP client for
what baresip never sends, and a server with SIP on (UDP, TCP, TLS)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trustme
from aiosipua import SipMessage, SipRequest, SipResponse, parse_auth

from callscope.sip.digest import ha1, response
from tests.conftest import Server, free_port
from tests.helpers.login import admin_cli, request
from tests.helpers.phone import extensions, monitoring_group, supervise
from tests.helpers.runner import live_session
from tests.helpers.wait import until, until_sync

DEVICES = "/restapi/v1.0/account/~/extension/~/device"


def free_sip_ports() -> int:
    """A port free on UDP and TCP whose next port is free on TCP too: baresip listens on
    ``sip_listen`` (UDP, TCP) and on the next port (TLS)."""
    for _ in range(50):
        port = free_port()
        try:
            with contextlib.ExitStack() as held:
                for kind, at in ((socket.SOCK_DGRAM, port), (socket.SOCK_STREAM, port + 1)):
                    sock = held.enter_context(socket.socket(socket.AF_INET, kind))
                    sock.bind(("127.0.0.1", at))
        except (OSError, OverflowError):  # taken, or port + 1 past 65535
            continue
        return port
    raise AssertionError("no two free ports in a row on 127.0.0.1")


@dataclass
class Baresip:
    """A baresip process with one account on callscope's registrar."""

    home: Path
    registrar: int
    username: str
    password: str
    port: int = field(default_factory=lambda: free_sip_ports())
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
        (self.home / "accounts").write_text(
            f"<sip:{self.username}@127.0.0.1:{self.registrar};transport={self.transport}>"
            f";auth_pass={self.password};answermode={self.answermode};regint=600;audio_codecs=PCMU\n"
        )
        for _ in range(5):
            if self._launch():
                return self
            # a port it needs was taken between choosing and binding: other ports
            self.port, self.ctrl_port = free_sip_ports(), free_port()
        raise AssertionError(f"baresip did not start:\n{self.log()}")

    def _config(self) -> str:
        mic = self.home / "mic.wav"
        return "\n".join(
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
                # a burst of RTP after a stall on a loaded machine waits in the jitter buffer
                # instead of overflowing it (the default keeps 10 frames: one is dropped and
                # every later sample is heard a frame early)
                "jitter_buffer_delay 5-50",
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

    def _launch(self) -> bool:
        """Start baresip; False if it could not bind its ports (it exits)."""
        (self.home / "config").write_text(self._config())
        with (self.home / "log").open("wb") as log:
            self.proc = subprocess.Popen(
                ["baresip", "-f", str(self.home)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        ready = until_sync(
            lambda: "baresip is ready." in self.log() or self.proc.poll() is not None,  # type: ignore[union-attr]
            timeout=20,
            what="baresip started",
        )
        return bool(ready) and "baresip is ready." in self.log()

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

    async def logged(self, text: str, what: str, timeout: float = 30.0) -> None:
        """Until baresip's log has ``text``; a failure shows the end of the log."""
        try:
            await until(lambda: text in self.log(), timeout=timeout, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; baresip's log ends:\n{self.log()[-3000:]}") from None

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
    args = server.extra_args  # a cluster node's: the admin works on the same database
    at = args.index("--database-url") if "--database-url" in args else len(args)
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
        *args[at : at + 2],
    )


async def device(server: Server, device_id: str) -> dict[str, Any]:
    _, devices = await request(server, "GET", DEVICES, headers=server.headers)
    found: dict[str, Any] = next(d for d in devices["records"] if d["id"] == device_id)
    return found


async def active_mode(server: Server, device_id: str) -> str | None:
    """The mode the device supervises in now (Genesys ``activeMode``), as ``server`` says."""
    _, body = await request(server, "GET", "/api/v2/me/devices", headers=server.headers)
    mine = [d for d in body["devices"] if d["id"] == device_id]
    state = mine[0].get("supervisorMonitoringState") if mine else None
    return state.get("activeMode") if state else None


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


async def sam_sip_account(
    server: Server,
) -> tuple[dict[str, dict[str, Any]], str, dict[str, Any]]:
    """Sam (101) monitoring Alex (102) only, and a SIP account for Sam's desk phone.
    Returns the extensions, the device id and the SIP credentials (shown once)."""
    exts = await extensions(server)
    await monitoring_group(server, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    created = sip_account(server, str(exts["101"]["id"]), "Desk phone")
    return exts, created["deviceId"], created["sip"]


async def sam_listens(
    server: Server, exts: dict[str, dict[str, Any]], device_id: str
) -> tuple[str, dict[str, Any]]:
    """Sam's phone ``device_id`` listens to Alex's (102) live call: the telephony session
    id and the supervisor party made (201)."""
    sid = (await live_session(server, exts["102"]))["telephonySessionId"]
    status, party = await supervise(
        server,
        sid,
        {"mode": "Listen", "supervisorDeviceId": device_id, "agentExtensionNumber": "102"},
    )
    assert status == 201, party
    return sid, party


async def desk_phone(
    server: Server, tmp_path: Path
) -> tuple[dict[str, dict[str, Any]], str, Baresip]:
    """Sam (101) monitoring Alex (102), and Sam's desk phone: a SIP account and a started
    baresip registering with it. Returns the extensions, the device id and the phone."""
    exts, device_id, sip = await sam_sip_account(server)
    phone = Baresip(tmp_path / "phone", server.sip_port, sip["username"], sip["password"])  # type: ignore[attr-defined]
    return exts, device_id, phone.start()


def start_sip_server(server_factory: type[Server], tmp_path: Path, *extra_args: str) -> Server:
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
            *extra_args,
        ],
    ).start()
    server.sip_port = port  # type: ignore[attr-defined]
    server.sip_tls_port = tls_port  # type: ignore[attr-defined]
    return server


class RawSip(asyncio.DatagramProtocol):
    """Hand-written SIP datagrams to the registrar, for the answers baresip never provokes."""

    def __init__(self) -> None:
        self.answers: asyncio.Queue[SipResponse] = asyncio.Queue()
        #: requests callscope sends (INVITE, ACK, BYE, CANCEL), with where they came from
        self.requests: asyncio.Queue[tuple[SipRequest, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.sent = b""  # the last REGISTER, to send again

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if not data.strip():
            return
        message = SipMessage.parse(data)
        if isinstance(message, SipResponse):
            self.answers.put_nowait(message)
        elif isinstance(message, SipRequest):
            self.requests.put_nowait((message, (str(addr[0]), int(addr[1]))))

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, message: SipMessage | bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(message if isinstance(message, bytes) else bytes(message), addr)

    async def request(self, method: str) -> tuple[SipRequest, tuple[str, int]]:
        """The next request callscope sends with ``method`` (others are skipped)."""
        while True:
            found, peer = await asyncio.wait_for(self.requests.get(), 40)
            if found.method == method:
                return found, peer

    async def register(
        self, port: int, user: str, *, expires: str = "600", auth: str = "", copies: int = 1
    ) -> SipResponse:
        """Sends a REGISTER (``copies`` times, as a phone retransmits it) and returns the first
        answer; the answers to the copies stay in ``answers``."""
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
        self.sent = ("\r\n".join(lines) + "\r\n\r\n").encode()
        for _ in range(copies):
            self.transport.sendto(self.sent, ("127.0.0.1", port))
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
