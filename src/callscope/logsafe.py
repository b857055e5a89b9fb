"""Text from a stream or a client made safe to log.

A log line is trusted by whoever reads it: a RingCX ``callId`` of
``"x\\n2026-01-01 ERROR forged"`` must not forge a second line, and ``"\\x1b[2J"`` must not
clear the terminal of an operator tailing the log. :func:`clean` escapes every control
character (C0, DEL, C1), the Unicode line and paragraph separators and the bidirectional
overrides ("Trojan Source", CVE-2021-42574) the way ``repr`` would (``\\n``, ``\\x1b``,
``\\u2028``) and truncates long values. Backslashes are left alone: the aim is one line per
record and an inert terminal, not a reversible encoding.

Use it on every value a sender chooses (call ids, agent ids, reasons, numbers, paths,
close reasons) at the log call, not on the values stored: the database keeps what was sent.
"""

from __future__ import annotations

__all__ = ["clean"]

#: C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings, overrides
#: and isolates (U+202A-U+202E, U+2066-U+2069) and the other bidi marks
_UNSAFE = [
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
_ESCAPES = {c: _NAMED.get(c) or (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}


def clean(value: object, limit: int = 120) -> str:
    """``value`` as one inert line of at most ``limit`` characters before escaping.

    Args:
        value: any value; not a string: its ``str()``.
        limit: characters kept; a longer value is cut and ends with ``…``.

    Returns:
        The text with control characters escaped (``\\n``, ``\\x1b``, ``\\u2028``).
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        return text[:limit].translate(_ESCAPES) + "…"
    return text.translate(_ESCAPES)
