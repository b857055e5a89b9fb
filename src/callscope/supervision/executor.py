"""The supervision shell's effect runner: it carries out what the core decides.

Each effect of ``callscope.supervision.effects`` has one handler here: control messages and
state pushes to web phones, supervisor parties in the telephony session, the call's audio tap
(a guarded pipeline sink: one that fails ends its supervision, never the call), transcript
feeds for barging supervisors, and the relay's cluster messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from callscope.calls.telephony import TelephonyService, party_ids
from callscope.events.payloads import EventKind
from callscope.identity.service import IdentityService
from callscope.metrics import Registry
from callscope.store.directory import DirectoryRepository
from callscope.store.models import Extension, OutboxEvent
from callscope.store.repo import utcnow
from callscope.store.writer import CallRowWriter
from callscope.supervision import effects as fx
from callscope.supervision.book import last_states
from callscope.supervision.core import SupervisionCore
from callscope.supervision.links import DeviceLink
from callscope.supervision.model import (
    CallView,
    Stream,
    Supervision,
)
from callscope.supervision.relay import LocalRelay, RemoteDeviceLink
from callscope.supervision.router import AudioRouter, tap
from callscope.supervision.webphone import (
    mode_changed,
    notice,
    state_message,
    stream_message,
)

if TYPE_CHECKING:
    from callscope.cluster.node import Cluster
    from callscope.ingest.service import LiveCall
    from callscope.media.pipeline import BlockSink
    from callscope.supervision.audit import SupervisionAudit
    from callscope.transcription.live import PartyFeed, TranscriptHub

__all__ = ["EffectRunner"]

logger = logging.getLogger("callscope.supervision")

Commit = asyncio.Future[None]


class EffectRunner:
    """The state of the shell and the handlers of the core's effects."""

    def __init__(
        self,
        *,
        directory: DirectoryRepository,
        identity: IdentityService,
        telephony: TelephonyService,
        rows: CallRowWriter,
        registry: Registry,
        live_calls: dict[str, LiveCall],
        transcripts: TranscriptHub | None = None,
        queue_frames: int = 100,
        write_timeout_s: float = 5.0,
    ) -> None:
        self.directory = directory
        self.identity = identity
        self.telephony = telephony
        self.rows = rows
        self.live_calls = live_calls
        self.transcripts = transcripts
        self.queue_frames = queue_frames
        self.write_timeout_s = write_timeout_s
        self.core = SupervisionCore()
        self.devices: dict[int, DeviceLink] = {}
        #: cluster: web phones of other nodes supervising calls of this node
        self.remote: dict[int, RemoteDeviceLink] = {}
        self._closing: dict[int, DeviceLink] = {}
        #: set once a web phone of this node is let go of (Offline, its supervisions ended)
        self._gone: dict[int, asyncio.Event] = {}
        self.relay: LocalRelay = LocalRelay()
        self.cluster: Cluster | None = None
        #: stored on the device row while a web phone is connected here
        self.node_id: str | None = None
        self._taps: dict[str, tuple[LiveCall, BlockSink]] = {}
        self._feeds: dict[str, PartyFeed] = {}
        self._agents: dict[int, Extension] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._dropped_closed = 0
        #: why new web phones are refused (this node fenced itself off its cluster)
        self.fenced: str | None = None
        #: told of every supervision that starts, changes mode or ends (the audit trail)
        self.audit: SupervisionAudit | None = None
        reg = registry
        reg.gauge(
            "callscope_supervised_calls",
            "Calls being supervised now.",
            lambda: len(self.core.by_call),
        )
        reg.gauge(
            "callscope_webphones_online", "Connected web-phone devices.", lambda: len(self.devices)
        )
        reg.gauge(
            "callscope_listen_queued_frames",
            "Audio frames waiting in the devices' queues.",
            lambda: sum(len(d.audio) for d in self.devices.values()),
        )
        reg.counter(
            "callscope_listen_frames_dropped_total",
            "Audio frames a device was too slow to take (its oldest were dropped).",
            live=lambda: [((), float(self.dropped_frames))],
        )
        self.router = AudioRouter(
            reg.counter(
                "callscope_talk_frames_total",
                "Supervisor microphone frames sent into calls, by mode.",
            )
        )
        self.listen_delay = reg.histogram(
            "callscope_listen_delay_seconds",
            "From a call frame's arrival to its write on the supervisor's device socket.",
            (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0),
        )
        self._handlers: dict[type, Callable[[Any], Commit | None]] = {
            fx.AttachTap: self._attach_tap,
            fx.DetachTap: self._detach_tap,
            fx.AddParty: self._add_party,
            fx.RemoveParty: self._remove_party,
            fx.StreamStarted: lambda e: self._tell(
                e.stream, stream_message("StreamStarted", e.stream)
            ),
            fx.StreamEnded: lambda e: self._tell(
                e.stream, stream_message("StreamEnded", e.stream, reason=e.reason)
            ),
            fx.StreamTransferred: lambda e: self._tell(
                e.stream,
                stream_message("StreamTransferred", e.stream, agentExtensionId=str(e.agent_id)),
            ),
            fx.ModeChanged: self._mode_changed,
            fx.Notice: lambda e: self._send(e.device_id, notice(e.message)),
            fx.ClearTalkback: self._clear_talkback,
            fx.OpenFeed: self._feed_open,
            fx.CloseFeed: self._close_feed,
            fx.PushState: self._push_state,
            fx.ShareOrder: self._share_order,
            fx.OrderUsed: self._order_used,
        }

    @property
    def dropped_frames(self) -> int:
        return self._dropped_closed + sum(d.dropped for d in self.devices.values())

    # -- effects -----------------------------------------------------------------------------

    def run(self, effects: list[fx.Effect]) -> list[tuple[fx.Effect, Commit]]:
        """Carry out the core's effects in order (one state push per device: its last);
        returns the commits some of them made."""
        commits: list[tuple[fx.Effect, Commit]] = []
        for effect in last_states(effects):
            commit = self._handlers[type(effect)](effect)
            if commit is not None:
                commits.append((effect, commit))
        return commits

    def _link(self, device_id: int) -> DeviceLink | None:
        return (
            self.devices.get(device_id)
            or self.remote.get(device_id)
            or self._closing.get(device_id)
        )

    def _send(self, device_id: int, message: dict[str, Any]) -> None:
        link = self._link(device_id)
        if link is not None:
            link.send_json(message)

    def _tell(self, stream: Stream, message: dict[str, Any]) -> None:
        self._send(stream.supervision.device_id, message)

    def _audit(self, sup: Supervision, ended: bool = False) -> None:
        record = self.core.devices.get(sup.device_id)
        if self.audit is None:
            return
        if ended:
            self.audit.ended(sup.device_id, sup.call_id)
        elif record is not None:
            view = record.view
            self.audit.started(
                view.account_id, view.owner_id, sup.device_id, sup.call_id, str(sup.mode)
            )

    def _mode_changed(self, effect: fx.ModeChanged) -> None:
        self._send(effect.supervision.device_id, mode_changed(effect.supervision))
        self._audit(effect.supervision)

    def _attach_tap(self, effect: fx.AttachTap) -> None:
        sup = effect.supervision
        self._audit(sup)
        call, link = self.live_calls.get(sup.call_id), self._link(sup.device_id)
        if call is None or link is None:
            return
        sink = call.add_sink(tap(sup, link), name="supervision", on_error=self._tap_failed(sup))
        self._taps[sup.call_id] = (call, sink)
        self.relay.hold(link)

    def _tap_failed(self, sup: Supervision) -> Callable[[Exception], None]:
        def failed(exc: Exception) -> None:
            if self.core.by_call.get(sup.call_id) is sup:  # not a later supervision's
                self.run(self.core.end(sup.call_id, f"audio to the device failed: {exc}"))

        return failed

    def _detach_tap(self, effect: fx.DetachTap) -> None:
        sup = effect.supervision
        self._audit(sup, ended=True)
        held = self._taps.pop(sup.call_id, None)
        if held is not None:
            held[0].remove_sink(held[1])
        link = self._link(sup.device_id)
        record = self.core.devices.get(sup.device_id)
        if link is not None and (record is None or not record.supervisions):
            self.relay.release(link)

    def _add_party(self, effect: fx.AddParty) -> Commit | None:
        stream = effect.stream
        call = self.live_calls.get(stream.supervision.call_id)
        link = self._link(stream.supervision.device_id)
        if call is None or call.session is None or link is None:
            return None
        agent = self._agents.get(effect.agent_id) if effect.agent_id is not None else None
        view, committed = self.telephony.add_supervisor(call.session, link.owner, link.id, agent)
        stream.supervisor_party = view["id"]
        return committed

    def _remove_party(self, effect: fx.RemoveParty) -> Commit | None:
        call = self.live_calls.get(effect.stream.supervision.call_id)
        if call is None or call.session is None or call.finished:
            return None
        return self.telephony.remove_party(
            call.session, effect.stream.supervisor_party, effect.reason
        )

    def _clear_talkback(self, effect: fx.ClearTalkback) -> None:
        call = self.live_calls.get(effect.call_id)
        if call is not None and call.talkback is not None and not call.finished:
            self.spawn(call.talkback.clear())

    def _open_feed(self, sup: Supervision) -> PartyFeed | None:
        """A barging supervisor is a speaker of the call: transcribed on a channel of its own."""
        feed = self._feeds.get(sup.call_id)
        if self.transcripts is None or feed is not None or not sup.streams:
            return feed
        transcript = self.transcripts.get(sup.call_id)
        if transcript is not None and not transcript.ended:
            feed = transcript.add_party("supervisor", sup.streams[0].supervisor_party)
            self._feeds[sup.call_id] = feed
        return feed

    def _feed_open(self, effect: fx.OpenFeed) -> None:
        self._open_feed(effect.supervision)

    def _close_feed(self, effect: fx.CloseFeed) -> None:
        feed = self._feeds.pop(effect.supervision.call_id, None)
        if feed is not None:
            feed.end()

    def _push_state(self, effect: fx.PushState) -> None:
        """DeviceStateChangeMessage to the device and, durably, to its owner's subscriptions."""
        link = self._link(effect.device_id)
        if link is None:
            return
        link.send_json(state_message(effect.state))
        event = OutboxEvent(
            account_id=link.device.account_id,
            kind=EventKind.DEVICE,
            extension_id=link.owner.id,
            payload=effect.state,
            created_at=utcnow(),
        )
        self.rows.write([event])

    def _share_order(self, effect: fx.ShareOrder) -> None:
        link, record = self._link(effect.device_id), self.core.devices.get(effect.device_id)
        if link is not None:
            self.relay.share_order(link, record.order if record is not None else None)

    def _order_used(self, effect: fx.OrderUsed) -> None:
        link = self._link(effect.device_id)
        if link is not None:
            self.relay.order_used(link)

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- facts ---------------------------------------------------------------------------------

    @staticmethod
    def view_of(call: LiveCall) -> CallView:
        """The call as the core sees it."""
        live = call.session
        assert live is not None
        assert call.call_id is not None
        return CallView(
            call_id=call.call_id,
            session_id=live.session_id,
            agent_extension=live.agent_extension,
            agent_party=live.agent_party or None,
            customer_party=party_ids(live.call_id)[0],
            two_way=call.talkback is not None,
            live=not call.finished,
        )
