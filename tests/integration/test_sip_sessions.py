"""SIP calls driven from the phone's side by a hand-written client (what baresip cannot be
made to send): a phone that holds, resumes and moves its RTP, a phone that never answers,
and a storm of wrong passwords."""

from __future__ import annotations

import asyncio
import secrets
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosipua import SipRequest, SipResponse

from tests.conftest import Server, make_stereo_fixture
from tests.helpers.login import request
from tests.helpers.phone import extensions
from tests.helpers.runner import call_options, start_call
from tests.helpers.sip import (
    RawSip,
    device,
    digest_header,
    sam_listens,
    sam_sip_account,
    sip_account,
    start_sip_server,
)
from tests.helpers.wait import until, until_async

pytestmark = pytest.mark.slow

TEL = "/restapi/v1.0/account/~/telephony/sessions"
RING_S = 3  # the server's --sip-invite-timeout-s here


@pytest.fixture
def sip_server(server_factory: type[Server], tmp_path: Path) -> Server:
    return start_sip_server(server_factory, tmp_path, "--sip-invite-timeout-s", str(RING_S))


@dataclass
class RtpSink(asyncio.DatagramProtocol):
    """A phone's RTP port: the (sequence, timestamp, marker) of each packet it gets."""

    packets: list[tuple[int, int, bool]] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        _, second, seq, ts, _ = struct.unpack_from("!BBHII", data)  # RFC 3550 §5.1
        self.packets.append((seq, ts, bool(second & 0x80)))

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])


async def udp(factory: Any) -> Any:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(factory, local_addr=("127.0.0.1", 0))
    return protocol


def sdp(port: int, direction: str, version: int) -> bytes:
    return (
        "\r\n".join(
            [
                "v=0",
                f"o=phone 7 {version} IN IP4 127.0.0.1",
                "s=-",
                "c=IN IP4 127.0.0.1",
                "t=0 0",
                f"m=audio {port} RTP/AVP 0 101",
                "a=rtpmap:0 PCMU/8000",
                "a=rtpmap:101 telephone-event/8000",
                f"a={direction}",
            ]
        )
        + "\r\n"
    ).encode()


def response_to(invite: SipRequest, status: str, *, tag: str, contact: str, body: bytes) -> bytes:
    """The phone's response to callscope's INVITE, written by hand."""
    h = invite.headers
    lines = [f"SIP/2.0 {status}"]
    lines += [f"Via: {via}" for via in h.get("Via")]
    lines += [
        f"From: {h.get_first('From')}",
        f"To: {h.get_first('To')};tag={tag}",
        f"Call-ID: {invite.call_id}",
        f"CSeq: {h.get_first('CSeq')}",
        f"Contact: {contact}",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def registered(server: Server, raw: RawSip, user: str, password: str) -> None:
    port = server.sip_port  # type: ignore[attr-defined]
    challenge = await raw.register(port, user)
    assert challenge.status_code == 401
    answer = await raw.register(port, user, auth=digest_header(challenge, user, password, port))
    assert answer.status_code == 200, answer.reason_phrase


async def party_status(server: Server, sid: str, party_id: str) -> dict[str, Any]:
    _, session = await request(server, "GET", f"{TEL}/{sid}", headers=server.headers)
    found: dict[str, Any] = next(p for p in session["parties"] if p["id"] == party_id)
    return dict(found["status"])


async def test_a_phone_holds_resumes_and_moves_its_rtp_by_re_invite(
    sip_server: Server, tmp_path: Path
) -> None:
    server = sip_server
    exts, device_id, sip = await sam_sip_account(server)
    raw: RawSip = await udp(RawSip)
    first: RtpSink = await udp(RtpSink)
    moved: RtpSink = await udp(RtpSink)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=15.0)
    call = None
    try:
        await registered(server, raw, sip["username"], sip["password"])
        call = start_call(call_options(server, source, two_way=False))
        sid, party = await sam_listens(server, exts, device_id)
        invite, callscope = await raw.request("INVITE")
        tag, contact = secrets.token_hex(4), f"<sip:{sip['username']}@127.0.0.1:{raw.port}>"
        raw.send(
            response_to(
                invite, "200 OK", tag=tag, contact=contact, body=sdp(first.port, "sendrecv", 1)
            ),
            callscope,
        )
        await raw.request("ACK")
        await until(lambda: len(first.packets) >= 25, what="RTP to the answered address")

        cseq = 0

        async def re_invite(port: int, direction: str, from_tag: str = tag) -> SipResponse:
            """The phone's re-INVITE inside callscope's call (RFC 3261 §14.1)."""
            nonlocal cseq
            cseq += 1
            body = sdp(port, direction, cseq + 1)
            lines = [
                f"INVITE sip:callscope@127.0.0.1:{server.sip_port} SIP/2.0",  # type: ignore[attr-defined]
                f"Via: SIP/2.0/UDP 127.0.0.1:{raw.port};branch=z9hG4bK{secrets.token_hex(6)}",
                f"From: {invite.headers.get_first('To')};tag={from_tag}",
                f"To: {invite.headers.get_first('From')}",
                f"Call-ID: {invite.call_id}",
                f"CSeq: {cseq} INVITE",
                f"Contact: {contact}",
                "Content-Type: application/sdp",
                f"Content-Length: {len(body)}",
            ]
            raw.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body, callscope)
            answer = await asyncio.wait_for(raw.answers.get(), 10)
            assert answer.call_id == invite.call_id
            return answer

        async def bye(from_tag: str) -> SipResponse:
            nonlocal cseq
            cseq += 1
            lines = [
                f"BYE sip:callscope@127.0.0.1:{server.sip_port} SIP/2.0",  # type: ignore[attr-defined]
                f"Via: SIP/2.0/UDP 127.0.0.1:{raw.port};branch=z9hG4bK{secrets.token_hex(6)}",
                f"From: {invite.headers.get_first('To')};tag={from_tag}",
                f"To: {invite.headers.get_first('From')}",
                f"Call-ID: {invite.call_id}",
                f"CSeq: {cseq} BYE",
                "Content-Length: 0",
            ]
            raw.send(("\r\n".join(lines) + "\r\n\r\n").encode(), callscope)
            answer = await asyncio.wait_for(raw.answers.get(), 10)
            assert answer.call_id == invite.call_id
            return answer

        # one that knows the Call-ID but not the dialog's tags: refused, the audio stays
        forged = await re_invite(moved.port, "sendrecv", from_tag="not-the-phone")
        assert forged.status_code == 481, forged.reason_phrase
        forged = await bye(from_tag="not-the-phone")  # nor may it hang the phone up
        assert forged.status_code == 481, forged.reason_phrase
        sent = len(first.packets)
        await until(lambda: len(first.packets) >= sent + 10, what="RTP still to the phone")
        assert moved.packets == []

        # hold: callscope answers recvonly and stops sending
        held = await re_invite(first.port, "sendonly")
        assert held.status_code == 200, held.reason_phrase
        assert b"a=recvonly" in held.body
        await asyncio.sleep(0.2)  # packets already on their way
        before = len(first.packets)
        await asyncio.sleep(1.5)
        assert len(first.packets) == before, "audio was sent to a phone that holds"
        last_seq, last_ts, _ = first.packets[-1]

        # resume on another RTP port: audio goes there, none to the old one
        resumed = await re_invite(moved.port, "sendrecv")
        assert resumed.status_code == 200, resumed.reason_phrase
        assert b"a=sendrecv" in resumed.body
        await until(lambda: len(moved.packets) >= 25, what="RTP to the phone's new address")
        assert len(first.packets) == before, "audio still sent to the old address"
        seq, ts, marker = moved.packets[0]
        assert seq == (last_seq + 1) & 0xFFFF  # the same stream goes on: no packet lost
        assert marker  # a new talkspurt after the hold
        # its timestamp counted the hold (1.7 s; ticks a stalled loop skips are not counted)
        assert (ts - last_ts) & 0xFFFFFFFF > 0.5 * 8000
        for (s1, t1, _), (s2, t2, m2) in zip(moved.packets, moved.packets[1:], strict=False):
            if not m2:  # inside a talkspurt: one packet of 20 ms after the other
                assert (s2, t2) == ((s1 + 1) & 0xFFFF, (t1 + 160) & 0xFFFFFFFF)
        assert (await party_status(server, sid, party["id"]))["code"] != "Disconnected"
        # the phone's own BYE ends the supervision
        hung_up = await bye(from_tag=tag)
        assert hung_up.status_code == 200, hung_up.reason_phrase

        async def disconnected() -> bool:
            return (await party_status(server, sid, party["id"]))["code"] == "Disconnected"

        await until_async(disconnected, 10, "the supervisor party ended by the phone's BYE")
    finally:
        for endpoint in (raw, first, moved):
            if endpoint.transport is not None:
                endpoint.transport.close()
        if call is not None:  # the caller hangs up: the rest of the call is of no interest
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)


async def test_a_phone_that_never_answers_ends_its_supervision(
    sip_server: Server, tmp_path: Path
) -> None:
    server = sip_server
    exts, device_id, sip = await sam_sip_account(server)
    raw: RawSip = await udp(RawSip)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=4.0 * RING_S)
    call = None
    try:
        await registered(server, raw, sip["username"], sip["password"])
        call = start_call(call_options(server, source, two_way=False))
        sid, party = await sam_listens(server, exts, device_id)
        invite, callscope = await raw.request("INVITE")
        contact = f"<sip:{sip['username']}@127.0.0.1:{raw.port}>"
        ringing = response_to(invite, "180 Ringing", tag="r", contact=contact, body=b"")
        raw.send(ringing, callscope)  # it rings, and nobody picks up
        cancel, _ = await raw.request("CANCEL")  # callscope gives up (RFC 3261 §9.1)
        assert cancel.call_id == invite.call_id
        assert (cancel.headers.get_first("CSeq") or "").split()[0] == (
            invite.headers.get_first("CSeq") or ""
        ).split()[0]

        async def ended() -> bool:
            return bool((await party_status(server, sid, party["id"]))["code"] == "Disconnected")

        for _ in range(200):
            if await ended():
                break
            await asyncio.sleep(0.05)
        state = await party_status(server, sid, party["id"])
        assert (state["code"], state.get("reason")) == ("Disconnected", "NoAnswer"), state
        assert (await device(server, device_id))["status"] == "Online"  # still registered
    finally:
        if raw.transport is not None:
            raw.transport.close()
        if call is not None:  # the caller hangs up: the rest of the call is of no interest
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)


async def test_a_retransmitted_register_is_one_registration_with_one_answer(
    sip_server: Server,
) -> None:
    """A phone sends its REGISTER again every T1 while the answer is slow (UDP): the copies
    are the same request. Handled as new ones, a copy is a digest replay (401 stale, which the
    phone may hear before the 200 OK) and two copies race into the registrar."""
    server = sip_server
    port = server.sip_port  # type: ignore[attr-defined]
    _, device_id, sip = await sam_sip_account(server)
    user = sip["username"]
    raw: RawSip = await udp(RawSip)
    try:
        challenge = await raw.register(port, user)
        auth = digest_header(challenge, user, sip["password"], port)
        first = await raw.register(port, user, auth=auth, copies=3)  # sent three times at once
        assert first.status_code == 200, first.reason_phrase
        raw.send(raw.sent, ("127.0.0.1", port))  # and once more after the answer
        answers = [first, await asyncio.wait_for(raw.answers.get(), 10)]
        while not raw.answers.empty():  # copies that came in after the answer, if any
            answers.append(raw.answers.get_nowait())
        assert [a.status_code for a in answers] == [200] * len(answers)
        to = first.headers.get_first("To")
        assert {a.headers.get_first("To") for a in answers} == {to}  # the one answer, again
        assert (await device(server, device_id))["status"] == "Online"
    finally:
        if raw.transport is not None:
            raw.transport.close()


async def test_a_wrong_password_storm_is_held_back_per_user_and_per_address(
    sip_server: Server,
) -> None:
    server = sip_server
    port = server.sip_port  # type: ignore[attr-defined]
    exts = await extensions(server)
    victim = sip_account(server, str(exts["101"]["id"]), "Desk phone")["sip"]
    other = sip_account(server, str(exts["102"]["id"]), "Desk phone")["sip"]
    raw: RawSip = await udp(RawSip)

    async def attempt(user: str, password: str) -> SipResponse:
        challenge = await raw.register(port, user)
        if challenge.status_code != 401:
            return challenge  # held back before any challenge
        return await raw.register(port, user, auth=digest_header(challenge, user, password, port))

    try:
        # the login throttle's defaults: 5 wrong passwords lock the name
        for _ in range(5):
            assert (await attempt(victim["username"], "guess")).status_code == 403
        locked = await attempt(victim["username"], "guess")
        assert locked.status_code == 503, locked.reason_phrase  # RFC 3261 §21.5.4
        assert int(locked.headers.get_first("Retry-After") or 0) >= 1
        # locked: even the right password waits
        assert (await attempt(victim["username"], victim["password"])).status_code == 503
        # another account is not locked by it
        assert (await attempt(other["username"], other["password"])).status_code == 200
        # and 20 wrong answers from one address hold the address back, any name
        for n in range(15):
            assert (await attempt(f"cs-nobody-{n}", "guess")).status_code == 403
        held = await attempt(other["username"], other["password"])
        assert held.status_code == 503, held.reason_phrase
        assert int(held.headers.get_first("Retry-After") or 0) >= 1
    finally:
        if raw.transport is not None:
            raw.transport.close()
