"""The SIP supervisor-phone core, sans-I/O: digest checks, SDP answer, RTP framing."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from aiosipua import SipMessage, SipRequest

from callscope.media.g711 import lin2ulaw
from callscope.sip.digest import Digest, DigestError, challenge, credentials, ha1, response
from callscope.sip.link import RtpEndpoint, SipCall
from callscope.sip.media import (
    DTMF_PT,
    Codec,
    direction_of,
    dtmf_event,
    offer,
    parse_answer,
    parse_rtp,
    rtp_packet,
)
from callscope.sip.reinvite import renegotiate
from callscope.sip.replies import reply
from callscope.sip.tcp import MAX_MESSAGE, read_message
from callscope.sip.transactions import ServerTransactions, transaction_key


def authorization(digest: Digest, password: str, *, nonce: str, qop: bool = True) -> str:
    key = ha1("cs1", digest.realm, password)
    uri = "sip:127.0.0.1"
    if qop:
        r = response(key, "REGISTER", uri, nonce, "00000001", "abc", "auth")
        extra = ', qop=auth, nc=00000001, cnonce="abc"'
    else:
        r, extra = response(key, "REGISTER", uri, nonce), ""
    return (
        f'Digest username="cs1", realm="{digest.realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{r}", algorithm=MD5{extra}'
    )


def test_digest_accepts_the_password_and_refuses_others() -> None:
    digest = Digest.new("callscope")
    stored = ha1("cs1", "callscope", "s3cret")
    for qop in (True, False):
        nonce = digest.nonce(now=time.time() - int(qop))
        assert digest.check(
            authorization(digest, "s3cret", nonce=nonce, qop=qop), "REGISTER", stored
        )
        assert not digest.check(
            authorization(digest, "guess", nonce=nonce, qop=qop), "REGISTER", stored
        )
    # the response covers the method
    fresh = digest.nonce(now=time.time() - 2)
    assert not digest.check(authorization(digest, "s3cret", nonce=fresh), "INVITE", stored)


def test_a_replayed_authorization_is_stale() -> None:
    digest = Digest.new("callscope")
    stored = ha1("cs1", "callscope", "s3cret")
    header = authorization(digest, "s3cret", nonce=digest.nonce())
    assert digest.verify(header, "REGISTER", stored) == "ok"
    assert digest.verify(header, "REGISTER", stored) == "stale"  # same nonce count again
    assert (
        digest.verify(authorization(digest, "guess", nonce=digest.nonce()), "REGISTER", stored)
        == "wrong"
    )
    old = authorization(digest, "s3cret", nonce=digest.nonce(now=time.time() - 400))
    assert digest.verify(old, "REGISTER", stored) == "stale"


def test_nonces_are_signed_and_expire() -> None:
    digest = Digest.new("callscope")
    stored = ha1("cs1", "callscope", "s3cret")
    assert digest.fresh(digest.nonce())
    assert not digest.fresh(digest.nonce(now=1000.0), now=1000.0 + 301)
    assert digest.nonce() != digest.nonce()  # each challenge its own
    forged = "ffffffff.000000000000." + "0" * 24
    assert not digest.check(authorization(digest, "s3cret", nonce=forged), "REGISTER", stored)
    other = Digest.new("callscope")  # another server's key
    assert not digest.fresh(other.nonce())
    assert 'realm="callscope"' in challenge(digest)
    assert "stale=true" in challenge(digest, stale=True)


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("Basic dXNlcjpwYXNz", "use Digest"),
        ('Digest username="cs1", realm="callscope"', "lacks nonce, uri, response"),
        (
            'Digest username="a", realm="r", nonce="n", uri="u", response="x", algorithm=SHA-256',
            "use MD5",
        ),
        ('Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth-int', "qop"),
    ],
)
def test_bad_authorization_headers_say_why(header: str, why: str) -> None:
    with pytest.raises(DigestError, match=why):
        credentials(header)


def test_another_realm_is_refused() -> None:
    digest = Digest.new("callscope")
    other = Digest.new("elsewhere")
    header = authorization(other, "s3cret", nonce=other.nonce())
    with pytest.raises(DigestError, match="realm"):
        digest.check(header, "REGISTER", ha1("cs1", "callscope", "s3cret"))


def test_offer_and_answer() -> None:
    sdp = offer("127.0.0.1", 40000, 7).decode()
    assert "m=audio 40000 RTP/AVP 0 8 101\r\n" in sdp
    assert "a=ptime:20" in sdp
    assert "c=IN IP4 127.0.0.1" in sdp
    answer = parse_answer(
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
        b"m=audio 5004 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\n"
    )
    assert (answer.host, answer.port, answer.codec.name, answer.dtmf_pt) == (
        "10.0.0.5",
        5004,
        "PCMA",
        101,
    )
    with pytest.raises(ValueError, match="none of PCMU, PCMA"):
        parse_answer(b"v=0\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5004 RTP/AVP 9\r\n")
    with pytest.raises(ValueError, match="no audio"):
        parse_answer(b"v=0\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n")


def test_rtp_round_trip_and_dtmf() -> None:
    pcm = (np.sin(np.arange(160) / 3) * 8000).astype(np.int16)
    payload = Codec(0).encode(pcm)
    assert payload == lin2ulaw(pcm)
    assert len(payload) == 160
    packet = parse_rtp(rtp_packet(0, 65535, 2**32 - 1, 42, payload, marker=True))
    assert (packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc) == (
        0,
        65535,
        2**32 - 1,
        42,
    )
    assert packet.marker
    assert packet.payload == payload
    # a CSRC and a header extension are skipped
    raw = bytearray(rtp_packet(DTMF_PT, 1, 2, 3, b"", marker=False))
    raw[0] |= 0x11
    raw += b"\0\0\0\1" + b"\xbe\xde\0\1" + b"\0\0\0\0" + bytes([5, 0x80, 0, 160])
    event = parse_rtp(bytes(raw))
    assert dtmf_event(event.payload) == (5, True)
    with pytest.raises(ValueError, match="version"):
        parse_rtp(b"\x00" * 12)
    with pytest.raises(ValueError, match="shorter"):
        parse_rtp(b"\x80")


def test_aiosipua_parses_what_the_registrar_reads() -> None:
    msg = SipMessage.parse(
        b"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\n"
        b"To: <sip:cs1@127.0.0.1>\r\nFrom: <sip:cs1@127.0.0.1>;tag=1\r\nCall-ID: a\r\n"
        b"CSeq: 1 REGISTER\r\nContact: <sip:cs1@127.0.0.1:5062>;expires=120\r\n\r\n"
    )
    assert msg.to_addr is not None
    assert msg.to_addr.uri.user == "cs1"
    assert msg.contact[0].params["expires"] == "120"


async def test_tcp_framing_by_content_length() -> None:
    reader = asyncio.StreamReader()
    first = b"OPTIONS sip:x SIP/2.0\r\nl: 4\r\n\r\nbody"
    second = b"BYE sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n"
    reader.feed_data(b"\r\n\r\n" + first + second)  # a keep-alive first
    reader.feed_eof()
    got = [await read_message(reader) for _ in range(4)]
    assert [g for g in got if g] == [first, second]
    assert got[-1] is None  # closed
    big = asyncio.StreamReader()
    big.feed_data(b"INVITE sip:x SIP/2.0\r\nContent-Length: %d\r\n\r\n" % (MAX_MESSAGE + 1))
    big.feed_eof()
    assert await read_message(big) is None


def _sdp(direction: str | None, port: int = 40000, formats: str = "8 0 101") -> bytes:
    lines = [
        "v=0",
        "o=phone 7 2 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        f"m=audio {port} RTP/AVP {formats}",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
    ]
    if direction:
        lines.append(f"a={direction}")
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.mark.parametrize(
    ("offered", "answered", "held"),
    [
        ("sendonly", "recvonly", True),
        ("inactive", "inactive", True),
        ("recvonly", "sendonly", False),
        (None, "sendrecv", False),
    ],
)
async def test_a_re_invite_holds_resumes_and_moves_the_phones_audio(
    offered: str | None, answered: str, held: bool
) -> None:
    rtp = RtpEndpoint(lambda _pcm: None, lambda _digit: None)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: rtp, local_addr=("127.0.0.1", 0))
    try:
        call = SipCall("c@callscope", "tag", "z9hG4bK1", b"", stream=1, rtp=rtp)
        first = parse_answer(_sdp(None, port=40000, formats="0 101"))
        call.answer, rtp.answer, call.answered = first, first, True
        result = renegotiate(call, _sdp(offered, port=40002), "127.0.0.1")
        assert result.status == 200
        sdp = result.sdp.decode()
        port = transport.get_extra_info("sockname")[1]
        assert f"m=audio {port} RTP/AVP 8 101" in sdp  # the phone's first G.711 choice
        assert f"o=callscope {call.sdp_session} 2 IN IP4 127.0.0.1" in sdp
        assert sdp.rstrip().endswith(f"a={answered}")
        assert call.held is held
        assert call.answer is not None
        assert call.answer.port == 40002  # audio goes there now
        assert rtp.answer is call.answer
        # resuming: a sendrecv offer, the next version, audio again
        again = renegotiate(call, _sdp("sendrecv", port=40004), "127.0.0.1")
        assert again.status == 200
        assert f" {call.sdp_session} 3 " in again.sdp.decode()
        assert call.held is False
        assert call.answer.port == 40004
    finally:
        transport.close()


async def test_a_re_invite_that_cannot_be_taken_is_refused() -> None:
    call = SipCall("c@callscope", "tag", "z9hG4bK1", b"", stream=1)
    assert renegotiate(call, _sdp("sendonly"), "127.0.0.1").status == 491  # not answered yet
    rtp = RtpEndpoint(lambda _pcm: None, lambda _digit: None)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: rtp, local_addr=("127.0.0.1", 0))
    try:
        call = SipCall("c@callscope", "tag", "z9hG4bK1", b"", stream=1, rtp=rtp)
        call.answer = rtp.answer = parse_answer(_sdp(None, formats="0"))
        call.answered = True
        refused = renegotiate(call, _sdp("sendrecv", formats="9"), "127.0.0.1")  # G.722 only
        assert (refused.status, refused.sdp) == (488, b"")
        assert call.answer.codec.payload_type == 0  # nothing changed
        assert call.held is False
        assert direction_of(b"v=0\r\nc=IN IP4 0.0.0.0\r\n") == "inactive"  # RFC 2543 hold
    finally:
        transport.close()


def register(branch: str | None, cseq: int = 1) -> SipMessage:
    via = "SIP/2.0/UDP 127.0.0.1:5070" + (f";branch={branch}" if branch else "")
    return SipMessage.parse(
        (
            f"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: {via}\r\nFrom: <sip:cs1@127.0.0.1>;tag=a\r\n"
            f"To: <sip:cs1@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: {cseq} REGISTER\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )


def test_a_retransmitted_request_is_absorbed_then_answered_again() -> None:
    table = ServerTransactions()
    phone, other = ("127.0.0.1", 5070), ("127.0.0.1", 5071)
    request = register("z9hG4bKaaa")
    assert isinstance(request, SipRequest)
    assert table.begin(request, phone) == (True, None)  # new: handle it
    assert table.begin(request, phone) == (False, None)  # a copy while it is handled
    assert table.begin(request, other) == (True, None)  # another sender's is its own
    assert table.begin(register("z9hG4bKaaa", cseq=2), phone) == (True, None)  # next CSeq
    trying = reply(request, 100, "Trying")
    table.answered(trying, bytes(trying), phone)  # provisional: not repeated
    assert table.begin(request, phone) == (False, None)
    ok = reply(request, 200, "OK")
    table.answered(ok, bytes(ok), phone)
    assert table.begin(request, phone) == (False, bytes(ok))  # the very answer, again
    assert table.absorbed == 3


def test_requests_without_a_branch_are_new_each_time_and_old_ones_are_forgotten() -> None:
    now = [100.0]
    table = ServerTransactions(lifetime_s=32.0, limit=3, clock=lambda: now[0])
    phone = ("127.0.0.1", 5070)
    bare = register(None)  # RFC 2543: no transaction to match
    assert isinstance(bare, SipRequest)
    assert table.begin(bare, phone) == (True, None)
    assert table.begin(bare, phone) == (True, None)
    assert transaction_key(bare, phone) is None
    garbled = SipMessage.parse(bytes(register("z9hG4bKg")).replace(b"CSeq: 1", b"CSeq: x"))
    assert transaction_key(garbled, phone) is None  # a CSeq that is no number: no match
    first = register("z9hG4bK1")
    assert isinstance(first, SipRequest)
    table.begin(first, phone)
    now[0] += 31.9
    assert table.begin(first, phone) == (False, None)  # within timer J: a copy
    now[0] += 0.2  # timer J passed: the table forgets it
    assert table.begin(first, phone) == (True, None)
    for n in range(2, 6):  # at most `limit` remembered: the oldest go first
        r = register(f"z9hG4bK{n}")
        assert isinstance(r, SipRequest)
        table.begin(r, phone)
    assert len(table) <= 3
    assert table.begin(first, phone) == (True, None)
