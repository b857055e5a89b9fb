"""Supervision routes: RingCentral Supervise Call Session/Party (spec §7.2–7.5), the Genesys
supervisor operations on ``/api/v2/me/devices/{id}``, and the web-phone device WebSocket.

Errors: RingCentral paths answer with the RingCentral error body (spec §1.3; there is no
public code for a supervision conflict, callscope answers 409 ``CMN-409``). Genesys paths
answer ``{"statusCode": n, "statusMessage": "..."}`` with the HTTP status: ``statusCode`` 0 is
success, 1 a missing or invalid parameter (400), 2 not permitted (403), 3 not found (404),
4 a conflict (409).
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from callscope.api.auth import account_param, caller
from callscope.api.errors import (
    ApiError,
    genesys_error,
    json_response,
    param_value,
    read_json,
    refusal,
)
from callscope.api.revocation import OpenSockets
from callscope.digits import is_digits
from callscope.errors import Refused
from callscope.identity.model import AuthContext
from callscope.logsafe import clean
from callscope.store.directory import DirectoryRepository
from callscope.store.models import Extension
from callscope.supervision.links import DeviceLink
from callscope.supervision.model import Operation, Repeat, Scope, SupervisionMode
from callscope.supervision.service import SupervisionService, target_device_id
from callscope.supervision.webphone import error, parse_device_text, parse_mic

__all__ = ["DEVICE_PATH", "SupervisionApi"]

logger = logging.getLogger("callscope.supervision")

ACCOUNT = "/restapi/v1.0/account/{accountId}"
#: set on a request one node passes to another (that node answers it, never passes it on)
FORWARDED = "X-Callscope-Forwarded"
#: request headers a forwarded request keeps
FORWARD_HEADERS = ("Authorization", "Content-Type", "Accept")
DEVICE_PATH = "/supervision/device"
OPERATIONS = tuple(str(op) for op in Operation)


#: kernel send buffer of a web-phone socket (the kernel doubles it): ≈ 2 s of one stream.
#: Autotuned loopback buffers reach 4 MB — minutes of audio a stalled device would hold;
#: bounded, the device's own queue decides what a slow device loses (its oldest audio).
DEVICE_SEND_BUFFER = 16 * 1024


def _small_send_buffer(request: web.Request) -> None:
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, DEVICE_SEND_BUFFER)
        except (OSError, AttributeError):  # not a TCP socket (a test transport, a proxy)
            logger.debug("could not bound the web phone's send buffer")


def _id_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    return text if is_digits(text) and len(text) <= 18 else None


class SupervisionApi:
    def __init__(
        self,
        service: SupervisionService,
        directory: DirectoryRepository,
        *,
        heartbeat_s: float,
        sockets: OpenSockets,
    ) -> None:
        self.service = service
        self.directory = directory
        self.heartbeat_s = heartbeat_s
        self.sockets = sockets
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def _elsewhere(self, request: web.Request) -> web.Response | None:
        """Cluster: a call another node carries is supervised there. The request goes to
        that node as it came (same token) and its answer comes back as it was."""
        cluster = self.service.cluster
        if cluster is None or request.headers.get(FORWARDED):
            return None
        node = await self.service.relay.call_node(
            account_param(request), request.match_info["sessionId"]
        )
        url = cluster.node_url(node) if node is not None else None
        if url is None:
            return None
        body = await request.read()
        headers = {h: request.headers[h] for h in FORWARD_HEADERS if h in request.headers}
        headers[FORWARDED] = cluster.node_id
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15.0))
        try:
            async with self._http.request(
                request.method, url + request.path_qs, data=body, headers=headers
            ) as r:
                payload = await r.read()
                return web.Response(
                    body=payload,
                    status=r.status,
                    content_type=r.content_type if payload else None,
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning(
                "node %s did not answer a forwarded %s: %s", node, clean(request.path, 200), exc
            )
            raise ApiError(
                503,
                "CMN-503",
                f"The node that carries this call ({node}) did not answer; try again",
            ) from exc

    def routes(self) -> list[web.RouteDef]:
        session = ACCOUNT + "/telephony/sessions/{sessionId}"
        return [
            web.post(session + "/supervise", self.supervise_session),
            web.post(session + "/parties/{partyId}/supervise", self.supervise_party),
            web.delete(session + "/parties/{partyId}", self.drop_party),
            web.get("/api/v2/me/devices", self.my_devices),
            web.post("/api/v2/me/devices/{id}", self.operate),
            web.get(DEVICE_PATH, self.device_socket),
        ]

    # -- RingCentral -----------------------------------------------------------------------

    async def _agent(
        self, account_id: str, body: dict[str, Any], *, party_level: bool
    ) -> Extension:
        raw_id = body.get("agentExtensionId")
        raw_number = body.get("agentExtensionNumber", body.get("extensionNumber"))
        if raw_id is not None:
            text = _id_text(raw_id)
            if text is None:
                raise ApiError(
                    400,
                    "CMN-101",
                    "Parameter [agentExtensionId] value is invalid",
                    parameterName="agentExtensionId",
                    parameterValue=str(raw_id)[:64],
                )
            ext = await self.directory.get_extension(account_id, int(text))
            name, value = "agentExtensionId", text
        elif raw_number is not None and not party_level:
            if not isinstance(raw_number, str | int) or isinstance(raw_number, bool):
                raise ApiError(
                    400,
                    "CMN-101",
                    "Parameter [agentExtensionNumber] value is invalid",
                    parameterName="agentExtensionNumber",
                )
            ext = await self.directory.extension_by_number(account_id, str(raw_number))
            name, value = "agentExtensionNumber", str(raw_number)
        else:
            wanted = (
                "agentExtensionId" if party_level else "agentExtensionId or agentExtensionNumber"
            )
            raise ApiError(
                400, "CMN-101", f"Parameter [{wanted}] is required", parameterName=wanted
            )
        if ext is None:
            raise ApiError(
                400,
                "CMN-102",
                f"Resource for parameter [{name}] is not found",
                parameterName=name,
                parameterValue=value[:64],
            )
        return ext

    async def _supervise(self, request: web.Request, party_id: str | None) -> web.Response:
        forwarded = await self._elsewhere(request)
        if forwarded is not None:
            return forwarded
        account_id = account_param(request)
        auth = caller(request)
        body = await read_json(request)
        mode_raw = body.get("mode")
        if mode_raw not in tuple(SupervisionMode):
            raise ApiError(
                400,
                "CMN-101",
                "Parameter [mode] value is invalid: Listen, Coach or Barge",
                parameterName="mode",
                parameterValue=param_value(mode_raw),
            )
        device = body.get("supervisorDeviceId", body.get("deviceId"))
        if device is None:
            raise ApiError(
                400,
                "CMN-101",
                "Parameter [supervisorDeviceId] is required",
                parameterName="supervisorDeviceId",
            )
        auto = body.get("autoAnswer", True)
        if not isinstance(auto, bool):
            raise ApiError(
                400,
                "CMN-101",
                "Parameter [autoAnswer] value is invalid",
                parameterName="autoAnswer",
            )
        sdp = body.get("mediaSDP")
        if sdp is not None and sdp not in ("sendOnly", "sendRecv"):
            raise ApiError(
                400,
                "CMN-101",
                "Parameter [mediaSDP] value is invalid: sendOnly or sendRecv",
                parameterName="mediaSDP",
            )
        # An unknown or ended session is named before anything in the body.
        self.service.live_call(account_id, request.match_info["sessionId"])
        agent = await self._agent(account_id, body, party_level=party_id is not None)
        view, new = await self.service.supervise(
            auth,
            request.match_info["sessionId"],
            party_id,
            SupervisionMode(mode_raw),
            device,
            agent,
        )
        return json_response(view, status=201 if new else 200)

    async def supervise_session(self, request: web.Request) -> web.Response:
        return await self._supervise(request, None)

    async def supervise_party(self, request: web.Request) -> web.Response:
        return await self._supervise(request, request.match_info["partyId"])

    async def drop_party(self, request: web.Request) -> web.Response:
        forwarded = await self._elsewhere(request)
        if forwarded is not None:
            return forwarded
        account_param(request)
        await self.service.leave(
            caller(request), request.match_info["sessionId"], request.match_info["partyId"]
        )
        return web.Response(status=204)

    # -- Genesys ---------------------------------------------------------------------------

    async def my_devices(self, request: web.Request) -> web.Response:
        devices = await self.service.device_states(caller(request))
        return json_response({"statusCode": 0, "devices": devices})

    async def operate(self, request: web.Request) -> web.Response:
        auth = caller(request)
        try:
            body = await read_json(request)
        except ApiError as exc:
            return genesys_error(exc.status, exc.message)
        op = body.get("operationName")
        if op not in OPERATIONS:
            return genesys_error(
                400, f"operationName must be one of {', '.join(OPERATIONS)} (got {op!r:.40})"
            )
        # not given: the order keeps its own (a new order: Call scope, AllCalls)
        scope = body.get("supervisorMonitoringScope")
        repeat = body.get("supervisorMonitoringMode")
        if scope is not None and scope not in tuple(Scope):
            return genesys_error(400, "supervisorMonitoringScope must be Agent or Call")
        if repeat is not None and repeat not in tuple(Repeat):
            return genesys_error(400, "supervisorMonitoringMode must be NextCall or AllCalls")
        target: Extension | None = None
        uri = body.get("targetDeviceUri")
        if op != "CancelSupervisorMonitoring":
            found = await self._target(auth, uri, body.get("phoneNumber"))
            if isinstance(found, web.Response):
                return found
            target = found
        try:
            await self.service.operate(
                auth,
                request.match_info["id"],
                Operation(op),
                target=target,
                target_device_uri=uri if isinstance(uri, str) else None,
                repeat=Repeat(repeat) if repeat is not None else None,
                scope=Scope(scope) if scope is not None else None,
            )
        except Refused as exc:  # the Genesys body: same table, Genesys' own codes
            return genesys_error(refusal(exc).status, exc.message)
        return json_response({"statusCode": 0})

    async def _target(
        self, auth: AuthContext, uri: Any, phone_number: Any
    ) -> Extension | web.Response:
        """The monitored agent: the owner of ``targetDeviceUri``'s device, else the extension
        whose number is ``phoneNumber``."""
        if uri is not None:
            device_id = target_device_id(uri) if isinstance(uri, str) else None
            if device_id is None or _id_text(device_id) is None:
                return genesys_error(
                    400, "targetDeviceUri must be the URI of a device: …/api/v2/devices/{id}"
                )
            device = await self.directory.get_device(auth.account_id, int(device_id))
            if device is None:
                return genesys_error(404, f"device {device_id} not found")
            ext = await self.directory.get_extension(auth.account_id, device.extension_id)
        elif isinstance(phone_number, str | int) and not isinstance(phone_number, bool):
            ext = await self.directory.extension_by_number(auth.account_id, str(phone_number))
        else:
            return genesys_error(400, "targetDeviceUri (or phoneNumber) is required")
        if ext is None:
            return genesys_error(404, "no agent has that device or number")
        return ext

    # -- the web phone ---------------------------------------------------------------------

    async def device_socket(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise ApiError(400, "CMN-101", "This is the web-phone endpoint: connect a WebSocket")
        if self.service.fenced is not None:
            raise ApiError(
                503,
                "CMN-503",
                "This node is cut off from its cluster: connect the web phone to another node",
                headers={"Retry-After": "5"},
            )
        auth = caller(request)
        device, owner = await self.service.open_device(
            auth, request.query.get("deviceId"), request.query.get("name")
        )
        ws = web.WebSocketResponse(
            heartbeat=self.heartbeat_s,
            max_msg_size=16 * 1024,
            compress=False,
            timeout=2.0,
            writer_limit=0,  # every write waits on the transport's drain waiter when paused
        )
        await ws.prepare(request)
        _small_send_buffer(request)
        try:
            link = await self.service.connect(device, owner, ws, request.transport)
        except Refused as exc:  # connected elsewhere meanwhile
            await ws.send_json(error(exc.message))
            await ws.close(code=4409, message=b"device already connected")
            return ws
        try:
            async with self.sockets.track(auth, ws, "web phone"):
                await self._device_messages(ws, link)
        finally:
            await self.service.disconnect(link)
        return ws

    async def _device_messages(self, ws: web.WebSocketResponse, link: DeviceLink) -> None:
        bad = 0
        async for msg in ws:
            if msg.type is WSMsgType.BINARY:
                try:
                    frame = parse_mic(msg.data)
                except ValueError as exc:
                    bad += 1
                    if bad == 1 or bad % 100 == 0:  # a flood of bad frames is not echoed
                        link.send_json(error(str(exc), bad))
                    continue
                await self.service.microphone(link, frame, msg.data)
            elif msg.type is WSMsgType.TEXT:
                try:
                    parse_device_text(msg.data)
                except ValueError as exc:
                    bad += 1
                    if bad == 1 or bad % 100 == 0:
                        link.send_json(error(str(exc), bad))
                    continue
                link.send_json({"type": "Pong"})
            elif msg.type is WSMsgType.ERROR:
                break
