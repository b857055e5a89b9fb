"""One notification on its way out: the WebHook ``POST`` (:class:`WebhookSender`), the backoff
between attempts, and the stop signal that cuts a sender's waits and requests short.

How and when they are used is told in :mod:`callscope.events.delivery`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import orjson

from callscope.calls.views import iso
from callscope.errors import WebhookTargetRefused
from callscope.events.targets import TargetPolicy
from callscope.events.webhook import USER_AGENT, WebhookClient, read_at_most
from callscope.metrics import Counter
from callscope.store.models import Subscription
from callscope.store.repo import utcnow

__all__ = [
    "MAX_REPLY_BYTES",
    "StopSignal",
    "Stopped",
    "WebhookSender",
    "backoff_s",
    "notification",
]

_T = TypeVar("_T")

#: most bytes of a WebHook reply read: the reply is not used, and a connection with more
#: left is closed rather than drained
MAX_REPLY_BYTES = 64 * 1024


def notification(env: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The envelope as sent: ``timestamp`` is the time of sending (spec §9.1)."""
    return {
        "uuid": env["uuid"],
        "event": env["event"],
        "timestamp": iso(at),
        "subscriptionId": env["subscriptionId"],
        "ownerId": env["ownerId"],
        "body": env["body"],
    }


async def _mark_reused(
    _session: aiohttp.ClientSession, ctx: Any, _params: aiohttp.TraceConnectionReuseconnParams
) -> None:
    if isinstance(ctx.trace_request_ctx, dict):
        ctx.trace_request_ctx["reused"] = True


class Stopped(Exception):
    """The subscription was stopped (deleted, expired, blacklisted): send nothing more."""


@dataclass(slots=True)
class StopSignal:
    """A sender's stop signal; its waits and requests end as soon as it is set."""

    event: asyncio.Event = field(default_factory=asyncio.Event)

    def check(self) -> None:
        if self.event.is_set():
            raise Stopped

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or raise :class:`Stopped` as soon as the signal is set."""
        if seconds > 0 and not self.event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), seconds)
        self.check()

    async def run(self, aw: Awaitable[_T]) -> _T:
        """``aw``'s result, unless the signal is set first: then ``aw`` is cancelled (a
        request under way has its connection closed) and :class:`Stopped` raised."""
        self.check()
        task = asyncio.ensure_future(aw)
        stop = asyncio.ensure_future(self.event.wait())
        try:
            await asyncio.wait((task, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait((task,))
        if task.cancelled():
            raise Stopped
        return task.result()


def backoff_s(attempts: int, initial_s: float, max_s: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random."""
    delay: float = min(max_s, initial_s * 2 ** min(attempts - 1, 30))
    return delay / 2 + random.uniform(0, delay / 2)


class WebhookSender:
    """POSTs notifications to WebHook targets through one :class:`WebhookClient` (kept-alive
    connections, each new one to an address ``targets`` allows), counting every attempt."""

    def __init__(
        self,
        targets: TargetPolicy,
        *,
        timeout_s: float,
        accept_no_reply: bool,
        deliveries_total: Counter,
    ) -> None:
        self.targets = targets
        self.timeout_s = timeout_s
        #: a target that reads a notification and closes without answering delivered it
        self.accept_no_reply = accept_no_reply
        self.deliveries_total = deliveries_total
        self._http: WebhookClient | None = None

    def start(self) -> None:
        trace = aiohttp.TraceConfig()
        trace.on_connection_reuseconn.append(_mark_reused)
        self._http = WebhookClient(
            self.targets, limit=0, keepalive_timeout_s=4.0, trace_configs=[trace]
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def send(self, sub: Subscription, env: dict[str, Any]) -> str | None:
        """POST the envelope, stamped with the time of sending; None when delivered, else
        why not (for the log and the retry)."""
        return await self.post(sub, notification(env, utcnow()))

    async def post(self, sub: Subscription, body: dict[str, Any]) -> str | None:
        """None when delivered, else why not."""
        assert self._http is not None
        assert sub.address is not None
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if sub.verification_token:
            headers["Verification-Token"] = sub.verification_token
        result = "failed"
        data = orjson.dumps(body)
        try:
            for _ in range(2):
                ctx: dict[str, bool] = {"reused": False}
                try:
                    async with self._http.post(
                        sub.address,
                        data=data,
                        headers=headers,
                        timeout_s=self.timeout_s,
                        trace_request_ctx=ctx,
                    ) as r:
                        await read_at_most(r, MAX_REPLY_BYTES)
                        if 200 <= r.status < 300:
                            result = "delivered"
                            return None
                        return f"HTTP {r.status}"
                except aiohttp.ServerDisconnectedError:
                    if ctx["reused"]:
                        continue  # a kept-alive connection the target had closed: once more
                    # a new connection, closed without a status line: the vendor's sample
                    # receiver does that for every notification, and so does a receiver that
                    # crashed on it; only the operator can say which to expect
                    if self.accept_no_reply:
                        result = "delivered"
                        return None
                    return "the target closed the connection without an answer"
            return "the target closed the connection twice"
        except asyncio.CancelledError:
            result = "stopped"  # the subscription was stopped while it was under way
            raise
        except WebhookTargetRefused as exc:
            return f"refused: {exc.detail}"
        except TimeoutError:
            return f"no answer within {self.timeout_s:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            return f"unreachable ({type(exc).__name__})"
        finally:
            self.deliveries_total.inc(transport="WebHook", result=result)
