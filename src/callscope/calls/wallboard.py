"""What the supervisor's wallboard shows of each live call beyond its row: the customer's
live sentiment and the assist alerts and suggestions raised so far.

:class:`WallboardFeed` reads every live transcript event of the bus (this node's and, in a
cluster, the others'), keeps per call the customer's running sentiment and the assist items,
stores the items the call's own node raised with the call (``call_alerts``, shown on the
replay's timeline), and publishes a compact ``wallboard.*`` event on ``{account}.wallboard``
for the one wallboard socket of each dashboard (delivered on this node only: every node
makes its own from the same transcript events).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from callscope.background import BackgroundTask
from callscope.events.bus import Bus, BusOverflow, Event
from callscope.insights.analyzers import compound
from callscope.store.models import CallAlertRow
from callscope.store.repo import CallRepository
from callscope.store.writer import CallRowWriter

__all__ = ["CallSummary", "WallboardFeed", "sentiment_label", "wallboard_topic"]

logger = logging.getLogger("callscope.wallboard")

#: weight of the newest customer utterance in the running sentiment
SMOOTHING = 0.5
#: most assist items kept per live call
MAX_ITEMS = 50


def wallboard_topic(account_id: str) -> str:
    return f"{account_id}.wallboard"


def sentiment_label(score: float | None) -> str | None:
    """Negative / Neutral / Positive with VADER's usual ±0.05 thresholds."""
    if score is None:
        return None
    if score <= -0.05:
        return "Negative"
    if score >= 0.05:
        return "Positive"
    return "Neutral"


@dataclass
class CallSummary:
    """A live call's running figures on the wallboard."""

    account_id: str
    agent_id: str | None
    sentiment: float | None = None
    items: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        score = None if self.sentiment is None else round(self.sentiment, 3)
        return {
            "sentiment": {"score": score, "label": sentiment_label(self.sentiment)},
            "alerts": [i for i in self.items if i.get("type") == "alert"],
            "suggestions": [i for i in self.items if i.get("type") == "suggestion"],
        }


class WallboardFeed:
    """Args:
    bus: the (cluster) bus the live transcripts publish on.
    calls: to learn a call's account and agent (read once per call).
    rows: where the call's own node stores its assist items.
    is_local: whether this node carries the call (its transcript is here).
    """

    def __init__(
        self,
        bus: Bus,
        calls: CallRepository,
        rows: CallRowWriter,
        is_local: Callable[[str], bool],
    ) -> None:
        self.bus = bus
        self.calls = calls
        self.rows = rows
        self.is_local = is_local
        self.live: dict[str, CallSummary] = {}
        self._task = BackgroundTask("callscope-wallboard-feed", self._run)

    def summary(self, call_id: str) -> CallSummary | None:
        return self.live.get(call_id)

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        while True:
            # every topic: partials are dropped first when this reader falls behind
            with self.bus.subscribe("", maxsize=5000) as sub:
                try:
                    async for event in sub:
                        try:
                            await self.handle(event)
                        except Exception:
                            logger.exception("wallboard: event %s", event.get("event"))
                except BusOverflow:
                    logger.warning("wallboard feed fell behind: some live figures were missed")

    async def _summary_for(self, call_id: str) -> CallSummary | None:
        summary = self.live.get(call_id)
        if summary is None:
            call = await self.calls.get(call_id)
            if call is None or call.account_ref is None:
                return None
            summary = self.live[call_id] = CallSummary(call.account_ref, call.agent_id)
        return summary

    async def handle(self, event: Event) -> None:
        kind = event.get("event")
        call_id = event.get("callId")
        if not isinstance(call_id, str) or kind not in (
            "transcript.final",
            "assist.alert",
            "assist.suggestion",
            "transcript.completed",
        ):
            return
        if kind == "transcript.completed":
            self.live.pop(call_id, None)
            return
        if kind == "transcript.final" and event.get("speaker") != "customer":
            return
        summary = await self._summary_for(call_id)
        if summary is None:
            return
        if kind == "transcript.final":
            score = compound(str(event.get("text", "")))
            old = summary.sentiment
            summary.sentiment = score if old is None else old + SMOOTHING * (score - old)
            self._publish(summary, call_id, "wallboard.sentiment")
        else:
            self._item(summary, call_id, event)

    def _item(self, summary: CallSummary, call_id: str, event: Event) -> None:
        item = {k: v for k, v in event.items() if k not in ("event", "callId")}
        if any(i.get("id") == item.get("id") for i in summary.items):
            return
        summary.items = [*summary.items, item][-MAX_ITEMS:]
        if self.is_local(call_id):
            self.rows.create(
                CallAlertRow(
                    call_id=call_id,
                    item_id=str(item.get("id", ""))[:80],
                    type=str(item.get("type", "alert"))[:16],
                    rule=str(item.get("rule", ""))[:64],
                    severity=str(item.get("severity", "info"))[:16],
                    title=str(item.get("title", ""))[:200],
                    text=str(item.get("text", "")),
                    speaker=item.get("speaker"),
                    at_ms=int(item.get("atMs", 0)),
                )
            )
        self._publish(summary, call_id, f"wallboard.{item.get('type', 'alert')}", item=item)

    def _publish(self, summary: CallSummary, call_id: str, kind: str, **extra: Any) -> None:
        event = {
            "event": kind,
            "callId": call_id,
            "agentId": summary.agent_id,
            **summary.json(),
            **extra,
        }
        # this node's subscribers only: every node makes the same from the shared events
        Bus.publish(self.bus, wallboard_topic(summary.account_id), event)

    async def monitoring_changed(self, call_id: str) -> None:
        """A supervisor began, changed mode or left (from the supervision audit)."""
        summary = self.live.get(call_id)
        if summary is not None:
            account, agent = summary.account_id, summary.agent_id
        else:
            call = await self.calls.get(call_id)
            if call is None or call.account_ref is None:
                return
            account, agent = call.account_ref, call.agent_id
        event = {"event": "wallboard.monitoring", "callId": call_id, "agentId": agent}
        Bus.publish(self.bus, wallboard_topic(account), event)
