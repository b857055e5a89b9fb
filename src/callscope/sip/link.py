"""A registered SIP phone as a supervisor device, and its calls' RTP (the asyncio side).

The supervision shell treats it as it treats a web phone (``DeviceLink``): control messages
and listen frames go to it. The link turns them into SIP: each ``StreamStarted`` makes the
agent INVITE the phone (one SIP call per stream, as a web phone gets one stream per
supervise request), which carries that stream as G.711 in 20 ms RTP packets (paced by the
node's clock, ``callscope.sip.clock``); its
``StreamEnded`` hangs that call up. What the phone sends back on a call is its microphone into
that call's supervision (Coach/Barge) and RFC 4733 digits (4 listen, 5 coach, 6 barge) for it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from callscope.sip.media import Answer, dtmf_event, parse_rtp
from callscope.sip.pacing import RtpPacer
from callscope.supervision.links import DeviceLink
from callscope.supervision.webphone import FRAME_BYTES, MicFrame, parse_listen

if TYPE_CHECKING:
    from callscope.store.models import Device, Extension

__all__ = ["RtpEndpoint", "SipCall", "SipDeviceLink"]

logger = logging.getLogger("callscope.sip")


@dataclass(eq=False)
class SipCall:
    """callscope's call to the phone (one dialog)."""

    call_id: str
    local_tag: str
    branch: str
    invite: bytes
    stream: int
    cseq: int = 1
    remote_tag: str = ""
    answered: bool = False
    ended: bool = False
    answer: Answer | None = None
    rtp: RtpEndpoint | None = None
    retransmit: asyncio.TimerHandle | None = None
    #: the outgoing RTP stream once answered (paced by the node's clock, callscope.sip.clock)
    pacer: RtpPacer | None = None
    #: the SDP session id of callscope's offer, and the version of its latest SDP
    sdp_session: int = field(default_factory=lambda: secrets.randbits(31))
    sdp_version: int = 1
    #: the phone holds (its re-INVITE said sendonly or inactive): no audio is sent to it
    held: bool = False


class RtpEndpoint(asyncio.DatagramProtocol):
    """One call's RTP socket: audio out, the phone's microphone and digits in."""

    def __init__(
        self,
        on_audio: Callable[[bytes], None],
        on_digit: Callable[[str], None],
    ) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self.answer: Answer | None = None
        #: the address the phone registered from (its RTP may come from there)
        self.phone_host = ""
        self.on_audio = on_audio
        self.on_digit = on_digit
        self._pending = b""
        self._last_event: int | None = None
        self.bad_packets = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.DatagramTransport", transport)  # uvloop's is no subclass

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        answer = self.answer
        if answer is None or addr[0] not in (answer.host, self.phone_host):
            return  # only the phone that answered is heard
        try:
            packet = parse_rtp(data)
        except ValueError:
            self.bad_packets += 1
            return
        if packet.payload_type == answer.codec.payload_type:
            self._pending += answer.codec.decode(packet.payload).astype("<i2").tobytes()
            whole = len(self._pending) - len(self._pending) % FRAME_BYTES
            if whole:
                self.on_audio(self._pending[:whole])
                self._pending = self._pending[whole:]
        elif packet.payload_type == answer.dtmf_pt:
            self._digit(packet.timestamp, packet.payload)

    def _digit(self, timestamp: int, payload: bytes) -> None:
        try:
            event, end = dtmf_event(payload)
        except ValueError:
            self.bad_packets += 1
            return
        if end and timestamp != self._last_event and event <= 9:
            self._last_event = timestamp  # the end packet is sent three times
            self.on_digit(str(event))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class SipDeviceLink(DeviceLink):
    """A registered SIP phone supervising calls."""

    def __init__(
        self,
        device: Device,
        owner: Extension,
        *,
        contact: tuple[str, int],
        contact_uri: str,
        invite: Callable[[SipDeviceLink, dict[str, Any]], None],
        hang_up: Callable[[SipDeviceLink, SipCall], None],
    ) -> None:
        super().__init__(device, owner, None, queue_frames=1)
        self.contact = contact
        self.contact_uri = contact_uri
        self.expires: asyncio.TimerHandle | None = None
        self.streams: dict[int, dict[str, Any]] = {}
        #: one SIP call (dialog) per supervision stream, by stream id
        self.calls: dict[int, SipCall] = {}
        self._invite = invite
        self._hang_up = hang_up

    def start(self) -> None:
        """Nothing runs per device: the node's RTP clock sends every call's packets."""

    async def stop(self) -> None:
        self.online = False
        if self.expires is not None:
            self.expires.cancel()
        for call in list(self.calls.values()):
            self._hang_up(self, call)

    def send_json(self, message: dict[str, Any]) -> None:
        if not self.online:
            return
        kind = message.get("type")
        if kind == "StreamStarted":
            stream = int(message["stream"])
            self.streams[stream] = message
            if stream not in self.calls:
                self._invite(self, message)  # each stream rings the phone on a line of its own
        elif kind == "StreamEnded":
            stream = int(message["stream"])
            self.streams.pop(stream, None)
            call = self.calls.get(stream)
            if call is not None:
                self._hang_up(self, call)

    def send_audio(self, frame: bytes, arrived: float) -> None:
        """Into the jitter buffer of the frame's call; the node's RTP clock sends it."""
        if not self.calls:
            return
        listen = parse_listen(frame)
        call = self.calls.get(listen.stream)
        if call is None or call.pacer is None or call.held or call.ended:
            return
        call.pacer.push(listen.pcm, arrived)


def mic_frames(pcm: bytes, stream: int) -> list[MicFrame]:
    """The phone's microphone on the call of ``stream`` as web-phone microphone frames
    (≤ 5 × 20 ms each, to that stream's call only)."""
    step = 5 * FRAME_BYTES
    return [MicFrame(stream, pcm[i : i + step]) for i in range(0, len(pcm), step)]
