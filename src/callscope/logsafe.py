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

:func:`redacted_url` is the other half: a configured URL (database, Redis, LLM endpoint)
shown in a message, a log line or ``callscope settings`` without its password.
"""

from __future__ import annotations

from urllib.parse import unquote

__all__ = ["CREDENTIAL_PARAMS", "clean", "redacted_url"]

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


#: query parameters that carry credentials (libpq, asyncpg, redis-py, OAuth, API gateways,
#: callscope's own ``access_token`` and ``secret``), compared in lower case: never shown back
CREDENTIAL_PARAMS = frozenset(
    {"password", "passwd", "pwd", "pass", "sslpassword", "secret", "client_secret", "token",
     "access_token", "refresh_token", "ws_access_token", "jwt", "assertion", "api_key",
     "apikey", "key"}
)  # fmt: skip


def redacted_url(url: str) -> str:
    """``url`` without its password: ``postgresql+asyncpg://u:***@h/db``, ``redis://:***@h``.

    The user name and host stay (they say which server is meant); the password of the
    userinfo and the value of a credential query parameter (``?password=``) become ``***``.
    The userinfo ends at the last ``@``, as SQLAlchemy reads it: an unescaped ``/`` or ``?``
    in a password is masked too.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    cred, at, after = rest.rpartition("@")
    if at:
        user, colon, _ = cred.partition(":")
        head = f"{scheme}://{user}{':***' if colon else ''}@"
    else:
        head, after = f"{scheme}://", rest
    base, q, query = after.partition("?")
    if q:
        query, hash_, fragment = query.partition("#")
        query = "&".join(_masked_param(p) for p in query.split("&")) + hash_ + fragment
    return head + base + q + query


def _masked_param(param: str) -> str:
    name, eq, _ = param.partition("=")
    return f"{name}=***" if eq and unquote(name).lower() in CREDENTIAL_PARAMS else param
