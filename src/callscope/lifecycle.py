"""The server's life, starting → serving → draining → stopping, and its graceful drain.

A drain starts on SIGTERM or SIGINT, or on ``POST /admin/drain`` (``callscope drain``):

* new ingest streams are refused at once: a WebSocket upgrade gets 503 with ``Retry-After``
  (RingCX retries a 5xx: "If the websocket initiation fails with a 5xx error, we will
  attempt to retry up to 3 attempts") and a gRPC stream ``UNAVAILABLE``;
* ``/health/ready`` answers 503 at once (a load balancer stops sending new work), while
  ``/health/live`` stays 200 (nothing should restart the process);
* live calls get ``drain_timeout_s`` to end on their own, then the shutdown ends the rest as
  it always has (``interrupted``, recording closed). A second signal cuts the wait short.

:class:`Lifecycle` is the state; :func:`drain` is the wait. The signal handling and the
listening socket are the app's (:func:`callscope.server.serve`).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Sized
from typing import Final, Protocol

from callscope.errors import InvalidState

__all__ = ["Lifecycle", "Phase", "Streams", "drain"]

logger = logging.getLogger("callscope.lifecycle")


class Phase(enum.StrEnum):
    STARTING = "starting"
    SERVING = "serving"
    DRAINING = "draining"
    STOPPING = "stopping"


#: the moves each phase allows (a start-up can be stopped or drained before it serves)
_NEXT: Final[dict[Phase, frozenset[Phase]]] = {
    Phase.STARTING: frozenset({Phase.SERVING, Phase.DRAINING, Phase.STOPPING}),
    Phase.SERVING: frozenset({Phase.DRAINING, Phase.STOPPING}),
    Phase.DRAINING: frozenset({Phase.STOPPING}),
    Phase.STOPPING: frozenset(),
}


class Lifecycle:
    """Where the server is in its life. One per process; ingest and readiness read it."""

    def __init__(self) -> None:
        self.phase = Phase.STARTING
        #: set once a drain is asked for (signal or request): the app's serve loop waits on it
        self.drain_requested = asyncio.Event()
        #: set by a second signal: the drain stops waiting for calls to end
        self.cut = asyncio.Event()
        #: who asked for the drain (``SIGTERM``, ``drain request``)
        self.drain_reason = ""

    @property
    def draining(self) -> bool:
        """Whether new streams are refused and readiness fails (draining or stopping)."""
        return self.phase in (Phase.DRAINING, Phase.STOPPING)

    def _move(self, new: Phase) -> None:
        if new not in _NEXT[self.phase]:
            raise InvalidState(f"server lifecycle: cannot go from {self.phase} to {new}")
        logger.debug("lifecycle: %s → %s", self.phase, new)
        self.phase = new

    def serving(self) -> None:
        """The listener is up (from ``starting``)."""
        self._move(Phase.SERVING)

    def request_drain(self, reason: str) -> bool:
        """Start draining. Returns False when already draining or stopping (nothing changes)."""
        if self.draining:
            return False
        self._move(Phase.DRAINING)
        self.drain_reason = reason
        self.drain_requested.set()
        return True

    def cut_short(self) -> None:
        """Stop waiting for calls to end (a second signal): the shutdown ends them now."""
        self.cut.set()

    def stopping(self) -> None:
        """The shutdown runs (idempotent)."""
        if self.phase is not Phase.STOPPING:
            self._move(Phase.STOPPING)


class Streams(Protocol):
    """What a drain watches: the open streams (:class:`~callscope.ingest.IngestService`)."""

    @property
    def connections(self) -> Sized: ...
    @property
    def idle(self) -> asyncio.Event: ...


async def drain(
    lifecycle: Lifecycle, streams: Streams, timeout_s: float, *, report_every_s: float = 5.0
) -> int:
    """Wait until every open stream has ended on its own, ``timeout_s`` has passed, or the
    drain is cut short, logging how many are left every ``report_every_s``.

    Returns:
        How many streams are still open (the shutdown ends them as ``interrupted``).
    """
    started = time.monotonic()
    deadline = started + timeout_s
    logger.warning(
        "draining (%s): new streams refused, readiness failing; %d live stream(s) get up "
        "to %g s to end",
        lifecycle.drain_reason or "requested",
        len(streams.connections),
        timeout_s,
    )
    idle = asyncio.ensure_future(streams.idle.wait())
    cut = asyncio.ensure_future(lifecycle.cut.wait())
    try:
        while not (idle.done() or cut.done()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.wait(
                (idle, cut),
                timeout=min(remaining, report_every_s),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not (idle.done() or cut.done()) and time.monotonic() < deadline:
                logger.info(
                    "draining: %d live stream(s) left, %.0f s to go",
                    len(streams.connections),
                    deadline - time.monotonic(),
                )
    finally:
        idle.cancel()
        cut.cancel()
    left = len(streams.connections)
    took = time.monotonic() - started
    if not left:
        logger.warning("drained: every stream ended on its own (%.1f s)", took)
    elif lifecycle.cut.is_set():
        logger.warning("drain cut short after %.1f s: ending %d live stream(s) now", took, left)
    else:
        logger.warning(
            "drain timed out after %g s: ending %d live stream(s) as interrupted", timeout_s, left
        )
    return left
