"""RTP pacing toward a SIP phone, sans-I/O: a small jitter buffer emptied on a 20 ms clock.

The call's audio reaches the server in bursts (a block of frames at a time, as the call's
transport and the event loop deliver it); a phone expects one packet every 20 ms (RFC 3551
§4.5.14, ``a=ptime:20``). :class:`RtpPacer` takes frames as they arrive (:meth:`push`) and gives
one RTP packet per :meth:`tick` of the node's clock, its sequence number one higher and its
timestamp 160 samples later than the last packet's (RFC 3550 §5.1).

* **Start**: packets begin once ``prefill_packets`` frames are buffered (the cushion that
  absorbs arrival jitter), and again after an underrun or a hold.
* **Underrun** (nothing buffered at a tick): no packet, and the stream pauses until the
  cushion is full again; sequence numbers and timestamps go on from where they were (no audio
  is lost or invented: the phone's jitter buffer sees a late packet, as it would from any
  network).
* **Drain**: input and output run at the same rate, so a burst would leave the buffer (and
  the latency) high for the rest of the call. When for ``drain_ticks`` ticks in a row the
  buffer held more than the cushion before each packet, one tick sends two packets (the
  next one early, as network jitter would deliver it): latency returns to the cushion and
  no audio is lost.
* **Overrun** (``depth_packets`` buffered and another arrives, a burst the drain could not
  absorb): the oldest is dropped (stale audio is worth less than latency). The input comes
  in blocks (pairs of frames from the call transport) and a loaded event loop delivers
  several at once, so the bound holds the cushion and half a second of late blocks: 2 and
  25 (500 ms) by default (a bound of 160 ms lost a tenth of the audio on a loaded 2-core
  machine); the drain brings the latency back to the cushion within a few seconds.
* **Hold**: a tick while held sends nothing, empties the buffer and advances the timestamp
  (the hold's time passes on the stream's clock); the first packet after it carries the
  marker bit (a new talkspurt, RFC 3551 §4.1).

Times are the caller's ``time.monotonic()`` seconds; nothing here sleeps or sends.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

import numpy as np

from callscope.sip.media import PACKET_SAMPLES, Codec, rtp_packet

__all__ = ["PACKET_S", "PacedPacket", "RtpPacer"]

#: the packet time callscope offers (``a=ptime:20``)
PACKET_S: Final = 0.020


@dataclass(frozen=True, slots=True)
class PacedPacket:
    """An RTP packet to send now, and when its audio reached the server."""

    data: bytes
    arrived: float


class RtpPacer:
    """One call's outgoing RTP stream: sequence, timestamp and SSRC, and its jitter buffer."""

    def __init__(
        self,
        *,
        codec: Codec,
        ssrc: int,
        sequence: int,
        timestamp: int,
        depth_packets: int = 25,
        prefill_packets: int = 2,
        drain_ticks: int = 10,
    ) -> None:
        if drain_ticks < 1:
            raise ValueError(f"drain_ticks {drain_ticks}: must be ≥ 1")
        if not 1 <= prefill_packets <= depth_packets:
            raise ValueError(
                f"prefill_packets {prefill_packets}, depth_packets {depth_packets}: "
                "need 1 ≤ prefill_packets ≤ depth_packets"
            )
        self.codec = codec
        self.ssrc = ssrc
        self.sequence = sequence & 0xFFFF
        self.timestamp = timestamp & 0xFFFFFFFF
        self.depth_packets = depth_packets
        self.prefill_packets = prefill_packets
        self.drain_ticks = drain_ticks
        #: the fewest frames buffered before a packet, over the ticks since the last drain
        self._low = depth_packets
        self._low_ticks = 0
        self._buffer: deque[tuple[bytes, float]] = deque()
        self._playing = False
        self._marker = True
        #: packets sent, ticks with nothing to send while playing, frames dropped as stale
        self.sent = 0
        self.underruns = 0
        self.dropped = 0
        self.drained = 0

    @property
    def buffered(self) -> int:
        """Frames waiting for a tick."""
        return len(self._buffer)

    def push(self, pcm: bytes, arrived: float) -> None:
        """A 20 ms frame of 16-bit PCM (8 kHz) arrived; a full buffer loses its oldest."""
        if len(self._buffer) >= self.depth_packets:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append((pcm, arrived))

    def tick(self, *, held: bool = False) -> list[PacedPacket]:
        """The clock's 20 ms tick: the packets to send now. One, or none (filling the
        cushion, underrun, held), or two when the buffer drains (see the module docstring)."""
        if held:
            self._buffer.clear()
            self._playing = False
            self._marker = True
            self._low, self._low_ticks = self.depth_packets, 0
            self.timestamp = (self.timestamp + PACKET_SAMPLES) & 0xFFFFFFFF
            return []
        if not self._playing:
            if len(self._buffer) < self.prefill_packets:
                return []
            self._playing = True
        if not self._buffer:  # underrun: pause until the cushion is full again
            self.underruns += 1
            self._playing = False
            self._low, self._low_ticks = self.depth_packets, 0
            return []
        self._low = min(self._low, len(self._buffer))
        self._low_ticks += 1
        packets = [self._next()]
        if self._low_ticks >= self.drain_ticks:
            if self._low > self.prefill_packets and self._buffer:
                packets.append(self._next())
                self.drained += 1
            self._low, self._low_ticks = self.depth_packets, 0
        return packets

    def _next(self) -> PacedPacket:
        pcm, arrived = self._buffer.popleft()
        payload = self.codec.encode(np.frombuffer(pcm, dtype="<i2"))
        data = rtp_packet(
            self.codec.payload_type,
            self.sequence,
            self.timestamp,
            self.ssrc,
            payload,
            marker=self._marker,
        )
        self._marker = False
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + PACKET_SAMPLES) & 0xFFFFFFFF
        self.sent += 1
        return PacedPacket(data, arrived)
