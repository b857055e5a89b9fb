"""WebSocket framing for the client side (RFC 6455 §5), sans-I/O.

The simulator writes its own frames because it must be cheap enough to drive hundreds of
calls from one core: a frame is one header plus an XOR done on a Python integer.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "Frame",
    "FrameReader",
    "accept_key",
    "encode_close",
    "encode_frame",
]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value the server must answer for ``key`` (§4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()  # noqa: S324 - fixed by RFC 6455


def _mask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if n == 0:
        return payload
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(
        n, "little"
    )


def encode_frame(opcode: int, payload: bytes, *, mask_key: bytes | None = None) -> bytes:
    """One final, masked client frame (clients must mask, §5.3)."""
    key = os.urandom(4) if mask_key is None else mask_key
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + key + _mask(payload, key)


def encode_close(code: int, reason: str = "") -> bytes:
    return encode_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:123])


@dataclass(frozen=True, slots=True)
class Frame:
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> str:
        return self.payload[2:].decode("utf-8", "replace")


class FrameReader:
    """Parses server frames (unmasked) from a byte stream; fragments are reassembled."""

    def __init__(self, *, max_payload: int = 1 << 20) -> None:
        self._buf = bytearray()
        self._max = max_payload
        self._fragments: list[bytes] = []
        self._fragment_op = 0

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        out: list[Frame] = []
        while True:
            frame = self._next()
            if frame is None:
                return out
            out.append(frame)

    def _next(self) -> Frame | None:
        while True:
            buf = self._buf
            if len(buf) < 2:
                return None
            fin, op = buf[0] & 0x80, buf[0] & 0x0F
            masked, n = buf[1] & 0x80, buf[1] & 0x7F
            pos = 2
            if n == 126:
                if len(buf) < 4:
                    return None
                n = struct.unpack("!H", buf[2:4])[0]
                pos = 4
            elif n == 127:
                if len(buf) < 10:
                    return None
                n = struct.unpack("!Q", buf[2:10])[0]
                pos = 10
            if n > self._max:
                raise ValueError(f"server frame of {n} bytes exceeds {self._max}")
            key = b""
            if masked:
                key = bytes(buf[pos : pos + 4])
                pos += 4
            if len(buf) < pos + n:
                return None
            payload = bytes(buf[pos : pos + n])
            del buf[: pos + n]
            if masked:
                payload = _mask(payload, key)
            if op >= 0x8:  # control frames are never fragmented
                return Frame(op, payload)
            if op != OP_CONT:
                self._fragment_op = op
            self._fragments.append(payload)
            if fin:
                whole = b"".join(self._fragments)
                self._fragments.clear()
                return Frame(self._fragment_op, whole)
