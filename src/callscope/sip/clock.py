"""The node's RTP clock: one 20 ms timer that sends the next packet of every answered call.

Each tick asks every call's :class:`~callscope.sip.pacing.RtpPacer` for its packet and sends
it on that call's RTP socket, so a node with N calls wakes 50 times a second, not 50 × N.
The timer runs only while some call is answered. Ticks are scheduled on an absolute grid
(``loop.time()``): a late wake-up runs the ticks it missed (the audio that came meanwhile
leaves at once rather than overflowing the jitter buffers), up to ``max_catch_up_ticks``
(the buffers' bound: older audio was dropped anyway); beyond that a new grid starts from
now. Numbers and timestamps of each stream go on from its last packet either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Final

from callscope.sip.pacing import PACKET_S

if TYPE_CHECKING:
    from callscope.sip.link import SipCall, SipDeviceLink

__all__ = ["RtpClock"]

logger = logging.getLogger("callscope.sip")

MAX_CATCH_UP_TICKS: Final = 8  # RtpPacer's depth_packets


class RtpClock:
    """Paces the RTP of every answered SIP call of this node."""

    def __init__(
        self, *, packet_s: float = PACKET_S, max_catch_up_ticks: int = MAX_CATCH_UP_TICKS
    ) -> None:
        if packet_s <= 0 or max_catch_up_ticks < 1:
            raise ValueError("need packet_s > 0 and max_catch_up_ticks ≥ 1")
        self.packet_s = packet_s
        self.max_catch_up_ticks = max_catch_up_ticks
        self.calls: dict[SipCall, SipDeviceLink] = {}
        self.ticks = 0
        #: ticks not run because the loop was stalled for longer than the catch-up allows
        self.skipped = 0
        self._task: asyncio.Task[None] | None = None

    def add(self, link: SipDeviceLink, call: SipCall) -> None:
        """Pace ``call`` (answered, with its pacer) from the next tick on."""
        self.calls[call] = link
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="callscope-sip-rtp-clock")
            logger.debug("RTP clock started")

    @property
    def idle(self) -> bool:
        """No timer runs (no answered call)."""
        return self._task is None or self._task.done()

    def discard(self, call: SipCall) -> None:
        """Stop pacing ``call`` (it ended)."""
        link = self.calls.pop(call, None)
        p = call.pacer
        if link is not None and p is not None:
            logger.info(
                "SIP phone %s: RTP ended after %d packets (underruns %d, drained %d, stale frames "
                "dropped %d)",
                link.id,
                p.sent,
                p.underruns,
                p.drained,
                p.dropped,
            )

    async def stop(self) -> None:
        self.calls.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()  # the next tick's time on the grid
        while self.calls:
            behind = int((loop.time() - due) / self.packet_s) + 1  # grid ticks passed
            if behind > self.max_catch_up_ticks:  # stalled too long: a new grid from now
                self.skipped += behind - self.max_catch_up_ticks
                due += (behind - self.max_catch_up_ticks) * self.packet_s
                behind = self.max_catch_up_ticks
            for n in range(behind):
                if n:
                    await asyncio.sleep(0)  # audio that came meanwhile is read in between
                self.tick()
            due += behind * self.packet_s
            await asyncio.sleep(max(0.0, due - loop.time()))
        logger.debug("RTP clock stopped (no answered call)")

    def tick(self) -> None:
        """Send each paced call's packet of this tick."""
        self.ticks += 1
        now = time.monotonic()
        for call, link in list(self.calls.items()):
            pacer, rtp, answer = call.pacer, call.rtp, call.answer
            if pacer is None or rtp is None or answer is None or rtp.transport is None:
                continue
            if rtp.transport.is_closing():
                self.calls.pop(call, None)
                continue
            pacer.codec = answer.codec  # a re-INVITE may have changed it
            for packet in pacer.tick(held=call.held):
                rtp.transport.sendto(packet.data, (answer.host, answer.port))
                link.sent += 1
                if link.delay is not None:
                    link.delay.observe(now - packet.arrived)
