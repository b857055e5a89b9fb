"""RingCX stream ingest over WebSocket: the thin adapter around the sans-I/O receiver.

Secret check (our choice; RingCX does not say how the profile ``secret`` travels, spec §11.3
and §14.10): the upgrade request presents it as a header ``X-Streaming-Secret: <secret>``, or
``Authorization: Bearer <secret>``, or the query parameter ``secret``. The profile is found by
the upgrade's ``subaccountId``, ``productType`` and ``productId``. A missing secret → 401, a
wrong one → 403; nothing is stored for a refused upgrade. Secrets are compared in constant
time and never logged (the access log omits query strings).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping

from aiohttp import WSCloseCode, WSMsgType, web

from callscope.api.errors import ApiError
from callscope.errors import StreamRefused
from callscope.ingest import IngestService, LiveCall, UpgradeParams
from callscope.ingest.service import Talkback
from callscope.protocols.ringcx import Start, Stop
from callscope.protocols.twilio import Transfer, TwilioReceiver
from callscope.store.models import CallStatus
from callscope.store.repo import ProfileRepository

__all__ = ["INGEST_PATHS", "TWO_WAY_PATH", "IngestHandler"]

logger = logging.getLogger("callscope.ingest")

#: RingCX connects to the profile's bare ``wss://host[:port]``, i.e. path ``/``; the explicit
#: path is for everything else (simulator, proxies).
INGEST_PATHS = ("/", "/ringcx/stream")
#: the two-way call stream (Twilio Media Streams message set, callscope.protocols.twilio)
TWO_WAY_PATH = "/twilio/stream"

_PRODUCT_TYPES = {"QUEUE": "QUEUE", "CAMPAIGN": "CAMPAIGN", "MANUAL": "MANUAL"}


def presented_secret(request: web.Request) -> str | None:
    header = request.headers.get("X-Streaming-Secret")
    if header:
        return header
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.query.get("secret") or None


class IngestHandler:
    def __init__(
        self, service: IngestService, profiles: ProfileRepository, *, require_profile: bool
    ) -> None:
        self.service = service
        self.profiles = profiles
        self.require_profile = require_profile

    async def authorize(
        self, request: web.Request, q: Mapping[str, str] | None = None, secret: str | None = None
    ) -> None:
        """Refuse (401/403) when a matching profile's secret is not presented. ``q``: where
        the stream names its product (default: the upgrade's query); ``secret``: one presented
        in the stream itself (two-way streams' custom parameters)."""
        q = request.query if q is None else q
        sub = q.get("subaccountId")
        ptype = _PRODUCT_TYPES.get((q.get("productType") or "").upper())
        pid_raw = q.get("productId") or ""
        profile = None
        if sub and ptype and pid_raw.isdigit() and len(pid_raw) < 19:
            profile = await self.profiles.find(sub, ptype, int(pid_raw))
        if profile is None:
            if self.require_profile:
                self.service.refused_total.inc(reason="no_profile")
                raise ApiError(
                    403,
                    "CMN-102",
                    "No streaming profile matches this stream's subaccountId, productType and "
                    "productId; create one at /platform/api/media/product",
                )
            return
        if not profile.secret:
            return
        given = presented_secret(request) or secret
        if given is None:
            self.service.refused_total.inc(reason="secret_missing")
            raise ApiError(
                401,
                "OAU-123",
                "This streaming profile has a secret: present it in the X-Streaming-Secret "
                "header, as Authorization: Bearer, or as the secret query parameter (a two-way "
                "stream: or as the secret custom parameter of its start)",
            )
        if not hmac.compare_digest(given.encode(), profile.secret.encode()):
            self.service.refused_total.inc(reason="secret_wrong")
            raise ApiError(403, "CMN-401", "The presented streaming secret is not valid")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """A RingCX stream (one-way): the profile secret is checked at the upgrade."""
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise ApiError(
                400, "CMN-101", "This is the RingCX stream endpoint: connect with a WebSocket"
            )
        await self.authorize(request)
        return await self._serve(request, two_way=False)

    async def handle_two_way(self, request: web.Request) -> web.StreamResponse:
        """A two-way stream: the platform names its product in the upgrade's query or in
        ``start.customParameters`` (Twilio allows no query string), so the profile secret is
        checked at ``start``; a refused stream is closed 1008 and nothing is stored."""
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise ApiError(
                400,
                "CMN-101",
                "This is the two-way call stream endpoint (Twilio Media Streams messages): "
                "connect with a WebSocket",
            )
        return await self._serve(request, two_way=True)

    async def _serve(self, request: web.Request, *, two_way: bool) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            max_msg_size=self.service.settings.ingest_max_message_bytes,
            autoping=True,
            compress=False,
            timeout=2.0,  # close handshake: a vanished sender must not hold the call open
        )
        await ws.prepare(request)

        async def close(code: int, reason: str) -> None:
            await ws.close(code=code, message=reason.encode()[:120])

        receiver = TwilioReceiver() if two_way else None
        call = LiveCall(
            self.service, UpgradeParams.from_query(request.query), close, receiver=receiver
        )
        service = self.service
        service.attach(call)
        status, reason = CallStatus.ABANDONED, "sender disconnected without Stop"
        try:
            async for msg in ws:
                if call.finished:
                    break
                now = time.monotonic()
                if msg.type is WSMsgType.TEXT:
                    try:
                        event = call.on_text(msg.data, now)
                    except StreamRefused as exc:
                        service.refused_total.inc(reason="content_type")
                        logger.warning("stream refused: %s", exc.reason)
                        await ws.close(code=exc.close_code, message=exc.reason.encode()[:120])
                        return ws
                    if type(event) is Start:
                        if receiver is not None and not await self._start_two_way(
                            request, ws, call, receiver
                        ):
                            return ws
                        await call.start(event)
                    elif type(event) is Transfer:
                        await call.transfer(event)
                    elif type(event) is Stop and event.all_stopped:
                        status, reason = CallStatus.COMPLETED, "Stop received for every perspective"
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

    async def _start_two_way(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        call: LiveCall,
        receiver: TwilioReceiver,
    ) -> bool:
        """Check the two-way stream's profile secret and give the call its way back."""
        params = {**request.query, **receiver.custom_parameters}
        params.pop("secret", None)
        try:
            await self.authorize(request, params, receiver.custom_parameters.get("secret"))
        except ApiError as exc:
            logger.warning("two-way stream refused: %s", exc.message)
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=exc.message.encode()[:120])
            return False
        call.params = UpgradeParams.from_query(params)
        assert receiver.stream_sid is not None
        call.talkback = Talkback(receiver.stream_sid, ws.send_str)
        return True
