"""What a live call is made of, as the rest of ingest sees it: the upgrade's parameters,
the media and supervision contracts, and the small helpers every transport shares.

Split from :mod:`callscope.ingest.service` (#19); :mod:`callscope.ingest.live_call` holds the
call itself.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from callscope.media.pipeline import BlockSink, FrameCounters
from callscope.protocols.ringcx import StartMetadata

if TYPE_CHECKING:
    from callscope.ingest.live_call import LiveCall

__all__ = [
    "UPGRADE_KEYS",
    "CallLog",
    "CallMedia",
    "CloseFn",
    "PingFn",
    "SupervisionHooks",
    "Tally",
    "UpgradeParams",
    "mask_number",
    "new_call_id",
    "start_values",
]

#: Upgrade query parameter names (spec §11.3 proposal: the Start metadata key names).
UPGRADE_KEYS = (
    "callId", "sessionId", "ani", "dnis", "accountId", "subaccountId", "rcAccountId",
    "agentId", "productType", "productId",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class UpgradeParams:
    """What the upgrade request's query string says about the call (secret removed)."""

    values: Mapping[str, str]

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> UpgradeParams:
        return cls({k: query[k][:64] for k in UPGRADE_KEYS if query.get(k)})

    def get(self, key: str) -> str | None:
        return self.values.get(key)


class SupervisionHooks(Protocol):
    """What ingest tells supervision about a call's life."""

    def call_started(self, call: LiveCall) -> None: ...
    def call_ended(self, call: LiveCall) -> None: ...
    async def call_transferred(self, call: LiveCall, old_agent: int | None) -> None: ...


class CallLog(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"[call {self.extra['call_id'] if self.extra else '?'}] {msg}", kwargs


class Tally(Protocol):
    """One side's frame accounting (a jitter buffer, or a dialog side's sum)."""

    @property
    def received(self) -> int: ...
    @property
    def late(self) -> int: ...
    @property
    def duplicate(self) -> int: ...
    @property
    def missing(self) -> int: ...


class CallMedia(Protocol):
    """A call's audio as the rest of callscope sees it: 20 ms stereo blocks to its sinks
    (:class:`~callscope.media.pipeline.CallMediaPipeline` for WebSocket streams,
    :class:`~callscope.ingest.dialog.DialogMedia` for gRPC dialogs)."""

    @property
    def sinks(self) -> list[BlockSink]: ...
    @property
    def written_frames(self) -> int: ...
    @property
    def buffers(self) -> Sequence[Tally]: ...
    def counters(self) -> FrameCounters: ...
    def finish(self, now: float) -> None: ...


CloseFn = Callable[[int, str], Awaitable[None]]
PingFn = Callable[[], Coroutine[Any, Any, None]]


def start_values(meta: StartMetadata) -> dict[str, Any]:
    """The Start metadata under its wire names (spec §11.3), as stored with the call."""
    return {
        "callId": meta.call_id,
        "sessionId": meta.session_id,
        "ani": meta.ani,
        "dnis": meta.dnis,
        "accountId": meta.account_id,
        "subaccountId": meta.subaccount_id,
        "rcAccountId": meta.rc_account_id,
        "agentId": meta.agent_id,
        "productType": meta.product_type,
        "productId": meta.product_id,
        "contentType": meta.content_type,
        "sampleRateHertz": meta.sample_rate_hz,
    }


def new_call_id() -> str:
    """Sortable, unique call id: time in ms + 48 random bits."""
    return f"c{int(time.time() * 1000):013x}{secrets.token_hex(6)}"


def mask_number(number: str | None) -> str:
    # Phone numbers are personal data: logs keep the last four digits only.
    if not number:
        return "-"
    return "…" + number[-4:]
