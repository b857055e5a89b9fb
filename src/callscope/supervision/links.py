"""What a web phone is sent: bounded queues and one sender per device (the asyncio side).

Audio and control go through two bounded queues. Control messages go first and are never
dropped: a device that leaves ``CONTROL_LIMIT`` of them unsent has stopped reading and goes
offline. The audio queue holds at most ``queue_frames`` frames and a full queue loses its
oldest frame (stale audio is worth less than the newest), so a device that stops reading
loses its own audio and delays nothing else.

Backpressure: the socket's transport pauses writing above ``WRITE_BUFFER_LIMIT`` bytes; the
WebSocket writer then waits on the transport's drain waiter (no polling), and every write
has a timeout: a device that takes nothing for ``write_timeout_s`` is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Final

import orjson

from callscope.supervision.model import DeviceView

if TYPE_CHECKING:
    from aiohttp import web

    from callscope.metrics import Histogram
    from callscope.store.models import Device, Extension

__all__ = ["CONTROL_LIMIT", "DEVICE_ID", "WRITE_BUFFER_LIMIT", "DeviceLink", "RelayedStreams"]

logger = logging.getLogger("callscope.supervision")

#: audio held in a device socket's user-space write buffer before its queue takes over
#: (≈ 1 s of one stream)
WRITE_BUFFER_LIMIT: Final = 16 * 1024
#: control messages a device may leave unsent before it counts as gone
CONTROL_LIMIT: Final = 1000
#: the device id as cluster messages about it begin
DEVICE_ID: Final = struct.Struct("<Q")


class RelayedStreams:
    """The streams of calls other nodes carry that a device of this node receives.

    Each node numbers a device's streams from 1, so two calls on two nodes would reach the
    device with the same stream id. The device's node gives each relayed stream an id of the
    device's own (taken from the same space as its local streams) and translates both ways:
    control messages and listen frames in, microphone frames, digits and hang-ups out."""

    def __init__(self) -> None:
        self._local: dict[tuple[str, int], int] = {}  # (node, its stream id) → the device's
        self._remote: dict[int, tuple[str, int]] = {}  # the device's id → (node, its id)
        #: the device's id → the StreamStarted it was sent (with the device's id)
        self.started: dict[int, dict[str, Any]] = {}

    def local(self, node: str, stream: int) -> int | None:
        return self._local.get((node, stream))

    def remote(self, stream: int) -> tuple[str, int] | None:
        return self._remote.get(stream)

    def add(self, node: str, stream: int, local: int) -> None:
        self._local[(node, stream)] = local
        self._remote[local] = (node, stream)

    def remove(self, local: int) -> None:
        found = self._remote.pop(local, None)
        if found is not None:
            del self._local[found]
        self.started.pop(local, None)

    def of_node(self, node: str) -> list[int]:
        """The device's ids of the streams ``node`` sends."""
        return [local for local, (n, _) in self._remote.items() if n == node]

    def __len__(self) -> int:
        return len(self._remote)


class DeviceLink:
    """A web phone connected to this node: what it is sent (bounded), its sender task."""

    remote: bool = False

    def __init__(
        self,
        device: Device,
        owner: Extension,
        ws: web.WebSocketResponse | None,
        *,
        queue_frames: int,
        write_timeout_s: float = 5.0,
        delay: Histogram | None = None,
    ) -> None:
        if queue_frames < 1:
            raise ValueError("queue_frames must be at least 1 (frames of 20 ms)")
        self.device = device
        self.owner = owner
        self.ws = ws
        self.audio: deque[tuple[bytes, float]] = deque()
        self.control: deque[str] = deque()
        self.queue_frames = queue_frames
        self.write_timeout_s = write_timeout_s
        self.delay = delay
        self.wake = asyncio.Event()
        self.dropped = 0
        self.sent = 0
        self.mic_ignored = 0
        self.online = True
        self._sender: asyncio.Task[None] | None = None
        #: cluster: nodes that carry calls this device supervises (its microphone goes there)
        self.remote_nodes: set[str] = set()
        #: cluster: streams of calls on other nodes (told StreamEnded if one dies)
        self.relayed = RelayedStreams()
        self.prefix = DEVICE_ID.pack(device.id)

    @property
    def id(self) -> int:
        return self.device.id

    @property
    def view(self) -> DeviceView:
        return DeviceView(
            self.device.id, self.owner.id, self.owner.extension_number, self.device.account_id
        )

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name=f"callscope-device-{self.id}")

    async def stop(self) -> None:
        self.online = False
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender

    def send_audio(self, frame: bytes, arrived: float) -> None:
        """Queue a frame; never blocks. A full queue loses its oldest frame."""
        if not self.online:
            return
        if len(self.audio) >= self.queue_frames:
            self.audio.popleft()
            self.dropped += 1
        self.audio.append((frame, arrived))
        self.wake.set()

    def send_json(self, message: dict[str, Any]) -> None:
        """Queue a control message (sent before queued audio; never dropped: a device with
        ``CONTROL_LIMIT`` of them unsent goes offline instead)."""
        if not self.online:
            return
        if len(self.control) >= CONTROL_LIMIT:
            self.online = False
            logger.warning("web phone %s left %d messages unread: offline", self.id, CONTROL_LIMIT)
            return
        self.control.append(orjson.dumps(message).decode())
        self.wake.set()

    async def _send_loop(self) -> None:
        ws = self.ws
        assert ws is not None
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                await self._drain_queues(ws)
        except (ConnectionError, RuntimeError):
            self.online = False  # the read loop sees the close and cleans up
        except TimeoutError:
            self.online = False
            logger.warning(
                "web phone %s took nothing for %.0f s: closing it", self.id, self.write_timeout_s
            )
            with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
                await asyncio.wait_for(
                    ws.close(code=1008, message=b"device stopped reading"), self.write_timeout_s
                )

    async def _drain_queues(self, ws: web.WebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.write_timeout_s
        # one deadline, moved on after every write: each write gets ``write_timeout_s``
        async with asyncio.timeout_at(loop.time() + timeout) as deadline:
            while self.control or self.audio:
                if self.control:
                    await ws.send_str(self.control.popleft())
                else:
                    # Backed up, the write waits on the transport's drain waiter: what waits
                    # meanwhile is this queue, which keeps the newest audio.
                    frame, arrived = self.audio.popleft()
                    await ws.send_bytes(frame)
                    self.sent += 1
                    if self.delay is not None:
                        self.delay.observe(time.monotonic() - arrived)
                deadline.reschedule(loop.time() + timeout)
