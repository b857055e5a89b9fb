"""Web phones coming and going: open, connect, disconnect, fence, and the cluster's view.

A supervisor's web phone is a ``WebPhone`` device, Online while its WebSocket is connected
to a node (``device.node_id``). In a cluster, a web phone connected to another node is
reached through that node (``callscope.supervision.relay``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from callscope.digits import is_digits
from callscope.errors import ErrorKind, SupervisionRefused
from callscope.supervision import effects as fx
from callscope.supervision.executor import EffectRunner
from callscope.supervision.links import WRITE_BUFFER_LIMIT, DeviceLink
from callscope.supervision.relay import RemoteDeviceLink
from callscope.supervision.webphone import device_connected, notice

if TYPE_CHECKING:
    from aiohttp import web

    from callscope.identity.model import AuthContext
    from callscope.store.models import Device, Extension

__all__ = ["DeviceSessions"]

logger = logging.getLogger("callscope.supervision")


def _refused(kind: ErrorKind, message: str, value: str | None = None) -> SupervisionRefused:
    return SupervisionRefused(kind, message, parameter="deviceId", value=value)


class DeviceSessions(EffectRunner):
    """The web phones of this node (and, in a cluster, of others that supervise here)."""

    async def open_device(
        self, auth: AuthContext, device_id: str | None, name: str | None
    ) -> tuple[Device, Extension]:
        """The web-phone device a connecting supervisor gets: the one named, else one of
        theirs that is not connected, else a new one."""
        owner = await self.directory.get_extension(auth.account_id, auth.extension_id)
        if owner is None:
            raise SupervisionRefused(ErrorKind.NOT_FOUND, "Your extension no longer exists")
        if device_id:
            return await self._named_device(auth, device_id), owner
        mine, _ = await self.directory.list_devices(
            auth.account_id, auth.extension_id, types=["WebPhone"], limit=1000
        )
        free = [d for d in mine if d.id not in self.devices and d.status != "Online"]
        if free:
            return free[0], owner
        device = await self.identity.create_device(
            auth.account_id,
            auth.extension_id,
            type="WebPhone",
            name=(name or f"{owner.name} web phone")[:200],
        )
        return device, owner

    async def _named_device(self, auth: AuthContext, device_id: str) -> Device:
        if not is_digits(device_id) or len(device_id) > 18:
            raise _refused(ErrorKind.INVALID, "deviceId must be digits", device_id)
        device = await self.directory.get_device(auth.account_id, int(device_id))
        if device is None or device.extension_id != auth.extension_id:
            raise SupervisionRefused(
                ErrorKind.NOT_FOUND,
                "Resource for parameter [deviceId] is not found",
                parameter="deviceId",
                value=device_id,
            )
        if device.type != "WebPhone":
            raise _refused(
                ErrorKind.INVALID,
                f"Device {device_id} is a {device.type}, not a WebPhone",
                device_id,
            )
        if self._leaving(device.id):
            # the same web phone reconnecting right after it closed: its cleanup is under way
            await self._left(device.id)
            device = await self.directory.get_device(auth.account_id, device.id) or device
        elif device.status == "Online" and device.id not in self.devices:
            # read before that cleanup ended (it may have ended since): read it again; a web
            # phone connected on another node is still Online
            device = await self.directory.get_device(auth.account_id, device.id) or device
        if device.id in self.devices or device.status == "Online":
            raise _refused(
                ErrorKind.CONFLICT, f"Device {device_id} is already connected", device_id
            )
        return device

    def _leaving(self, device_id: int) -> bool:
        """Whether the device's web phone has closed and is being cleaned up."""
        link = self.devices.get(device_id)
        return device_id in self._closing or (
            link is not None and (link.ws is None or link.ws.closed)
        )

    async def _left(self, device_id: int, timeout_s: float = 5.0) -> None:
        """Wait (``timeout_s`` at most) until a closed web phone is let go of, so a reconnect
        made as soon as the close is answered finds its device free, not "already
        connected"."""
        gone = self._gone.get(device_id)
        if gone is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gone.wait(), timeout_s)

    async def connect(
        self,
        device: Device,
        owner: Extension,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None = None,
    ) -> DeviceLink:
        if not await self.directory.set_device_status(device.id, "Online", self.node_id):
            raise _refused(ErrorKind.CONFLICT, f"Device {device.id} is already connected")
        if transport is not None:
            # the writer waits on the transport's drain waiter above this (no polling)
            transport.set_write_buffer_limits(high=WRITE_BUFFER_LIMIT)
        link = DeviceLink(
            device,
            owner,
            ws,
            queue_frames=self.queue_frames,
            write_timeout_s=self.write_timeout_s,
            delay=self.listen_delay,
        )
        self.devices[device.id] = link
        self._gone[device.id] = asyncio.Event()
        link.start()
        device.status = "Online"
        link.send_json(device_connected(device.id, owner.id))
        self.run(self.core.add_device(link.view))
        logger.info("web phone %s of extension %s online", device.id, owner.extension_number)
        return link

    def adopt_remote(self, link: RemoteDeviceLink) -> None:
        """Cluster: a web phone of another node, supervising here from now on."""
        self.remote[link.id] = link
        self.core.add_device(link.view)  # its node pushes its state: no push from here
        link.start()

    async def disconnect(self, link: DeviceLink) -> None:
        """The device went away: its supervisions end, its order is cancelled, it is Offline."""
        if isinstance(link, RemoteDeviceLink):
            if self.remote.get(link.id) is link:
                del self.remote[link.id]
                effects = self.core.remove_device(link.id)
                self.run([e for e in effects if not isinstance(e, fx.PushState)])
                await link.stop()
            return
        if self.devices.get(link.id) is not link:
            return
        del self.devices[link.id]  # first: a second caller (shutdown, the socket) stops here
        self._closing[link.id] = link
        try:
            self.relay.device_gone(link)
            effects = self.core.remove_device(link.id)
            self.run([e for e in effects if not isinstance(e, fx.PushState)])
            await link.stop()
            self._dropped_closed += link.dropped
            with contextlib.suppress(Exception):
                await self.directory.set_device_status(link.id, "Offline")
            self.run([e for e in effects if isinstance(e, fx.PushState)])
        finally:
            del self._closing[link.id]
            gone = self._gone.pop(link.id, None)
            if gone is not None:
                gone.set()
        logger.info("web phone %s offline", link.id)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.close_all(b"server shutting down")

    async def fence(self, reason: str) -> None:
        """This node was cut off from its cluster: its web phones are closed (1001, to
        connect to another node) and Offline, the supervisions they held end, and web phones
        of other nodes let go of this node's calls; new web phones are refused until
        :meth:`unfence`."""
        self.fenced = reason
        await self.close_all(b"node cut off from its cluster: reconnect")

    def unfence(self) -> None:
        self.fenced = None

    async def close_all(self, why: bytes) -> None:
        async def close(link: DeviceLink) -> None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                if link.ws is not None:
                    await link.ws.close(code=1001, message=why)
            await self.disconnect(link)

        # Together: a device that stopped reading holds its close for the close timeout.
        await asyncio.gather(*(close(link) for link in list(self.devices.values())))
        for remote in list(self.remote.values()):
            await self.disconnect(remote)

    async def device_states(self, auth: AuthContext) -> list[dict[str, Any]]:
        """The caller's connected web phones and registered SIP phones (on any node) as
        Genesys device states."""
        links: list[DeviceLink] = [
            link
            for link in self.devices.values()
            if link.owner.id == auth.extension_id and link.device.account_id == auth.account_id
        ]
        if self.cluster is not None:
            mine, _ = await self.directory.list_devices(
                auth.account_id, auth.extension_id, limit=1000
            )
            for device in mine:
                if device.id not in self.devices:
                    remote = await self.relay.remote_link(device)
                    if remote is not None:
                        links.append(remote)
        states = [self.core.state(link.id) for link in links if link.id in self.core.devices]
        return [state["devices"][0] for state in states]

    async def node_died(self, node: str) -> None:
        """Another node died: its web phones stop supervising calls here; devices here that
        supervised its calls are told each stream ended."""
        for link in [r for r in self.remote.values() if r.node == node]:
            await self.disconnect(link)
        for local in self.devices.values():
            streams = self.relay.forget_node(local, node)
            if node not in local.remote_nodes and not streams:
                continue
            local.remote_nodes.discard(node)
            why = f"node {node}, which carried the call, stopped"
            for message in streams:
                local.send_json({**message, "type": "StreamEnded", "reason": why})
            local.send_json(
                notice(
                    f"node {node}, which carried calls you supervised, stopped: those calls ended"
                )
            )
            self.run(self.core.push(local.id))
