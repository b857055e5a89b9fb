"""WebHook targets: the HTTP client that calls them, and the creation handshake (spec §8.2).

callscope POSTs to the address with a random ``Validation-Token`` header; the receiver must
answer 200 within 3 s echoing the same value in a ``Validation-Token`` response header, with
a response of at most 1024 bytes.

Every WebHook request — handshake and notification — goes through :class:`WebhookClient`,
which keeps the address policy of ``events/targets.py`` (public addresses only, unless
``events_webhook_allow_private``; never this server's own port):

* names are resolved by :class:`GuardedResolver`, which drops the addresses the policy
  refuses before aiohttp connects: the address checked is the address connected to, at
  every new connection (no window for DNS rebinding between check and use);
* an IP literal in the URL never reaches a resolver in aiohttp, so the client checks it
  itself, and refuses the legacy numeric forms (``127.1``, ``2130706433``) outright;
* redirects are never followed (a 3xx is an answer like any other), proxies from the
  environment are not used, and reply bodies are read up to a bound, not decompressed.

A refused address raises :class:`~callscope.errors.WebhookTargetRefused` before anything
is sent.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import socket
import urllib.parse
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from callscope.digits import is_digits
from callscope.errors import WebhookTargetRefused
from callscope.events.targets import Refusal, TargetPolicy, parse_ip

__all__ = [
    "HANDSHAKE_TIMEOUT_S",
    "MAX_HANDSHAKE_RESPONSE_BYTES",
    "USER_AGENT",
    "GuardedResolver",
    "WebhookClient",
    "check_address",
    "handshake",
    "origin_of",
    "read_at_most",
]

logger = logging.getLogger("callscope.events")

HANDSHAKE_TIMEOUT_S = 3.0
MAX_HANDSHAKE_RESPONSE_BYTES = 1024
USER_AGENT = "RingCentral-Webhook/8.3 (callscope)"


def check_address(address: object) -> str | None:
    """Why ``address`` cannot be a WebHook target, or None if it can (its form only: the
    addresses it leads to are checked when it is called)."""
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


def origin_of(address: str) -> str:
    """``scheme://host:port`` of a WebHook address, for logs: its path and query may carry
    the receiver's secrets."""
    with contextlib.suppress(ValueError):
        return str(URL(address).origin())
    return "(invalid address)"


def _refused(refusals: Sequence[Refusal], name: str) -> WebhookTargetRefused:
    detail = "; ".join(r.detail for r in refusals) or "no address"
    return WebhookTargetRefused(
        f"{name}: {detail}", own_server=bool(refusals) and all(r.own_server for r in refusals)
    )


class GuardedResolver(AbstractResolver):
    """A resolver that keeps only the addresses the policy allows.

    Wraps another resolver (aiohttp's default unless one is given) and raises
    :class:`WebhookTargetRefused` when nothing is left; aiohttp then carries that error as
    the ``os_error`` of a ``ClientConnectorError``.
    """

    def __init__(self, policy: TargetPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner

    def _resolver(self) -> AbstractResolver:
        if self._inner is None:
            self._inner = DefaultResolver()  # made in the running loop (ThreadedResolver)
        return self._inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        kept: list[ResolveResult] = []
        refusals: list[Refusal] = []
        for result in await self._resolver().resolve(host, port, family):
            ip = parse_ip(result["host"])
            refusal = (
                Refusal(f"{result['host']!r} is not an IP address")
                if ip is None
                else self.policy.refusal(ip, result["port"])
            )
            if refusal is None:
                kept.append(result)
            else:
                refusals.append(refusal)
        if not kept:
            raise _refused(refusals, host)
        if refusals and logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: skipped %s", host, "; ".join(r.detail for r in refusals))
        return kept

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


async def read_at_most(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the body, and whether more was left. A connection with a
    body left unread is closed, never reused."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(limit - size)
        if not chunk:
            return b"".join(parts), False
        parts.append(chunk)
        size += len(chunk)
    more = not response.content.at_eof()
    if more:
        response.close()
    return b"".join(parts), more


class WebhookClient:
    """The HTTP client of WebHook requests (see the module docstring for its rules).

    Args:
        policy: which addresses may be connected to.
        resolver: resolves names before the policy sees them (default: aiohttp's).
        limit: most connections at once (0: no limit).
        keepalive_timeout_s: how long an idle connection is kept for reuse.
        trace_configs: aiohttp request tracing.
    """

    def __init__(
        self,
        policy: TargetPolicy,
        *,
        resolver: AbstractResolver | None = None,
        limit: int = 100,
        keepalive_timeout_s: float = 15.0,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self.policy = policy
        self._resolver = resolver
        self._limit = limit
        self._keepalive_timeout_s = keepalive_timeout_s
        self._trace_configs = list(trace_configs)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session, made on first use (in the running loop)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                keepalive_timeout=self._keepalive_timeout_s,
                resolver=GuardedResolver(self.policy, self._resolver),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                trace_configs=self._trace_configs,
                auto_decompress=False,  # the reply is only checked, never used: no bombs
                trust_env=False,  # no HTTP(S)_PROXY: the checked address is the one reached
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def check_literal(self, address: str) -> None:
        """Refuse an address whose host is an IP literal the policy does not allow.

        aiohttp connects to what it takes for an IP literal without asking the resolver
        (``aiohttp.helpers.is_ip_address``: a colon, or only digits and dots), so every such
        host is checked here; one that is not a canonical address is refused.

        Raises:
            WebhookTargetRefused: the literal is refused.
        """
        url = URL(address)
        host = url.raw_host or ""
        ip = parse_ip(host)
        if ip is None:
            if ":" in host or is_digits(host.replace(".", "")):
                raise WebhookTargetRefused(f"{host}: not a canonical IP address")
            return  # a name: the resolver checks what it resolves to
        refusal = self.policy.refusal(ip, url.port or 0)
        if refusal is not None:
            raise WebhookTargetRefused(refusal.detail, own_server=refusal.own_server)

    @contextlib.asynccontextmanager
    async def post(
        self,
        address: str,
        *,
        data: bytes,
        headers: Mapping[str, str],
        timeout_s: float,
        trace_request_ctx: Any = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """POST without following redirects; the response is released on exit.

        Raises:
            WebhookTargetRefused: the address is refused; nothing was sent.
            aiohttp.ClientError, OSError, TimeoutError: the request failed.
        """
        self.check_literal(address)
        try:
            response = await self.session.post(
                address,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                allow_redirects=False,
                trace_request_ctx=trace_request_ctx,
            )
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, WebhookTargetRefused):
                raise exc.os_error from exc
            raise
        try:
            yield response
        finally:
            response.release()


async def handshake(
    client: WebhookClient, address: str, timeout_s: float = HANDSHAKE_TIMEOUT_S
) -> str | None:
    """Run the Validation-Token handshake. Returns None on success, else why it failed —
    for the server log: the API caller must not learn it (it would map the network).

    Raises:
        WebhookTargetRefused: the address is refused; nothing was sent.
    """
    token = secrets.token_urlsafe(24)
    try:
        async with client.post(
            address,
            headers={
                "Validation-Token": token,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
            data=b"",
            timeout_s=timeout_s,
        ) as r:
            body, _ = await read_at_most(r, MAX_HANDSHAKE_RESPONSE_BYTES + 1)
            if r.status != 200:
                return f"the target answered HTTP {r.status}, not 200"
            echoed = r.headers.get("Validation-Token", "")
            if not hmac.compare_digest(echoed.encode(), token.encode()):
                return "the target did not echo the Validation-Token header"
            size = len(body) + sum(len(k) + len(v) + 4 for k, v in r.raw_headers)
            if size > MAX_HANDSHAKE_RESPONSE_BYTES:
                return f"the target's response is {size}+ bytes (at most 1024)"
            return None
    except WebhookTargetRefused:
        raise
    except TimeoutError:
        return f"the target did not answer within {timeout_s:g} s"
    except (aiohttp.ClientError, OSError) as exc:
        return f"the target could not be reached: {type(exc).__name__}: {exc}"
