"""The web-phone audio frame: an 8-byte header and 20 ms of 8 kHz PCM16, pure.

Both directions use one binary layout (little-endian)::

    offset size field
    0      1    kind     1 = call audio to the device, 2 = microphone audio from the device
    1      1    channel  kind 1: 0 both parties mixed, 1 agent, 2 customer; kind 2: 0
    2      2    stream   kind 1: the stream announced by StreamStarted; kind 2: 0 = every
                         call this device is coaching or barging into, else that stream's call
    4      4    frame    kind 1: 20 ms frame number since the call started; kind 2: any counter
    8      …    PCM      signed 16-bit little-endian mono samples at 8000 Hz; kind 1 always
                         160 samples (20 ms); kind 2 a whole number of 20 ms frames, ≤ 100 ms
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "CHANNEL_AGENT",
    "CHANNEL_CUSTOMER",
    "CHANNEL_MIXED",
    "FRAME_BYTES",
    "HEADER",
    "KIND_LISTEN",
    "KIND_MIC",
    "MAX_MIC_BYTES",
    "MicFrame",
    "channel_pcm",
    "parse_mic",
]

HEADER: Final = struct.Struct("<BBHI")
KIND_LISTEN: Final = 1
KIND_MIC: Final = 2
CHANNEL_MIXED, CHANNEL_AGENT, CHANNEL_CUSTOMER = 0, 1, 2
FRAME_BYTES: Final = 320  # 20 ms of 8 kHz PCM16
MAX_MIC_BYTES: Final = 5 * FRAME_BYTES


@dataclass(frozen=True, slots=True)
class MicFrame:
    stream: int
    pcm: bytes

    @property
    def frames(self) -> int:
        return len(self.pcm) // FRAME_BYTES


def parse_mic(data: bytes) -> MicFrame:
    """A microphone frame from a device.

    Raises:
        ValueError: not a kind-2 frame of whole 20 ms PCM16 frames (the message says why).
    """
    if len(data) < HEADER.size:
        raise ValueError(f"frame of {len(data)} bytes is shorter than the 8-byte header")
    kind, _channel, stream, _n = HEADER.unpack_from(data)
    if kind != KIND_MIC:
        raise ValueError(f"kind {kind}: a device sends kind 2 (microphone) frames only")
    pcm = data[HEADER.size :]
    if not pcm or len(pcm) % FRAME_BYTES or len(pcm) > MAX_MIC_BYTES:
        raise ValueError(
            f"{len(pcm)} bytes of audio: send 1 to 5 whole 20 ms frames of 8 kHz PCM16 "
            f"({FRAME_BYTES} bytes each)"
        )
    return MicFrame(stream, pcm)


def channel_pcm(interleaved: npt.NDArray[np.int16], channel: int) -> bytes:
    """One channel of a call's stereo block (agent, customer) or both mixed (summed, clipped)."""
    if channel == CHANNEL_AGENT:
        return interleaved[0::2].tobytes()
    if channel == CHANNEL_CUSTOMER:
        return interleaved[1::2].tobytes()
    mixed = interleaved[0::2].astype(np.int32) + interleaved[1::2]
    out: bytes = np.clip(mixed, -32768, 32767).astype("<i2").tobytes()
    return out
