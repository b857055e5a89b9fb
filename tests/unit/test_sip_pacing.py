"""RTP pacing toward a SIP phone, sans-I/O: bursty frames in, one packet per clock tick out."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import numpy as np
import pytest

from callscope.media.g711 import lin2ulaw
from callscope.sip.clock import RtpClock
from callscope.sip.link import RtpEndpoint, SipCall, SipDeviceLink
from callscope.sip.media import PACKET_SAMPLES, Answer, Codec, RtpPacket, parse_rtp
from callscope.sip.pacing import RtpPacer
from callscope.store.models import Device, Extension
from callscope.supervision.webphone import listen_frame
from tests.helpers.wait import until

PCMU = Codec(0)


def frame(n: int) -> bytes:
    """The n-th 20 ms frame: silence but for a click at sample n, which names it."""
    pcm = np.zeros(PACKET_SAMPLES, dtype="<i2")
    pcm[n] = 8000
    return pcm.tobytes()


def which(packet: RtpPacket) -> int:
    """The frame number a packet carries."""
    for n in range(PACKET_SAMPLES):
        if lin2ulaw(np.frombuffer(frame(n), dtype="<i2")) == packet.payload:
            return n
    raise AssertionError("a payload of no frame")


def pacer(**kwargs: int) -> RtpPacer:
    return RtpPacer(codec=PCMU, ssrc=0x1234, sequence=0xFFFE, timestamp=0xFFFFFF00, **kwargs)


def run(p: RtpPacer, arrivals: dict[int, list[int]], ticks: int) -> list[RtpPacket | None]:
    """Frames pushed before tick ``t`` as ``arrivals[t]`` says; what each tick sends."""
    out: list[RtpPacket | None] = []
    for t in range(ticks):
        for n in arrivals.get(t, []):
            p.push(frame(n), arrived=t * 0.02)
        sent = p.tick()
        assert len(sent) <= 1, "two packets in one tick"
        out.append(parse_rtp(sent[0].data) if sent else None)
    return out


def assert_continuous(packets: list[RtpPacket]) -> None:
    for a, b in itertools.pairwise(packets):
        assert b.sequence == (a.sequence + 1) & 0xFFFF
        assert b.timestamp == (a.timestamp + PACKET_SAMPLES) & 0xFFFFFFFF
        assert b.ssrc == a.ssrc == 0x1234
        assert not b.marker


def test_bursts_leave_one_packet_per_tick_in_order_and_continuous() -> None:
    # frames come three at a time every 60 ms (every third tick)
    arrivals = {t: [t, t + 1, t + 2] for t in range(0, 60, 3)}
    p = pacer()
    out = run(p, arrivals, 60)
    assert all(packet is not None for packet in out), "a tick without its packet"
    packets = [packet for packet in out if packet is not None]
    assert [which(packet) for packet in packets] == list(range(60))  # nothing lost or reordered
    assert packets[0].marker  # the first packet of the stream
    assert packets[0].payload_type == 0
    assert len(packets[0].payload) == PACKET_SAMPLES
    assert_continuous(packets)  # across the 16-bit and 32-bit wrap-arounds
    assert (p.sent, p.underruns, p.dropped) == (60, 0, 0)


def test_nothing_is_sent_before_the_cushion_fills() -> None:
    p = pacer(prefill_packets=2)
    assert p.tick() == []  # nothing yet
    p.push(frame(0), 0.0)
    assert p.tick() == []  # one frame: not yet
    p.push(frame(1), 0.0)
    (first,) = p.tick()
    assert which(parse_rtp(first.data)) == 0


def test_an_underrun_pauses_the_stream_and_loses_nothing() -> None:
    arrivals = {0: [0, 1], 1: [2], 5: [3], 6: [4]}  # nothing arrives at ticks 2-4
    p = pacer()
    out = run(p, arrivals, 8)
    # a pause until the cushion (2) is full again, then on
    assert [which(x) if x else None for x in out] == [0, 1, 2, None, None, None, 3, 4]
    sent = [x for x in out if x is not None]
    assert_continuous(sent)  # sequence numbers and timestamps go on: no audio lost or added
    assert p.underruns == 1


def test_an_overrun_drops_the_oldest_frames() -> None:
    p = pacer(depth_packets=3)
    for n in range(6):  # a burst of six into a buffer of three
        p.push(frame(n), 0.0)
    assert (p.buffered, p.dropped) == (3, 3)
    out = run(p, {}, 3)
    assert [which(x) for x in out if x is not None] == [3, 4, 5]  # the newest were kept


def test_a_held_call_sends_nothing_and_resumes_with_a_fresh_cushion() -> None:
    p = pacer()
    first = run(p, {0: [0, 1]}, 1)[0]
    assert first is not None
    p.push(frame(1), 0.0)
    assert p.tick(held=True) == []
    assert p.tick(held=True) == []
    assert p.buffered == 0  # held audio is not kept for later
    p.push(frame(2), 0.0)
    assert p.tick() == []  # one frame: the cushion is not full yet
    p.push(frame(3), 0.0)
    (resumed,) = p.tick()
    packet = parse_rtp(resumed.data)
    assert which(packet) == 2
    assert packet.marker
    assert packet.sequence == (first.sequence + 1) & 0xFFFF
    assert packet.timestamp == (first.timestamp + 3 * PACKET_SAMPLES) & 0xFFFFFFFF  # 2 held


def test_a_burst_drains_back_to_the_cushion_without_losing_audio() -> None:
    p = pacer(depth_packets=5, prefill_packets=2, drain_ticks=10)
    sent: list[RtpPacket] = []
    per_tick: list[int] = []
    n = 0
    for t in range(80):
        count = 2 if t % 2 == 0 else 0  # pairs every 40 ms
        if t == 20:
            count += 2  # a late pair and the next one together
        for _ in range(count):
            p.push(frame(n % PACKET_SAMPLES), 0.0)
            n += 1
        packets = [parse_rtp(x.data) for x in p.tick()]
        per_tick.append(len(packets))
        sent += packets
    assert [which(x) for x in sent] == [i % PACKET_SAMPLES for i in range(len(sent))]
    assert_continuous(sent)
    assert p.dropped == 0
    assert p.drained == 1  # once, then the buffer is back at its cushion
    assert per_tick.count(2) == 1
    assert p.buffered <= 2


def test_the_cushion_must_fit_the_buffer() -> None:
    with pytest.raises(ValueError, match="prefill_packets"):
        pacer(depth_packets=2, prefill_packets=3)


class Heard(asyncio.DatagramProtocol):
    """The phone's RTP port."""

    def __init__(self) -> None:
        self.packets: list[RtpPacket] = []

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.packets.append(parse_rtp(data))


async def test_the_node_clock_paces_a_burst_through_the_link_and_stops_with_its_calls() -> None:
    loop = asyncio.get_running_loop()
    phone_t, heard = await loop.create_datagram_endpoint(Heard, local_addr=("127.0.0.1", 0))
    rtp = RtpEndpoint(lambda _pcm: None, lambda _digit: None)
    rtp_t, _ = await loop.create_datagram_endpoint(lambda: rtp, local_addr=("127.0.0.1", 0))
    clock = RtpClock()
    link = SipDeviceLink(
        Device(id=7, account_id="1", extension_id=71),
        Extension(id=71, extension_number="101"),
        contact=("127.0.0.1", 5060),
        contact_uri="sip:cs7@127.0.0.1:5060",
        invite=lambda _link, _started: None,
        hang_up=lambda _link, _call: None,
    )
    call = SipCall("c@callscope", "tag", "z9hG4bK1", b"", stream=3, rtp=rtp)
    call.answered = True
    call.answer = Answer("127.0.0.1", phone_t.get_extra_info("sockname")[1], PCMU, None)
    call.pacer = pacer()
    link.calls[3] = call
    try:
        for n in range(6):  # one burst of 120 ms of audio
            link.send_audio(listen_frame(0, 3, n, frame(n)), 0.0)
        link.send_audio(listen_frame(0, 4, 0, frame(9)), 0.0)  # another stream's: not here
        clock.add(link, call)
        await until(lambda: len(heard.packets) >= 5, what="the burst paced out")
        clock.discard(call)
        await until(lambda: clock.idle, what="the clock stopped with no call")
        await until(lambda: len(heard.packets) == link.sent, what="what was sent, heard")
        assert [which(p) for p in heard.packets] == list(range(len(heard.packets)))
        assert heard.packets[0].marker
        assert_continuous(heard.packets)
    finally:
        await clock.stop()
        phone_t.close()
        rtp_t.close()
