"""The way back into a two-way call stream (Twilio Media Streams ``media``, ``mark``,
``clear``): what supervision's talkback and coaching write into."""

from __future__ import annotations

import contextlib
from collections import Counter as TallyCounter
from collections.abc import Awaitable, Callable, Iterable

from callscope.protocols.twilio import Track, build_clear, build_mark, build_outbound_media

__all__ = ["SendFn", "Talkback"]

SendFn = Callable[[str], Awaitable[None]]


class Talkback:
    """The way back into a two-way call stream: audio to play to the agent, the customer or
    both (``media`` on the Twilio-style stream), ``mark`` and ``clear``."""

    def __init__(self, stream_sid: str, send: SendFn) -> None:
        self.stream_sid = stream_sid
        self._send = send
        self.frames_sent: TallyCounter[str] = TallyCounter()
        self.marks_sent = 0
        self.marks_played: list[str] = []
        self.closed = False

    async def media(self, tracks: Iterable[Track], ulaw: bytes) -> bool:
        """Play ``ulaw`` (8 kHz μ-law) into each track's direction. False once closed."""
        if self.closed:
            return False
        try:
            for track in tracks:
                await self._send(build_outbound_media(self.stream_sid, track, ulaw))
                self.frames_sent[track.value] += 1
        except (ConnectionError, RuntimeError):
            self.closed = True
            return False
        return True

    async def mark(self, name: str) -> None:
        if not self.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._send(build_mark(self.stream_sid, name))
                self.marks_sent += 1

    async def clear(self) -> None:
        """Drop whatever the platform still holds to play (a coach who stopped talking)."""
        if not self.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._send(build_clear(self.stream_sid))
