"""The wire between the server and a transcription worker: length-prefixed frames on a Unix
socket pair.

A frame is ``<u32 length><u8 kind><payload>``; ``length`` counts the kind byte and the
payload. Control frames carry JSON; ``AUDIO`` carries ``<u32 stream><f64 arrived_at>``
followed by little-endian int16 samples, the stream's channels interleaved.
"""

from __future__ import annotations

import socket
import struct
from enum import IntEnum
from typing import Any

import orjson

__all__ = ["AUDIO_HEADER", "Kind", "audio_frame", "frame", "json_frame", "read_frame"]

_LEN = struct.Struct("<IB")
AUDIO_HEADER = struct.Struct("<Id")
#: a frame larger than this is a protocol error (an AUDIO frame holds ≤ a few seconds)
MAX_FRAME_BYTES = 16 << 20


class Kind(IntEnum):
    # server → worker
    OPEN = 1  # {"stream", "speakers", "offsetMs"}
    AUDIO = 2
    CLOSE = 3  # {"stream"}
    STOP = 4  # decode what is queued, then exit
    # worker → server
    READY = 10  # {"engine", "pid"}
    RESULT = 11  # Result.as_dict()
    DONE = 12  # {"stream"}
    STATS = 13
    FAILED = 14  # {"error"}: the worker cannot run (engine or model missing)


def frame(kind: Kind, payload: bytes = b"") -> bytes:
    return _LEN.pack(len(payload) + 1, kind) + payload


def json_frame(kind: Kind, body: dict[str, Any]) -> bytes:
    return frame(kind, orjson.dumps(body))


def audio_frame(stream: int, arrived_at: float, pcm: bytes) -> bytes:
    return frame(Kind.AUDIO, AUDIO_HEADER.pack(stream, arrived_at) + pcm)


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            return None
        got += k
    return bytes(buf)


def read_frame(sock: socket.socket) -> tuple[Kind, bytes] | None:
    """One frame from a blocking socket; None at end of stream."""
    head = _recv_exactly(sock, _LEN.size)
    if head is None:
        return None
    length, kind = _LEN.unpack(head)
    if not 1 <= length <= MAX_FRAME_BYTES:
        raise ValueError(f"frame of {length} bytes")
    payload = _recv_exactly(sock, length - 1) if length > 1 else b""
    if payload is None:
        return None
    return Kind(kind), payload


def split_header(data: bytes) -> tuple[int, int]:
    """(length, kind) of a frame header read by an asyncio reader."""
    length, kind = _LEN.unpack(data)
    if not 1 <= length <= MAX_FRAME_BYTES:
        raise ValueError(f"frame of {length} bytes")
    return int(length), int(kind)


HEADER_SIZE = _LEN.size
