"""WebHook targets: the creation handshake (spec §8.2).

callscope POSTs to the address with a random ``Validation-Token`` header; the receiver must
answer 200 within 3 s echoing the same value in a ``Validation-Token`` response header, with
a response of at most 1024 bytes. Plain ``http://localhost`` targets are allowed.
"""

from __future__ import annotations

import hmac
import secrets
import urllib.parse

import aiohttp

__all__ = ["HANDSHAKE_TIMEOUT_S", "USER_AGENT", "check_address", "handshake"]

HANDSHAKE_TIMEOUT_S = 3.0
MAX_HANDSHAKE_RESPONSE_BYTES = 1024
USER_AGENT = "RingCentral-Webhook/8.3 (callscope)"


def check_address(address: object) -> str | None:
    """Why ``address`` cannot be a WebHook target, or None if it can."""
    if not isinstance(address, str) or not address:
        return "deliveryMode.address is required for WebHook"
    if len(address) > 2048:
        return "deliveryMode.address is longer than 2048 characters"
    url = urllib.parse.urlsplit(address)
    if url.scheme not in ("http", "https") or not url.hostname:
        return "deliveryMode.address must be an http(s) URL"
    if url.username or url.password:
        return "deliveryMode.address must not carry credentials"
    return None


async def handshake(
    session: aiohttp.ClientSession, address: str, timeout_s: float = HANDSHAKE_TIMEOUT_S
) -> str | None:
    """Run the Validation-Token handshake. Returns None on success, else why it failed."""
    token = secrets.token_urlsafe(24)
    try:
        async with session.post(
            address,
            headers={
                "Validation-Token": token,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
            data=b"",
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,
        ) as r:
            body = await r.content.read(MAX_HANDSHAKE_RESPONSE_BYTES + 1)
            if r.status != 200:
                return f"the target answered HTTP {r.status}, not 200"
            echoed = r.headers.get("Validation-Token", "")
            if not hmac.compare_digest(echoed.encode(), token.encode()):
                return "the target did not echo the Validation-Token header"
            size = len(body) + sum(len(k) + len(v) + 4 for k, v in r.raw_headers)
            if size > MAX_HANDSHAKE_RESPONSE_BYTES:
                return f"the target's response is {size} bytes (at most 1024)"
            return None
    except TimeoutError:
        return f"the target did not answer within {timeout_s:g} s"
    except (aiohttp.ClientError, OSError) as exc:
        return f"the target could not be reached: {type(exc).__name__}"
