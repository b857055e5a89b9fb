"""RingCX stream ingest over WebSocket: the thin adapter around the sans-I/O receiver.

Every stream proves a streaming profile's secret (callscope.ingest.auth): a one-way RingCX
stream at the upgrade (401 no secret, 403 a wrong one or a claim its profile does not hold,
429 an address held back after failures; RingCX does not retry a 4xx), a two-way stream at
the upgrade when it sends the secret as a header, else at its ``start`` (closed 1008). What
the upgrade query and the Start say must agree and name the profile; the call is stored
under the profile's account. Nothing is stored for a refused stream. Secrets are compared as
keyed hashes and never logged (the access log omits query strings).

Limits: at most ``ingest_max_connections_per_ip`` open streams per client address (503 with
``Retry-After`` beyond: a platform at its limit retries a 5xx), and a stream that has not
sent its Start within ``ingest_start_deadline_s`` is closed. While the server drains
(callscope.lifecycle) every new stream gets 503 with ``Retry-After``, before its secret is
checked.

Keepalive: every stream is pinged each ``ingest_ping_interval_s`` (the ingest sweeper's
timer), so that a proxy does not cut a one-way stream for carrying nothing towards the
client; a ping left unanswered ends nothing.
A node cut off from its cluster (fenced: :mod:`callscope.cluster.node`) answers every new
stream 503 until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Mapping

from aiohttp import WSCloseCode, WSMsgType, web

from callscope.api.errors import ApiError
from callscope.errors import IngestRefused, StreamRefused
from callscope.ingest import IngestService, LiveCall, UpgradeParams
from callscope.ingest.auth import IngestAuth, ProfileView, StreamGrant
from callscope.ingest.fastpath import in_order_media
from callscope.ingest.service import Talkback, start_values
from callscope.protocols.ringcx import Media, Start, Stop
from callscope.protocols.twilio import Transfer, TwilioReceiver
from callscope.store.models import CallStatus

__all__ = ["INGEST_PATHS", "TWO_WAY_PATH", "IngestHandler", "presented_secret"]

logger = logging.getLogger("callscope.ingest")

#: RingCX connects to the profile's bare ``wss://host[:port]``, i.e. path ``/``; the explicit
#: path is for everything else (simulator, proxies).
INGEST_PATHS = ("/", "/ringcx/stream")
#: the two-way call stream (Twilio Media Streams message set, callscope.protocols.twilio)
TWO_WAY_PATH = "/twilio/stream"
#: a draining server's answer to new streams: try again this many seconds later (another
#: node, or this one restarted)
DRAIN_RETRY_AFTER_S = 5
#: a keepalive ping that cannot be written within this long is dropped (a peer that reads
#: nothing); the idle timeout and the close handshake deal with the stream itself
PING_WRITE_TIMEOUT_S = 5.0


def presented_secret(request: web.Request) -> str | None:
    """The stream secret of an upgrade: ``X-Streaming-Secret``, ``Authorization: Bearer``,
    or (discouraged) the ``secret`` query parameter."""
    header = request.headers.get("X-Streaming-Secret")
    if header:
        return header.strip()
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("secret") or None


class IngestHandler:
    def __init__(self, service: IngestService, auth: IngestAuth) -> None:
        self.service = service
        self.auth = auth
        #: two-way streams by client address that have not proved a secret yet
        self.unproven: Counter[str] = Counter()

    def _refused(self, exc: IngestRefused) -> ApiError:
        self.service.refused_total.inc(reason=exc.reason)
        headers = None
        if exc.retry_after_s > 0:
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
        return ApiError(exc.status, exc.code, exc.message, headers=headers)

    async def _grant(
        self, request: web.Request, secret: str | None, claim: Mapping[str, str]
    ) -> StreamGrant:
        try:
            return await self.auth.authenticate(secret, claim, request.remote or "?")
        except IngestRefused as exc:
            raise self._refused(exc) from exc

    def _open(self) -> None:
        """503 with ``Retry-After`` while the server drains, or while this node is fenced off
        its cluster: RingCX retries a 5xx (through a balancer, on another node)."""
        if self.service.fenced is not None:
            self.service.refused_total.inc(reason="fenced")
            raise ApiError(
                503,
                "CMN-211",
                "This node is cut off from its cluster: stream to another node",
                headers={"Retry-After": "5"},
            )
        if not self.service.accepting:
            self.service.refused_total.inc(reason="draining")
            raise ApiError(
                503,
                "CMN-211",
                "The server is shutting down and takes no new streams: try again later",
                headers={"Retry-After": str(DRAIN_RETRY_AFTER_S)},
            )

    def _admit(self, request: web.Request) -> str:
        """Count the stream against its address's limit (503 beyond it)."""
        peer = request.remote or "?"
        if not self.service.admit(peer):
            raise ApiError(
                503,
                "CMN-211",
                "Too many open streams from this address (at most "
                f"{self.service.settings.ingest_max_connections_per_ip}): try again later",
                headers={"Retry-After": "5"},
            )
        return peer

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """A RingCX stream (one-way): the profile secret is checked at the upgrade."""
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise ApiError(
                400, "CMN-101", "This is the RingCX stream endpoint: connect with a WebSocket"
            )
        self._open()
        grant = await self._grant(request, presented_secret(request), request.query)
        return await self._serve(request, grant, two_way=False)

    async def handle_two_way(self, request: web.Request) -> web.StreamResponse:
        """A two-way stream: the platform names its product in the upgrade's query or in
        ``start.customParameters`` (Twilio allows no query string). A secret sent as a header
        is checked at the upgrade; one sent as a custom parameter at ``start``. A refused
        stream is closed 1008 and nothing is stored."""
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise ApiError(
                400,
                "CMN-101",
                "This is the two-way call stream endpoint (Twilio Media Streams messages): "
                "connect with a WebSocket",
            )
        self._open()
        grant = None
        secret = presented_secret(request)
        if secret is not None:
            grant = await self._grant(request, secret, request.query)
            return await self._serve(request, grant, two_way=True)
        # No secret yet: only an address that is not held back, with few such streams open,
        # may wait for its start (within ingest_start_deadline_s).
        peer = request.remote or "?"
        try:
            self.auth.check_peer(peer)
        except IngestRefused as exc:
            raise self._refused(exc) from exc
        limit = self.service.settings.ingest_max_unproven_per_ip
        if self.unproven[peer] >= limit:
            self.service.refused_total.inc(reason="unproven_per_ip")
            raise ApiError(
                429,
                "CMN-301",
                f"Request rate exceeded: at most {limit} streams from one address may wait "
                "to present their secret; send it as a header to skip the wait",
                headers={"Retry-After": "1"},
            )
        self.unproven[peer] += 1
        waiting = _Waiting(self.unproven, peer)
        try:
            return await self._serve(request, None, two_way=True, waiting=waiting)
        finally:
            waiting.over()

    async def _serve(
        self,
        request: web.Request,
        grant: StreamGrant | None,
        *,
        two_way: bool,
        waiting: _Waiting | None = None,
    ) -> web.StreamResponse:
        peer = self._admit(request)
        try:
            return await self._receive(request, grant, two_way=two_way, waiting=waiting)
        finally:
            self.service.release(peer)

    async def _receive(
        self,
        request: web.Request,
        grant: StreamGrant | None,
        *,
        two_way: bool,
        waiting: _Waiting | None,
    ) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            max_msg_size=self.service.settings.ingest_max_message_bytes,
            autoping=True,
            compress=False,
            timeout=2.0,  # close handshake: a vanished sender must not hold the call open
        )
        await ws.prepare(request)

        async def close(code: int, reason: str) -> None:
            await ws.close(code=code, message=reason.encode()[:120])

        async def ping() -> None:
            with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
                await asyncio.wait_for(ws.ping(), PING_WRITE_TIMEOUT_S)

        receiver = TwilioReceiver() if two_way else None
        call = LiveCall(
            self.service, UpgradeParams.from_query(request.query), close, receiver=receiver
        )
        call.ping = ping
        service = self.service
        service.attach(call)
        status, reason = CallStatus.ABANDONED, "sender disconnected without Stop"
        # bound once: this loop runs for every message of every stream
        on_text, clock, text = call.on_text, time.monotonic, WSMsgType.TEXT
        fast = in_order_media(call)  # an in-order Media frame in one Python frame
        try:
            async for msg in ws:
                if call.finished:
                    break
                now = clock()
                if msg.type is text:
                    if fast is not None and fast(msg.data, now):
                        continue
                    try:
                        event = on_text(msg.data, now)
                    except StreamRefused as exc:
                        service.refused_total.inc(reason="content_type")
                        logger.warning("stream refused: %s", exc.reason)
                        await ws.close(code=exc.close_code, message=exc.reason.encode()[:120])
                        return ws
                    if type(event) is Media:
                        continue  # handled by on_text: nearly every message
                    if type(event) is Start:
                        if not await self._accept(request, ws, call, grant, event, waiting):
                            return ws
                        await call.start(event)
                    elif type(event) is Transfer:
                        await call.transfer(event)
                    elif type(event) is Stop and event.all_stopped:
                        status, reason = CallStatus.COMPLETED, "Stop received for every perspective"
                        # stored before the sender is told: its close 1000 means it is kept
                        await call.finish(status, reason)
                        await ws.close(code=WSCloseCode.OK, message=b"call complete")
                        break
                elif msg.type is WSMsgType.BINARY:
                    call.on_binary(msg.data, now)
                elif msg.type is WSMsgType.ERROR:
                    exc_ = ws.exception()
                    reason = f"stream error: {exc_}"
                    if ws.close_code == WSCloseCode.MESSAGE_TOO_BIG:
                        reason = "message over the hard size limit; stream closed (1009)"
                    break
        finally:
            service.detach(call)
            if call.end_request is not None:
                status, reason = call.end_request
            if call.call_id is not None and not call.finished and status is CallStatus.ABANDONED:
                call.log.warning("%s", reason)
            await call.finish(status, reason)
        return ws

    async def _accept(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        call: LiveCall,
        grant: StreamGrant | None,
        event: Start,
        waiting: _Waiting | None,
    ) -> bool:
        """At Start: settle the stream's profile from what it said (a two-way stream: check
        its secret now if it sent none at the upgrade) and give a two-way call its way back.
        A refusal closes the stream 1008 before anything is stored."""
        query: dict[str, str] = {k: v for k, v in request.query.items() if k != "secret"}
        receiver = call.receiver if isinstance(call.receiver, TwilioReceiver) else None
        profile: ProfileView | None
        try:
            if receiver is not None:
                custom = receiver.custom_parameters
                query.update((k, v) for k, v in custom.items() if k != "secret")
                if grant is None:
                    grant = await self.auth.authenticate(
                        custom.get("secret"), query, request.remote or "?"
                    )
            assert grant is not None
            profile = self.auth.settle(grant, query, start_values(event.metadata))
        except IngestRefused as exc:
            self.service.refused_total.inc(reason=exc.reason)
            logger.warning("stream refused at its start: %s", exc.message)
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=exc.message.encode()[:120])
            return False
        call.params = UpgradeParams.from_query(query)
        call.profile = profile
        if waiting is not None:
            waiting.over()
        if receiver is not None and profile is not None:
            # only an authenticated stream gets a way back: no supervisor's voice enters a
            # stream that has not proved its account
            assert receiver.stream_sid is not None
            call.talkback = Talkback(receiver.stream_sid, ws.send_str)
        return True


class _Waiting:
    """A two-way stream counted among its address's streams that have not proved a secret
    yet, until :meth:`over` (called once it proved it, was refused, or went)."""

    def __init__(self, unproven: Counter[str], peer: str) -> None:
        self._unproven = unproven
        self._peer: str | None = peer

    def over(self) -> None:
        if self._peer is None:
            return
        self._unproven[self._peer] -= 1
        if self._unproven[self._peer] <= 0:
            del self._unproven[self._peer]
        self._peer = None
