"""The supervision records and the transitions that keep them consistent (pure).

:class:`SupervisionBook` holds who supervises which call on which device and the armed
monitoring orders, and the steps every operation of ``callscope.supervision.core`` is built
from: begin a supervision, add or remove a stream, end it, drop an order, switch modes.
Each returns the effects the shell carries out; none does I/O.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from callscope.errors import ErrorKind, InvalidState, SupervisionRefused
from callscope.supervision.effects import (
    AddParty,
    AttachTap,
    ClearTalkback,
    CloseFeed,
    DetachTap,
    Effect,
    ModeChanged,
    OpenFeed,
    PushState,
    RemoveParty,
    StreamEnded,
    StreamStarted,
)
from callscope.supervision.model import (
    CallView,
    Channel,
    DeviceView,
    MonitoringOrder,
    Repeat,
    Stream,
    Supervision,
    SupervisionMode,
    SupervisionState,
)
from callscope.supervision.state import capabilities, device_state

__all__ = ["DeviceRecord", "SupervisionBook", "last_states", "no_party", "one_way"]

logger = logging.getLogger("callscope.supervision")


def one_way(mode: SupervisionMode) -> SupervisionRefused:
    return SupervisionRefused(
        ErrorKind.INVALID,
        f"{mode} needs a two-way call stream: this call streams one-way (RingCX call "
        "streaming), so the supervisor can only listen. Stream it to /twilio/stream to talk.",
        parameter="mode",
        value=str(mode),
    )


def no_party(party_id: str) -> SupervisionRefused:
    return SupervisionRefused(
        ErrorKind.NOT_FOUND,
        "Resource for parameter [partyId] is not found",
        parameter="partyId",
        value=party_id[:64],
    )


@dataclass(eq=False)
class DeviceRecord:
    """A web phone the core knows: connected here or to another node."""

    view: DeviceView
    online: bool = True
    supervisions: dict[str, Supervision] = field(default_factory=dict)
    streams: dict[int, Stream] = field(default_factory=dict)
    order: MonitoringOrder | None = None
    next_stream: int = 1
    #: ids given to streams of calls other nodes carry (relayed to this device): not reused
    relayed: set[int] = field(default_factory=set)

    def new_stream_id(self) -> int:
        while (
            self.next_stream in self.streams
            or self.next_stream in self.relayed
            or self.next_stream == 0
        ):
            self.next_stream = (self.next_stream + 1) % 65536
        sid = self.next_stream
        self.next_stream = (self.next_stream + 1) % 65536
        return sid


def _check_active(sup: Supervision, action: str) -> None:
    if sup.state is not SupervisionState.ACTIVE:
        raise InvalidState(f"call {sup.call_id}: cannot {action} of a supervision that ended")


class SupervisionBook:
    """Supervisions by call, devices by id, monitoring orders by agent."""

    def __init__(self) -> None:
        self.devices: dict[int, DeviceRecord] = {}
        self.by_call: dict[str, Supervision] = {}
        self.orders: dict[int, list[MonitoringOrder]] = {}  # agent extension → orders

    # -- views -------------------------------------------------------------------------------

    def device(self, device_id: int) -> DeviceRecord:
        record = self.devices.get(device_id)
        if record is None:
            raise SupervisionRefused(
                ErrorKind.UNKNOWN_REFERENCE,
                f"Device {device_id} is not connected",
                parameter="deviceId",
                value=str(device_id),
            )
        return record

    def capabilities(self, device_id: int) -> list[str]:
        """The Genesys operations allowed on the device now."""
        record = self.devices.get(device_id)
        return capabilities(record) if record is not None else []

    def state(self, device_id: int) -> dict[str, Any]:
        """The Genesys ``DeviceStateChangeMessage`` of the device."""
        return device_state(self.device(device_id))

    def push(self, device_id: int) -> list[Effect]:
        record = self.devices.get(device_id)
        return [PushState(device_id, device_state(record))] if record is not None else []

    def talk_targets(self, device_id: int, stream_id: int) -> list[Supervision]:
        """The supervisions a microphone frame of the device goes to: the call of
        ``stream_id``, or (0) every call the device supervises."""
        record = self.devices.get(device_id)
        if record is None:
            return []
        if stream_id:
            stream = record.streams.get(stream_id)
            return [stream.supervision] if stream is not None else []
        return list(record.supervisions.values())

    def set_mode(self, sup: Supervision, mode: SupervisionMode) -> list[Effect]:
        """Listen ↔ Coach ↔ Barge on a live supervision; the audio streams go on. The device
        state is pushed whichever way the switch came (REST or Genesys)."""
        _check_active(sup, "change its mode")
        if mode is sup.mode:
            return []
        if mode.talks and not sup.two_way:
            raise one_way(mode)
        old, sup.mode = sup.mode, mode
        logger.debug("call %s: supervision mode %s → %s", sup.call_id, old, mode)
        effects: list[Effect] = []
        if mode is SupervisionMode.BARGE:
            effects.append(OpenFeed(sup))
        elif old is SupervisionMode.BARGE:
            effects.append(CloseFeed(sup))
        if not mode.talks and sup.call.live:
            effects.append(ClearTalkback(sup.call_id))
        effects.append(ModeChanged(sup))
        return effects + self.push(sup.device_id)

    # -- the supervision itself -------------------------------------------------------------

    def _begin(
        self,
        call: CallView,
        record: DeviceRecord,
        mode: SupervisionMode,
        order: MonitoringOrder | None,
    ) -> tuple[Supervision, list[Effect]]:
        sup = Supervision(call, record.view.device_id, mode, order=order)
        self.by_call[call.call_id] = sup
        record.supervisions[call.call_id] = sup
        effects: list[Effect] = [AttachTap(sup)]
        if order is None:
            effects += self.push(record.view.device_id)
        return sup, effects

    def _add_stream(
        self,
        sup: Supervision,
        record: DeviceRecord,
        channel: Channel,
        party_id: str | None,
        agent_id: int | None,
    ) -> tuple[Stream, list[Effect]]:
        _check_active(sup, "add a stream")
        stream = Stream(record.new_stream_id(), channel, party_id, sup)
        sup.streams.append(stream)
        record.streams[stream.id] = stream
        logger.info(
            "extension %s supervises call %s (%s, %s) on device %s",
            record.view.owner_number,
            sup.call_id,
            channel.wire_name,
            sup.mode,
            record.view.device_id,
        )
        return stream, [AddParty(stream, agent_id), StreamStarted(stream)]

    def _remove_stream(
        self, sup: Supervision, stream: Stream, reason: str, party_reason: str
    ) -> list[Effect]:
        sup.streams.remove(stream)
        record = self.devices.get(sup.device_id)
        if record is not None:
            record.streams.pop(stream.id, None)
        effects: list[Effect] = [StreamEnded(stream, reason)]
        if sup.call.live:
            effects.append(RemoveParty(stream, party_reason))
        return effects

    def _end(
        self, sup: Supervision, reason: str, *, party_reason: str = "CallFinished"
    ) -> list[Effect]:
        """Stop supervising the call: streams end, the supervisor parties leave."""
        if self.by_call.get(sup.call_id) is not sup:
            return []
        del self.by_call[sup.call_id]
        sup.state = SupervisionState.ENDED
        record = self.devices.get(sup.device_id)
        if record is not None:
            record.supervisions.pop(sup.call_id, None)
        effects: list[Effect] = [DetachTap(sup)]
        for stream in sup.streams[:]:
            effects += self._remove_stream(sup, stream, reason, party_reason)
        effects.append(CloseFeed(sup))
        if sup.mode.talks and sup.two_way and sup.call.live:
            effects.append(ClearTalkback(sup.call_id))
        logger.info(
            "call %s: supervision by device %s ended (%s)", sup.call_id, sup.device_id, reason
        )
        order = sup.order
        if order is not None and order.attached is sup:
            order.attached = None
            owner = self.devices.get(order.device_id)
            if order.repeat is Repeat.NEXT_CALL and order.used and owner is not None:
                effects += self._drop_order(owner)
            effects += self.push(order.device_id)
        elif order is None:
            effects += self.push(sup.device_id)
        return effects

    def drop_order(self, device_id: int) -> list[Effect]:
        record = self.devices.get(device_id)
        return self._drop_order(record) if record is not None else []

    def _drop_order(self, record: DeviceRecord) -> list[Effect]:
        order = record.order
        if order is None:
            return []
        record.order = None
        orders = self.orders.get(order.agent_id, [])
        if order in orders:
            orders.remove(order)
        if not orders:
            self.orders.pop(order.agent_id, None)
        sup, order.attached = order.attached, None
        if sup is not None:
            sup.order = None
            return self._end(sup, "monitoring cancelled")
        return []


def last_states(effects: list[Effect]) -> list[Effect]:
    """One state push per device per operation: its last (the state the operation left)."""
    last: dict[int, int] = {}
    for i, effect in enumerate(effects):
        if isinstance(effect, PushState):
            last[effect.device_id] = i
    return [
        e for i, e in enumerate(effects) if not isinstance(e, PushState) or last[e.device_id] == i
    ]
