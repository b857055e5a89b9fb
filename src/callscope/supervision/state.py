"""A device's Genesys view, computed from the core's records: ``capabilities`` and the
``DeviceStateChangeMessage`` (seeds/genesys-coach-operation.txt). Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from callscope.supervision.model import DeviceStatus, Operation, Repeat, Scope, Supervision

if TYPE_CHECKING:
    from callscope.supervision.book import DeviceRecord

__all__ = ["capabilities", "device_state"]

_MODES = (Operation.LISTEN_IN, Operation.COACH, Operation.BARGE_IN)


def _current(record: DeviceRecord) -> Supervision | None:
    """The supervision that is the device's state: its order's call, else (no order) the
    first call it supervises by REST."""
    if record.order is not None:
        return record.order.attached
    return next(iter(record.supervisions.values()), None)


def capabilities(record: DeviceRecord) -> list[str]:
    """The Genesys operations allowed now. The current operation is one of them (asking for
    it again changes the order's scope or repeat); on a one-way call only ``ListenIn``."""
    if not record.online:
        return []
    current = _current(record)
    ops = [str(op) for op in _MODES]
    if current is not None and not current.two_way:
        ops = [str(Operation.LISTEN_IN)]
    if record.order is not None or record.supervisions:
        ops.append(str(Operation.CANCEL))
    return ops


def device_state(record: DeviceRecord) -> dict[str, Any]:
    """The Genesys ``DeviceStateChangeMessage`` for this device."""
    view = record.view
    dev: dict[str, Any] = {
        "id": str(view.device_id),
        "deviceState": str(DeviceStatus.ACTIVE if record.online else DeviceStatus.INACTIVE),
        "phoneNumber": view.owner_number,
        "e164Number": view.owner_number,
        "telephonyNetwork": "Private",
        "capabilities": capabilities(record),
    }
    order = record.order
    if order is not None:
        monitoring: dict[str, Any] = {
            "state": str(order.mode.operation),
            "mode": str(order.repeat),
            "scope": str(order.scope),
            "targetDeviceUri": order.target_device_uri,
            "agentExtensionId": str(order.agent_id),
        }
        if order.attached is not None:
            monitoring["telephonySessionId"] = order.attached.call.session_id
            monitoring["activeMode"] = str(order.attached.mode)
        dev["supervisorMonitoringState"] = monitoring
    elif record.supervisions:
        # Supervise Call Session/Party (REST): the call it follows, until the call ends
        sup = next(iter(record.supervisions.values()))
        agent = sup.call.agent_extension
        dev["supervisorMonitoringState"] = {
            "state": str(sup.mode.operation),
            "mode": str(Repeat.NEXT_CALL),
            "scope": str(Scope.CALL),
            "agentExtensionId": str(agent) if agent is not None else None,
            "telephonySessionId": sup.call.session_id,
            "activeMode": str(sup.mode),
        }
    return {"messageType": "DeviceStateChangeMessage", "devices": [dev]}
