"""The ``pack`` message of the cluster bus, pure: several (kind, payload) messages to one
channel published as one, each inner message ``kind\npayload`` after its 4-byte length
(see :mod:`callscope.cluster.node`)."""

from __future__ import annotations

__all__ = ["PACK", "PACK_BYTES", "pack", "unpack"]

#: several messages to one channel, published as one
PACK = b"pack"
#: at most this many bytes of messages in one pack
PACK_BYTES = 256 * 1024


def pack(messages: list[tuple[bytes, bytes]]) -> bytes:
    """(kind, payload) pairs as one ``pack`` payload."""
    out = bytearray()
    for kind, payload in messages:
        out += (len(kind) + 1 + len(payload)).to_bytes(4, "big")
        out += kind + b"\n" + payload
    return bytes(out)


def unpack(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (kind, payload) pairs of a ``pack`` payload. Raises ValueError if it is cut."""
    out: list[tuple[bytes, bytes]] = []
    view, at = memoryview(data), 0
    while at < len(data):
        if at + 4 > len(data):
            raise ValueError("pack: truncated length")
        n = int.from_bytes(view[at : at + 4], "big")
        at += 4
        if at + n > len(data):
            raise ValueError("pack: truncated message")
        kind, _, payload = bytes(view[at : at + n]).partition(b"\n")
        out.append((kind, payload))
        at += n
    return out
