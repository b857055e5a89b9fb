"""SDP offer/answer and RTP framing for a supervisor's SIP device, sans-I/O.

callscope offers PCMU and PCMA at 8 kHz in 20 ms packets (160 bytes), and RFC 4733
telephone events; the device's answer picks the codec. RTP packets are RFC 3550 fixed
headers (CSRCs and header extensions of received packets are skipped).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from aiosipua import parse_sdp

from callscope.digits import is_digits
from callscope.media.g711 import alaw2lin, lin2alaw, lin2ulaw, ulaw2lin

__all__ = [
    "DTMF_PT",
    "PACKET_SAMPLES",
    "Answer",
    "Codec",
    "RtpPacket",
    "answer_sdp",
    "direction_of",
    "dtmf_event",
    "offer",
    "parse_answer",
    "parse_rtp",
    "rtp_packet",
]

PCMU: Final = 0
PCMA: Final = 8
DTMF_PT: Final = 101
PACKET_SAMPLES: Final = 160  # 20 ms at 8 kHz
RTP: Final = struct.Struct("!BBHII")


@dataclass(frozen=True, slots=True)
class Codec:
    """G.711 as negotiated: its payload type, and both directions of its conversion."""

    payload_type: int

    @property
    def name(self) -> str:
        return "PCMU" if self.payload_type == PCMU else "PCMA"

    def encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        return lin2ulaw(pcm) if self.payload_type == PCMU else lin2alaw(pcm)

    def decode(self, payload: bytes) -> npt.NDArray[np.int16]:
        return ulaw2lin(payload) if self.payload_type == PCMU else alaw2lin(payload)


def offer(host: str, port: int, session: int, version: int = 1) -> bytes:
    """The SDP callscope sends in its INVITE."""
    lines = [
        "v=0",
        f"o=callscope {session} {version} IN IP4 {host}",
        "s=callscope supervision",
        f"c=IN IP4 {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {PCMU} {PCMA} {DTMF_PT}",
        f"a=rtpmap:{PCMU} PCMU/8000",
        f"a=rtpmap:{PCMA} PCMA/8000",
        f"a=rtpmap:{DTMF_PT} telephone-event/8000",
        f"a=fmtp:{DTMF_PT} 0-16",
        "a=ptime:20",
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass(frozen=True, slots=True)
class Answer:
    """What the device answered: where its RTP goes, the codec, its telephone-event type."""

    host: str
    port: int
    codec: Codec
    dtmf_pt: int | None


def parse_answer(body: bytes) -> Answer:
    """The device's SDP answer.

    Raises:
        ValueError: no audio, no address, or neither PCMU nor PCMA accepted.
    """
    try:
        sdp = parse_sdp(body.decode("utf-8", errors="replace"))
    except (ValueError, IndexError) as exc:
        raise ValueError(f"unreadable SDP answer: {exc}") from exc
    audio, address = sdp.audio, sdp.rtp_address
    if audio is None or address is None or audio.port == 0:
        raise ValueError("the SDP answer has no audio stream callscope can send to")
    formats = [int(f) for f in audio.formats if is_digits(f)]
    codec = next((pt for pt in formats if pt in (PCMU, PCMA)), None)
    if codec is None:
        raise ValueError(f"the SDP answer accepts none of PCMU, PCMA (formats {audio.formats})")
    dtmf = next(
        (c.payload_type for c in audio.codecs if c.encoding_name.lower() == "telephone-event"),
        None,
    )
    return Answer(address[0], address[1], Codec(codec), dtmf)


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def rtp_packet(
    payload_type: int, sequence: int, timestamp: int, ssrc: int, payload: bytes, *, marker: bool
) -> bytes:
    """An RTP packet (version 2, no padding, extension or CSRCs)."""
    second = (0x80 if marker else 0) | (payload_type & 0x7F)
    return (
        RTP.pack(0x80, second, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF)
        + payload
    )


def parse_rtp(data: bytes) -> RtpPacket:
    """A received RTP packet.

    Raises:
        ValueError: too short, not version 2, or lengths that do not fit.
    """
    if len(data) < RTP.size:
        raise ValueError(f"{len(data)} bytes: shorter than an RTP header")
    first, second, seq, ts, ssrc = RTP.unpack_from(data)
    if first >> 6 != 2:
        raise ValueError(f"RTP version {first >> 6}: expected 2")
    offset = RTP.size + 4 * (first & 0x0F)
    if first & 0x10:  # header extension
        if len(data) < offset + 4:
            raise ValueError("RTP header extension cut short")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20:  # padding
        end -= data[-1]
    if offset > end:
        raise ValueError("RTP header longer than its packet")
    return RtpPacket(second & 0x7F, seq, ts, ssrc, bool(second & 0x80), data[offset:end])


def dtmf_event(payload: bytes) -> tuple[int, bool]:
    """An RFC 4733 telephone event: (event, end of event). Events 0-9 are digits.

    Raises:
        ValueError: shorter than the 4-byte event.
    """
    if len(payload) < 4:
        raise ValueError("telephone event shorter than 4 bytes")
    return payload[0], bool(payload[1] & 0x80)


def answer_sdp(
    host: str, port: int, session: int, version: int, answer: Answer, direction: str
) -> bytes:
    """callscope's SDP answer to the device's offer (a re-INVITE): the codec the device
    offered, its telephone events if offered, and ``direction``."""
    pt = answer.codec.payload_type
    formats = f"{pt}" + (f" {answer.dtmf_pt}" if answer.dtmf_pt is not None else "")
    lines = [
        "v=0",
        f"o=callscope {session} {version} IN IP4 {host}",
        "s=callscope supervision",
        f"c=IN IP4 {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {formats}",
        f"a=rtpmap:{pt} {answer.codec.name}/8000",
    ]
    if answer.dtmf_pt is not None:
        lines += [
            f"a=rtpmap:{answer.dtmf_pt} telephone-event/8000",
            f"a=fmtp:{answer.dtmf_pt} 0-16",
        ]
    lines += ["a=ptime:20", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode()


def direction_of(body: bytes) -> str:
    """The media direction an SDP states (RFC 3264 §5.1; sendrecv when it states none; a
    connection address of 0.0.0.0 is the RFC 2543 way of holding: inactive)."""
    text = body.decode("utf-8", errors="replace")
    found = "sendrecv"
    for line in text.splitlines():
        line = line.strip()
        if line in ("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"):
            found = line[2:]
        elif line == "c=IN IP4 0.0.0.0":
            found = "inactive"
    return found
