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

Delivery never loses a notification (``events/wsg.py`` has the rules): each one is moved
into the session's recovery buffer in the database as it is written, counts as delivered
only once a pong confirms the client read it, and at most ``recoveryBufferSize`` (100) go
unconfirmed. The session — its ``wsc.sequence`` and buffer — outlives the connection: a
client that connects again with ``&wsc=<token>`` (optionally ``&wscSequence=<the last
sequence it holds>``, callscope's addition) within the recovery time, on this node or
another, after a restart too, gets ``recoveryState: Successful``, then the buffered
notifications it lacks in order with their sequences, then the queued ones. A session whose
socket is gone for ``recoveryTimeout`` (``events_ws_recovery_s``, 180 s) expires with its
subscription: while connected, both are renewed every third of that time, so a crash or a
dead node leaves nothing behind for longer either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from callscope.api.errors import ApiError, not_found
from callscope.api.proxy import public_origin
from callscope.api.revocation import OpenSockets
from callscope.api.subscription_views import new_subscription, subscription_json
from callscope.api.subscriptions import SubscriptionsApi
from callscope.api.wsg_link import CLOSE_TAKEN_OVER, WsLink
from callscope.calls.views import iso
from callscope.events.delivery import Dispatcher
from callscope.events.wsg import (
    ABSOLUTE_TIMEOUT_S,
    RECOVERY_BUFFER_SIZE,
    RECOVERY_TIMEOUT_S,
    RecoveryWindow,
    notification_frame,
    parse_sequence,
)
from callscope.identity.model import AuthContext, AuthError
from callscope.identity.model import aware as _aware
from callscope.identity.service import IdentityService
from callscope.store.models import Subscription
from callscope.store.repo import utcnow
from callscope.store.ws_sessions import WsSessionRepository

__all__ = ["CLOSE_TAKEN_OVER", "RECOVERY_TIMEOUT_S", "WsGateway"]

logger = logging.getLogger("callscope.events")

SUB_PATH = "/restapi/v1.0/subscription"
MAX_FRAME_BYTES = 64 * 1024
#: close code of a connection that stopped answering pings
CLOSE_NO_PONG = 1011


def _meta(kind: str, message_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "messageId": message_id, **extra}


class WsGateway:
    """``GET /ws``: the WSG protocol over aiohttp (the delivery rules are ``events/wsg.py``).

    Args:
        identity: checks the single-use WebSocket tokens.
        subscriptions: the subscription API the ``ClientRequest`` frames reach.
        dispatcher: sends each subscription's queue through its connection.
        sockets: open sockets by user, closed when their token is revoked.
        sessions: the sessions and recovery buffers in the database.
        recovery_s: ``recoveryTimeout``: how long a session whose socket is gone can be
            recovered (``events_ws_recovery_s``).
    """

    def __init__(
        self,
        identity: IdentityService,
        subscriptions: SubscriptionsApi,
        dispatcher: Dispatcher,
        sockets: OpenSockets,
        sessions: WsSessionRepository,
        *,
        recovery_s: int = RECOVERY_TIMEOUT_S,
    ) -> None:
        self.identity = identity
        self.api = subscriptions
        self.dispatcher = dispatcher
        self.sockets = sockets
        self.sessions = sessions
        self.recovery_s = recovery_s
        #: wsc token → the connection holding the session on this node
        self._links: dict[str, WsLink] = {}
        self._background: set[asyncio.Task[None]] = set()
        dispatcher.sweeps.append(sessions.expire)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws", self.handle)]

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Close every connection (the server stops); their sessions stay recoverable."""
        for link in list(self._links.values()):
            link.end(1001, "server stopping: recover the session")
        if self._background:
            await asyncio.wait(set(self._background))

    def _until(self) -> datetime:
        return utcnow() + timedelta(seconds=self.recovery_s)

    async def _recoverable(self, token: str, auth: AuthContext) -> Subscription | None:
        """The subscription of the session ``token`` if ``auth``'s owner may recover it."""
        if not token.startswith("wsc-") or len(token) > 64:
            return None
        sub = await self.api.subscriptions.by_ws_session(token)
        if (
            sub is None
            or (sub.account_id, sub.extension_id) != (auth.account_id, auth.extension_id)
            or sub.status != "Active"
            or _aware(sub.expires_at) <= utcnow()
        ):
            return None
        return sub

    async def handle(self, request: web.Request) -> web.StreamResponse:
        client_sequence: int | None = None
        if "wscSequence" in request.query:
            try:
                client_sequence = parse_sequence(request.query["wscSequence"])
            except ValueError as exc:
                raise ApiError(
                    400,
                    "CMN-101",
                    f"Parameter [wscSequence] value is invalid: {exc}",
                    parameterName="wscSequence",
                ) from exc
        try:
            auth = await self.identity.consume_ws_token(request.query.get("access_token", ""))
        except AuthError as exc:
            raise ApiError(401, exc.code, exc.message) from exc
        wanted = request.query.get("wsc")
        recovered = await self._recoverable(wanted, auth) if wanted else None
        token = wanted if recovered is not None and wanted else "wsc-" + uuid.uuid4().hex

        ws = web.WebSocketResponse(heartbeat=None, autoping=False, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        link = WsLink(
            token, auth, ws, sessions=self.sessions, dispatcher=self.dispatcher, spawn=self.spawn
        )
        previous = self._links.get(token)
        self._links[token] = link
        if previous is not None:
            previous.end(CLOSE_TAKEN_OVER, "the session was recovered on another connection")
        keeper: asyncio.Task[None] | None = None
        try:
            start, replay = 0, list[tuple[int, dict[str, Any]]]()
            if recovered is not None:
                start, replay = await self._take_over(link, recovered, client_sequence)
            await link.send(
                [
                    _meta(
                        "ConnectionDetails",
                        uuid.uuid4().hex,
                        status=200,
                        wsc={"token": token, "sequence": start},
                        headers={"RCRequestId": uuid.uuid4().hex},
                    ),
                    self._details(recovery=(recovered is not None) if wanted else None),
                ]
            )
            # what the client lacks, in order, before anything new
            for seq, body in replay:
                await link.send(notification_frame(token, seq, body))
            await link.confirm()
            keeper = asyncio.create_task(self._keep(link), name=f"callscope-wsg-{token}")
            if link.subscription_id is not None:
                self.dispatcher.attach(link.subscription_id, link)
            async with self.sockets.track(auth, ws, "WebSocket gateway"):
                await self._frames(link, public_origin(request))
        except ConnectionError:
            pass  # gone while a frame was written: recoverable like any other end
        finally:
            link.closed = True
            link.space.set()
            if keeper is not None:
                keeper.cancel()
            await self._ended(link)
        return ws

    async def _take_over(
        self, link: WsLink, sub: Subscription, client_sequence: int | None
    ) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
        """The connection holds the session now (another one can send nothing more): returns
        the last sequence the client is taken to hold and what to send it again."""
        resumed = await self.sessions.resume(link.token, client_sequence, utcnow(), self._until())
        await self.api.subscriptions.update(sub.id, expires_at=self._until())
        link.subscription_id, link.epoch = sub.id, resumed.epoch
        # the replayed ones count as written and unconfirmed: the pongs confirm them
        link.window = RecoveryWindow(sequence=resumed.sequence, acked=resumed.start)
        logger.info(
            "WebSocket session %s recovered: %d notification(s) after sequence %d sent again",
            link.token,
            len(resumed.notifications),
            resumed.start,
        )
        return resumed.start, resumed.notifications

    def _details(self, *, recovery: bool | None) -> dict[str, Any]:
        """The ``ConnectionDetails`` body; ``recovery``: whether a recovery asked for
        succeeded (None: none was asked for)."""
        details: dict[str, Any] = {
            "creationTime": iso(utcnow()),
            "maxConnectionsPerSession": 1,
            "recoveryBufferSize": RECOVERY_BUFFER_SIZE,
            "recoveryTimeout": self.recovery_s,
            "idleTimeout": 1800,
            "absoluteTimeout": ABSOLUTE_TIMEOUT_S,
            "maxActiveRequests": 10,
        }
        if recovery is not None:
            details["recoveryState"] = "Successful" if recovery else "Failed"
            if not recovery:
                details["recoveryErrorCode"] = "WSG-913"
        return details

    async def _ended(self, link: WsLink) -> None:
        """The connection is gone: its session stays recoverable for the recovery time
        (unless another connection holds it now, or it has no subscription)."""
        if self._links.get(link.token) is not link:
            return  # taken over
        del self._links[link.token]
        if link.subscription_id is not None:
            self.dispatcher.detach(link.subscription_id, link)
            until = self._until()
            await self.api.subscriptions.update(link.subscription_id, expires_at=until)
            await self.sessions.keep(link.token, until)
        elif link.epoch:
            await self.sessions.forget(link.token, link.epoch)

    async def _keep(self, link: WsLink) -> None:
        """Pings (heartbeats, and an end to a connection that stopped answering them) and
        the renewal of the session and its subscription while connected."""
        loop = asyncio.get_running_loop()
        renew_s = min(60.0, self.recovery_s / 3)
        tick = min(5.0, renew_s)
        renewed = loop.time()
        while not link.closed:
            await asyncio.sleep(tick)
            now = loop.time()
            if link.window.overdue(now):
                logger.info("WebSocket session %s: no pong; closing the connection", link.token)
                link.end(CLOSE_NO_PONG, "no pong: recover the session")
                return
            if link.window.heartbeat_due(now):
                with contextlib.suppress(Exception):
                    await link.ws.ping(link.window.ping(now))
            if now - renewed >= renew_s:
                renewed = now
                try:
                    await self._renew(link)
                except Exception:
                    logger.exception("WebSocket session %s: renewal failed", link.token)

    async def _renew(self, link: WsLink) -> None:
        until = self._until()
        if link.subscription_id is not None:
            await self.api.subscriptions.update(link.subscription_id, expires_at=until)
        if link.epoch:
            await self.sessions.keep(link.token, until)

    async def _frames(self, link: WsLink, origin: str) -> None:
        """The client's frames, until the socket closes."""
        ws = link.ws
        while True:
            msg = await ws.receive()
            if msg.type == WSMsgType.TEXT:
                await self._frame(link, msg.data, origin)
            elif msg.type == WSMsgType.PONG:
                await link.pong(msg.data)
            elif msg.type == WSMsgType.PING:
                await ws.pong(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await self._error(link, "", "WSG-400", "Frames are JSON text")
            else:
                break  # closed, closing or an error (an oversized frame closes with 1009)

    async def _error(self, link: WsLink, message_id: str, code: str, text: str) -> None:
        await link.send(
            [
                _meta("Error", message_id or uuid.uuid4().hex, status=400, headers={}),
                {"errorCode": code, "message": text},
            ]
        )

    async def _frame(self, link: WsLink, data: str, origin: str) -> None:
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            await self._error(link, "", "WSG-400", f"Frame is not JSON: {exc}")
            return
        if not isinstance(frame, list) or not frame or not isinstance(frame[0], dict):
            await self._error(link, "", "WSG-400", "A frame is a JSON array [meta, body?]")
            return
        meta = frame[0]
        message_id = str(meta.get("messageId") or "")[:100]
        kind = meta.get("type")
        if kind == "Heartbeat":
            await link.send([_meta("Heartbeat", message_id or uuid.uuid4().hex)])
            return
        if kind != "ClientRequest":
            await self._error(link, message_id, "WSG-400", f"Unknown frame type {kind!r}")
            return
        body = frame[1] if len(frame) > 1 else None
        headers = {"Content-Type": "application/json", "RCRequestId": uuid.uuid4().hex}
        try:
            status, result = await self._request(link, meta, body, origin)
        except ApiError as exc:
            status, result = exc.status, exc.body()
        if link.subscription_id is not None and status < 300:
            headers["WSG-SubscriptionId"] = link.subscription_id
        reply: list[Any] = [
            _meta("ClientRequest", message_id, status=status, headers=headers),
        ]
        if result is not None:
            reply.append(result)
        await link.send(reply)

    async def _request(
        self, link: WsLink, meta: dict[str, Any], body: Any, origin: str
    ) -> tuple[int, Any]:
        method = str(meta.get("method", "")).upper()
        path = str(meta.get("path", "")).split("?", 1)[0].rstrip("/")
        auth = link.auth
        if path == SUB_PATH and method == "POST":
            return 200, await self._create(link, body, origin)
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
                updated = await self.api.subscriptions.update(sub.id, event_filters=filters)
                self.dispatcher.forget(sub.id)
                assert updated is not None
                return 200, subscription_json(updated, origin)
            if method == "DELETE":
                await self.api.subscriptions.delete(sub.id)
                await self.dispatcher.stop_sending(sub.id)
                if link.subscription_id == sub.id:
                    self.dispatcher.detach(sub.id)
                    link.subscription_id = None
                return 204, None
        raise ApiError(
            400,
            "CMN-101",
            f"{method} {path or '?'} is not served over the WebSocket gateway: only the "
            "subscription API is; use HTTP for the rest",
        )

    async def _create(self, link: WsLink, body: Any, origin: str) -> dict[str, Any]:
        auth = link.auth
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
        replaced = link.subscription_id
        if replaced is None:
            await self.api.check_limit(auth)
        # a WebSocket subscription lives while its session can be recovered: renewed while
        # connected, it expires a recovery time after its socket is gone
        sub = new_subscription(auth, filters, "WebSocket", self.recovery_s, ws_session=link.token)
        if not link.epoch:
            link.epoch = (await self.sessions.open(link.token, utcnow(), sub.expires_at)).epoch
        await self.api.subscriptions.create(sub)
        if replaced is not None:  # one subscription per connection: the new one replaces it
            self.dispatcher.detach(replaced)
            await self.api.subscriptions.delete(replaced)
            await self.dispatcher.stop_sending(replaced)
        link.subscription_id = sub.id
        self.dispatcher.attach(sub.id, link)
        return subscription_json(sub, origin)
