"""The WebSocket gateway (spec §8.3): subscriptions delivered over a WebSocket.

``POST /restapi/oauth/wstoken`` gives a single-use token; ``GET /ws?access_token=…``
upgrades. Every frame is a JSON array ``[meta, body?]``:

* server → client first: ``ConnectionDetails`` with a ``wsc`` session token;
* client → server ``ClientRequest`` for the subscription API (create, get, update, renew,
  delete); the answer keeps the ``messageId``, carries the HTTP status and headers (with
  ``WSG-SubscriptionId``) and the REST body. One subscription per session: a second
  create replaces the first. Other REST paths are answered 400 (use HTTP for them);
* ``ServerNotification`` with the envelope and ``wsc.sequence``;
* ``Heartbeat`` either way (echoed), and WebSocket pings from the server.

A dropped connection keeps its subscription and queue for ``recoveryTimeout`` (180 s):
connecting again with ``&wsc=<token>`` recovers it (``recoveryState: Successful``) and the
queued notifications follow; after that the subscription expires and is deleted.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from callscope.api.errors import ApiError, not_found
from callscope.api.revocation import OpenSockets
from callscope.api.subscriptions import SubscriptionsApi, new_subscription, subscription_json
from callscope.calls.views import iso
from callscope.events.delivery import Dispatcher, WsTransport
from callscope.identity.service import AuthContext, AuthError, IdentityService
from callscope.identity.service import aware as _aware
from callscope.store.repo import utcnow

__all__ = ["RECOVERY_TIMEOUT_S", "WsGateway"]

logger = logging.getLogger("callscope.events")

SUB_PATH = "/restapi/v1.0/subscription"
RECOVERY_TIMEOUT_S = 180
#: a connected session's subscription is renewed to this lifetime on every client frame
#: and every hour (the gateway's absolute timeout)
CONNECTED_LIFETIME_S = 86_400
MAX_FRAME_BYTES = 64 * 1024


@dataclass(slots=True)
class _Session:
    token: str
    auth: AuthContext
    subscription_id: str | None = None
    sequence: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _meta(kind: str, message_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "messageId": message_id, **extra}


class WsGateway:
    def __init__(
        self,
        identity: IdentityService,
        subscriptions: SubscriptionsApi,
        dispatcher: Dispatcher,
        sockets: OpenSockets,
    ) -> None:
        self.identity = identity
        self.api = subscriptions
        self.dispatcher = dispatcher
        self.sockets = sockets
        #: wsc token → session, while connected or recoverable
        self._sessions: dict[str, _Session] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws", self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            auth = await self.identity.consume_ws_token(request.query.get("access_token", ""))
        except AuthError as exc:
            raise ApiError(401, exc.code, exc.message) from exc
        recovery: str | None = None
        session: _Session | None = None
        wanted = request.query.get("wsc")
        if wanted:
            old = self._sessions.get(wanted)
            if old is None and wanted.startswith("wsc-") and len(wanted) <= 64:
                # made on another node of a cluster (that node may be gone): the stored
                # subscription carries the session, its queue is in the database
                stored = await self.api.subscriptions.by_ws_session(wanted)
                if stored is not None:
                    old = _Session(
                        token=wanted,
                        auth=AuthContext(
                            stored.account_id, stored.extension_id, False, stored.client_id, ""
                        ),
                        subscription_id=stored.id,
                    )
            recovery = "Failed"
            if old is not None and (old.auth.account_id, old.auth.extension_id) == (
                auth.account_id,
                auth.extension_id,
            ):
                sub = (
                    await self.api.subscriptions.get(old.subscription_id)
                    if old.subscription_id
                    else None
                )
                if sub is not None and sub.status == "Active" and _aware(sub.expires_at) > utcnow():
                    session, recovery = old, "Successful"
                    session.auth = auth
        if session is None:
            session = _Session(token="wsc-" + uuid.uuid4().hex, auth=auth)
        self._sessions[session.token] = session

        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        origin = str(request.url.origin())  # the upgrade request's http(s) origin
        details: dict[str, Any] = {
            "creationTime": iso(utcnow()),
            "maxConnectionsPerSession": 1,
            "recoveryBufferSize": 100,
            "recoveryTimeout": RECOVERY_TIMEOUT_S,
            "idleTimeout": 1800,
            "absoluteTimeout": CONNECTED_LIFETIME_S,
            "maxActiveRequests": 10,
        }
        if recovery is not None:
            details["recoveryState"] = recovery
            if recovery == "Failed":
                details["recoveryErrorCode"] = "WSG-913"
        await self._send(
            ws,
            session,
            [
                _meta(
                    "ConnectionDetails",
                    uuid.uuid4().hex,
                    status=200,
                    wsc={"token": session.token, "sequence": session.sequence},
                    headers={"RCRequestId": uuid.uuid4().hex},
                ),
                details,
            ],
        )

        async def deliver(envelope: dict[str, Any]) -> None:
            if ws.closed:
                raise ConnectionResetError("the WebSocket is closed")
            session.sequence += 1
            meta = _meta(
                "ServerNotification",
                envelope["uuid"],
                status=200,
                headers={"RCRequestId": uuid.uuid4().hex},
                wsc={"token": session.token, "sequence": session.sequence},
            )
            await self._send(ws, session, [meta, envelope])

        try:
            if session.subscription_id is not None:
                await self._keep_alive(session)
                self.dispatcher.attach(session.subscription_id, deliver)
            with self.sockets.track(auth, ws, "WebSocket gateway"):
                await self._frames(ws, session, origin, deliver)
        finally:
            if session.subscription_id is not None:
                self.dispatcher.detach(session.subscription_id, deliver)
                # kept for the recovery time, then it expires and is deleted
                await self.api.subscriptions.update(
                    session.subscription_id,
                    expires_at=utcnow() + timedelta(seconds=RECOVERY_TIMEOUT_S),
                )
            else:
                self._sessions.pop(session.token, None)
            self._prune()
        return ws

    async def _frames(
        self,
        ws: web.WebSocketResponse,
        session: _Session,
        origin: str,
        deliver: WsTransport,
    ) -> None:
        """The client's frames, until the socket closes."""
        while True:
            try:
                msg = await ws.receive(timeout=3600)
            except TimeoutError:
                await self._keep_alive(session)
                continue
            if msg.type == WSMsgType.TEXT:
                await self._frame(ws, session, msg.data, origin, deliver)
                await self._keep_alive(session)
            elif msg.type == WSMsgType.BINARY:
                await self._error(ws, session, "", "WSG-400", "Frames are JSON text")
            else:
                break  # closed, closing or an error (an oversized frame closes with 1009)

    def _prune(self) -> None:
        """Forget sessions whose subscription is gone (bounded memory)."""
        if len(self._sessions) > 10_000:
            for token, s in list(self._sessions.items())[:5_000]:
                if s.subscription_id is None:
                    del self._sessions[token]

    async def _keep_alive(self, session: _Session) -> None:
        if session.subscription_id is not None:
            await self.api.subscriptions.update(
                session.subscription_id,
                expires_at=utcnow() + timedelta(seconds=CONNECTED_LIFETIME_S),
            )
            self.dispatcher.forget(session.subscription_id)

    async def _send(self, ws: web.WebSocketResponse, session: _Session, frame: list[Any]) -> None:
        async with session.lock:
            await ws.send_str(orjson.dumps(frame).decode())

    async def _error(
        self, ws: web.WebSocketResponse, session: _Session, message_id: str, code: str, text: str
    ) -> None:
        await self._send(
            ws,
            session,
            [
                _meta("Error", message_id or uuid.uuid4().hex, status=400, headers={}),
                {"errorCode": code, "message": text},
            ],
        )

    async def _frame(
        self,
        ws: web.WebSocketResponse,
        session: _Session,
        data: str,
        origin: str,
        deliver: WsTransport,
    ) -> None:
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            await self._error(ws, session, "", "WSG-400", f"Frame is not JSON: {exc}")
            return
        if not isinstance(frame, list) or not frame or not isinstance(frame[0], dict):
            await self._error(ws, session, "", "WSG-400", "A frame is a JSON array [meta, body?]")
            return
        meta = frame[0]
        message_id = str(meta.get("messageId") or "")[:100]
        kind = meta.get("type")
        if kind == "Heartbeat":
            await self._send(ws, session, [_meta("Heartbeat", message_id or uuid.uuid4().hex)])
            return
        if kind != "ClientRequest":
            await self._error(ws, session, message_id, "WSG-400", f"Unknown frame type {kind!r}")
            return
        body = frame[1] if len(frame) > 1 else None
        headers = {"Content-Type": "application/json", "RCRequestId": uuid.uuid4().hex}
        try:
            status, result = await self._request(session, meta, body, origin, deliver)
        except ApiError as exc:
            status, result = exc.status, exc.body()
        if session.subscription_id is not None and status < 300:
            headers["WSG-SubscriptionId"] = session.subscription_id
        reply: list[Any] = [
            _meta("ClientRequest", message_id, status=status, headers=headers),
        ]
        if result is not None:
            reply.append(result)
        await self._send(ws, session, reply)

    async def _request(
        self, session: _Session, meta: dict[str, Any], body: Any, origin: str, deliver: WsTransport
    ) -> tuple[int, Any]:
        method = str(meta.get("method", "")).upper()
        path = str(meta.get("path", "")).split("?", 1)[0].rstrip("/")
        auth = session.auth
        if path == SUB_PATH and method == "POST":
            return 200, await self._create(session, body, origin, deliver)
        if path == SUB_PATH and method == "GET":
            rows = [
                subscription_json(s, origin)
                for s in await self.api.subscriptions.list_for(auth.account_id, auth.extension_id)
                if _aware(s.expires_at) > utcnow()
            ]
            return 200, {"uri": f"{origin}{SUB_PATH}", "records": rows}
        if path.startswith(SUB_PATH + "/"):
            rest = path[len(SUB_PATH) + 1 :]
            sub_id, _, action = rest.partition("/")
            sub = await self.api.own(auth, sub_id)
            if action == "renew" and method == "POST":
                return 200, subscription_json(sub, origin)  # WebSocket subscriptions auto-renew
            if action:
                raise not_found("path", path)
            if method == "GET":
                return 200, subscription_json(sub, origin)
            if method == "PUT":
                if not isinstance(body, dict):
                    raise ApiError(400, "CMN-103", "A JSON object body is required")
                filters = await self.api.filters(auth, body.get("eventFilters"))
                updated = await self.api.subscriptions.update(
                    sub.id, event_filters=[f.text for f in filters]
                )
                self.dispatcher.forget(sub.id)
                assert updated is not None
                return 200, subscription_json(updated, origin)
            if method == "DELETE":
                await self.api.subscriptions.delete(sub.id)
                await self.dispatcher.stop_sending(sub.id)
                if session.subscription_id == sub.id:
                    self.dispatcher.detach(sub.id)
                    session.subscription_id = None
                return 204, None
        raise ApiError(
            400,
            "CMN-101",
            f"{method} {path or '?'} is not served over the WebSocket gateway: only the "
            "subscription API is; use HTTP for the rest",
        )

    async def _create(
        self, session: _Session, body: Any, origin: str, deliver: WsTransport
    ) -> dict[str, Any]:
        auth = session.auth
        if not isinstance(body, dict):
            raise ApiError(400, "CMN-103", "A JSON object body is required")
        mode = body.get("deliveryMode")
        if not isinstance(mode, dict) or mode.get("transportType") != "WebSocket":
            raise ApiError(
                400,
                "CMN-101",
                "Parameter [deliveryMode.transportType] value is invalid: use WebSocket over "
                "the gateway (WebHook subscriptions are created over HTTP)",
                parameterName="deliveryMode.transportType",
            )
        filters = await self.api.filters(auth, body.get("eventFilters"))
        replaced = session.subscription_id
        if replaced is None:
            await self.api.check_limit(auth)
        sub = new_subscription(
            auth, filters, "WebSocket", CONNECTED_LIFETIME_S, ws_session=session.token
        )
        await self.api.subscriptions.create(sub)
        if replaced is not None:  # one subscription per connection: the new one replaces it
            self.dispatcher.detach(replaced)
            await self.api.subscriptions.delete(replaced)
            await self.dispatcher.stop_sending(replaced)
        session.subscription_id = sub.id
        self.dispatcher.attach(sub.id, deliver)
        return subscription_json(sub, origin)
