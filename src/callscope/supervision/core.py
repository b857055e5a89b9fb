"""The supervision rules as a pure state machine (no asyncio, no network, no database).

Operations take plain facts (a :class:`CallView`, a device id, whether the supervisor may
monitor the agent) and return the effects the shell carries out
(``callscope.supervision.effects``); a request that breaks a rule raises
:class:`SupervisionRefused` before anything changes.

Rules (spec §7.5, seeds/ringcentral-call-supervision.md, seeds/genesys-coach-operation.txt):

* only a ``Monitoring`` member may supervise a ``Monitored`` member of a common call
  monitoring group (the shell asks the directory and passes ``may_monitor``);
* one supervisor per call; that supervisor uses one device for it; a device may hold many
  calls;
* a session-level supervision is one stream of both parties mixed; a party-level one is a
  stream of that party alone;
* Listen hears; Coach also talks to the agent only; Barge talks to both. Talking needs a
  two-way call stream.

Monitoring orders (Genesys) arm one device on one agent: the agent's current call is picked
up now if nobody supervises it, otherwise the next. ``NextCall`` disarms after one call,
``AllCalls`` stays until cancelled. Scope ``Agent`` lets go of a call the agent transfers
away; scope ``Call`` follows it to the new agent (if the supervisor may monitor them).
"""

from __future__ import annotations

from dataclasses import replace

from callscope.errors import ErrorKind, SupervisionRefused
from callscope.supervision.book import (
    DeviceRecord,
    SupervisionBook,
    last_states,
    no_party,
    one_way,
)
from callscope.supervision.effects import (
    Effect,
    Notice,
    OrderUsed,
    ShareOrder,
    StreamTransferred,
)
from callscope.supervision.model import (
    CallView,
    Channel,
    DeviceView,
    MonitoringOrder,
    Operation,
    Repeat,
    Scope,
    Stream,
    Supervision,
    SupervisionMode,
)

__all__ = ["SupervisionCore"]


class SupervisionCore(SupervisionBook):
    """The supervision operations: each checks its rule, changes the records, returns effects."""

    # -- devices -----------------------------------------------------------------------------

    def add_device(self, view: DeviceView) -> list[Effect]:
        """A web phone connected (here, or reached through another node)."""
        self.devices[view.device_id] = DeviceRecord(view)
        return self.push(view.device_id)

    def remove_device(self, device_id: int) -> list[Effect]:
        """The device went away: its supervisions end (its parties dropped), its order is
        cancelled, and its last state says Inactive."""
        record = self.devices.get(device_id)
        if record is None:
            return []
        record.online = False
        effects: list[Effect] = []
        for sup in list(record.supervisions.values()):
            effects += self._end(sup, "device disconnected", party_reason="CallDropped")
        effects += self._drop_order(record)
        effects += self.push(device_id)
        del self.devices[device_id]
        return last_states(effects)

    # -- supervise (RingCentral) ------------------------------------------------------------

    def channel_of(self, call: CallView, party_id: str | None, *, party_active: bool) -> Channel:
        """The stream a supervise request asks for: mixed, or one party alone."""
        if party_id is None:
            return Channel.MIXED
        if not party_active:
            raise no_party(party_id)
        if party_id == call.agent_party:
            return Channel.AGENT
        if party_id == call.customer_party:
            return Channel.CUSTOMER
        raise SupervisionRefused(
            ErrorKind.INVALID,
            "Only the agent and customer parties can be supervised",
            parameter="partyId",
            value=party_id,
        )

    def supervise(
        self,
        call: CallView,
        device_id: int,
        mode: SupervisionMode,
        channel: Channel,
        party_id: str | None,
        agent_id: int,
    ) -> tuple[Stream, bool, list[Effect]]:
        """Start (or change the mode of) a supervision. Returns its stream for that party,
        whether the stream is new, and the effects."""
        record = self.device(device_id)
        if mode.talks and not call.two_way:
            raise one_way(mode)
        sup = self.by_call.get(call.call_id)
        effects: list[Effect] = []
        if sup is not None:
            self._check_holder(sup, record)
            same = next((s for s in sup.streams if s.target_party == party_id), None)
            if same is not None:
                return same, False, last_states(self.set_mode(sup, mode))
        else:
            sup, effects = self._begin(call, record, mode, None)
        stream, added = self._add_stream(sup, record, channel, party_id, agent_id)
        effects += added
        if sup.mode is not mode:
            effects += self.set_mode(sup, mode)
        return stream, True, last_states(effects)

    def _check_holder(self, sup: Supervision, record: DeviceRecord) -> None:
        holder = self.devices.get(sup.device_id)
        if holder is None or holder.view.owner_id != record.view.owner_id:
            number = holder.view.owner_number if holder is not None else "another extension"
            raise SupervisionRefused(
                ErrorKind.CONFLICT,
                f"The call is supervised by extension {number}: one supervisor per call",
                parameter="telephonySessionId",
                value=sup.call.session_id,
            )
        if sup.device_id != record.view.device_id:
            raise SupervisionRefused(
                ErrorKind.CONFLICT,
                f"You supervise this call on device {sup.device_id}: one device per call",
                parameter="supervisorDeviceId",
                value=str(record.view.device_id),
            )

    def leave(
        self, call_id: str, party_id: str, *, caller_id: int, admin: bool, party_in_call: bool
    ) -> list[Effect]:
        """``DELETE …/parties/{supervisorPartyId}``: that stream ends (the last one ends the
        supervision)."""
        sup = self.by_call.get(call_id)
        stream = (
            next((s for s in sup.streams if s.supervisor_party == party_id), None)
            if sup is not None
            else None
        )
        if sup is None or stream is None:
            if party_in_call:
                raise SupervisionRefused(
                    ErrorKind.FORBIDDEN,
                    "Only a supervisor party can be dropped: callscope does not carry the call",
                    parameter="partyId",
                    value=party_id,
                )
            raise no_party(party_id)
        holder = self.devices.get(sup.device_id)
        if holder is not None and holder.view.owner_id != caller_id and not admin:
            raise SupervisionRefused(
                ErrorKind.FORBIDDEN, "This supervisor party belongs to another extension"
            )
        if len(sup.streams) == 1:
            return last_states(self._end(sup, "supervisor left"))
        return self._remove_stream(sup, stream, "supervisor left", "CallFinished")

    # -- monitoring orders (Genesys) --------------------------------------------------------

    def operate(
        self,
        device_id: int,
        operation: Operation,
        *,
        agent_id: int | None = None,
        may_monitor: bool = False,
        current: CallView | None = None,
        repeat: Repeat | None = None,
        scope: Scope | None = None,
        target_device_uri: str | None = None,
    ) -> list[Effect]:
        """A Genesys operation on a device. ``current`` is the agent's call now (if any);
        a ``repeat`` or ``scope`` not given keeps the order's own (new order: AllCalls,
        Call)."""
        record = self.device(device_id)
        mode = operation.mode
        if mode is None:  # Cancel: the order and every supervision of the device end
            effects = self._drop_order(record)
            for sup in list(record.supervisions.values()):
                effects += self._end(sup, "monitoring cancelled")
            return last_states([*effects, *self.push(device_id), ShareOrder(device_id)])
        assert agent_id is not None
        if not may_monitor:
            raise SupervisionRefused(
                ErrorKind.PERMISSION,
                f"[CallMonitoring] permission required: extension {record.view.owner_number} "
                "is not Monitoring and the agent Monitored in a common call monitoring group",
                permission="CallMonitoring",
            )
        order = record.order
        same = order if order is not None and order.agent_id == agent_id else None
        effects = self._check_operation(record, same, mode, current)
        repeat = repeat or (same.repeat if same is not None else Repeat.ALL_CALLS)
        scope = scope or (same.scope if same is not None else Scope.CALL)
        effects += self.arm(
            record, agent_id, mode, repeat, scope, target_device_uri, used=False, current=current
        )
        return last_states([*effects, *self.push(device_id), ShareOrder(device_id)])

    def _check_operation(
        self,
        record: DeviceRecord,
        same: MonitoringOrder | None,
        mode: SupervisionMode,
        current: CallView | None,
    ) -> list[Effect]:
        if same is not None and same.attached is not None:
            return self.set_mode(same.attached, mode)  # refuses Coach/Barge on a one-way call
        held = self.by_call.get(current.call_id) if current is not None else None
        if held is not None and held.device_id != record.view.device_id:
            holder = self.devices.get(held.device_id)
            number = holder.view.owner_number if holder is not None else "another extension"
            raise SupervisionRefused(
                ErrorKind.CONFLICT,
                f"The agent's call is supervised by extension {number}: one supervisor per "
                "call; arm the order once that call ends",
            )
        if mode.talks and current is not None and not current.two_way:
            raise one_way(mode)
        return []

    def arm(
        self,
        record: DeviceRecord,
        agent_id: int,
        mode: SupervisionMode,
        repeat: Repeat,
        scope: Scope,
        target_device_uri: str | None,
        *,
        used: bool,
        current: CallView | None,
    ) -> list[Effect]:
        """Arm the device on the agent (or change the order it has on that agent) and pick
        up the agent's ``current`` call if the order is free."""
        order = record.order
        effects: list[Effect] = []
        if order is not None and order.agent_id == agent_id:
            order.mode, order.repeat, order.scope = mode, repeat, scope
            order.target_device_uri = target_device_uri or order.target_device_uri
            order.used = used or order.attached is not None
        else:
            effects += self._drop_order(record)
            order = MonitoringOrder(
                record.view.device_id, agent_id, mode, repeat, scope, target_device_uri, used=used
            )
            record.order = order
            self.orders.setdefault(agent_id, []).append(order)
        if order.attached is None and current is not None:
            effects += self.attach(order, current)
        return effects

    def waiting_orders(self, call: CallView) -> list[MonitoringOrder]:
        """Orders armed on the call's agent that could pick the call up."""
        if call.agent_extension is None or call.call_id in self.by_call or not call.live:
            return []
        return [
            o
            for o in self.orders.get(call.agent_extension, [])
            if o.attached is None and not (o.repeat is Repeat.NEXT_CALL and o.used)
        ]

    def attach(self, order: MonitoringOrder, call: CallView) -> list[Effect]:
        """Pick up ``call`` for an armed order (returns no effects if it cannot)."""
        record = self.devices.get(order.device_id)
        if not call.live or record is None or record.order is not order or not record.online:
            return []
        if order.attached is not None or (order.repeat is Repeat.NEXT_CALL and order.used):
            return []
        existing = self.by_call.get(call.call_id)
        effects: list[Effect] = []
        if existing is not None:
            if existing.device_id != order.device_id:
                return []
            sup = existing  # the device already supervises it (a REST supervise): adopt it
            sup.order = order
        else:
            mode = order.mode if call.two_way else SupervisionMode.LISTEN
            if mode is not order.mode:
                effects.append(
                    Notice(order.device_id, f"call {call.call_id} streams one-way: listening only")
                )
            sup, begun = self._begin(call, record, mode, order)
            effects += begun
            effects += self._add_stream(sup, record, Channel.MIXED, None, order.agent_id)[1]
        if sup.mode is not order.mode and call.two_way:
            effects += self.set_mode(sup, order.mode)
        order.attached = sup
        order.used = True
        if order.repeat is Repeat.NEXT_CALL:
            effects.append(OrderUsed(order.device_id))
        return effects

    def order_used(self, device_id: int) -> list[Effect]:
        """Another node picked up the one call of the device's NextCall order."""
        record = self.devices.get(device_id)
        order = record.order if record is not None else None
        if record is None or order is None:
            return []
        if order.repeat is Repeat.NEXT_CALL and order.attached is None:
            order.used = True
            return self._drop_order(record)
        return []

    def end(self, call_id: str, reason: str, *, party_reason: str = "CallFinished") -> list[Effect]:
        """End the call's supervision (if any) for ``reason``; its supervisor parties leave
        with the RingCentral status reason ``party_reason`` (e.g. ``NoAnswer``)."""
        sup = self.by_call.get(call_id)
        if sup is None:
            return []
        return last_states(self._end(sup, reason, party_reason=party_reason))

    # -- call life ----------------------------------------------------------------------------

    def call_ended(self, call: CallView) -> list[Effect]:
        """The call finished: the session's close disconnects the supervisor parties with
        everyone else, so the device is told and the order released."""
        sup = self.by_call.get(call.call_id)
        if sup is None:
            return []
        sup.call = replace(call, live=False)
        return last_states(self._end(sup, "call ended"))

    def call_transferred(self, call: CallView, *, may_monitor_new: bool) -> list[Effect]:
        """The call moved to ``call.agent_extension``: Agent scope lets go, Call scope
        follows if the supervisor may monitor the new agent."""
        sup = self.by_call.get(call.call_id)
        if sup is None:
            return []
        sup.call = call
        order = sup.order
        if order is not None and order.scope is Scope.AGENT:
            return self._end(sup, "the agent transferred the call (Agent scope)")
        if call.agent_extension is None or not may_monitor_new:
            return self._end(sup, "not allowed to monitor the agent the call was transferred to")
        effects: list[Effect] = []
        for stream in sup.streams:
            if stream.channel is Channel.AGENT:
                stream.target_party = call.agent_party
            effects.append(StreamTransferred(stream, call.agent_extension))
        return effects + self.push(sup.device_id)
