"""The supervision vocabulary: enums for every mode, scope and state, and the plain records the
core keeps (streams, supervisions, monitoring orders) and the facts it is given (call and
device views). Pure: no I/O, no asyncio.

Sources: RingCentral Supervise Call Session/Party (spec §7.2–7.5,
seeds/ringcentral-call-supervision.md) and Genesys supervisor monitoring
(seeds/genesys-coach-operation.txt).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "CallView",
    "Channel",
    "DeviceStatus",
    "DeviceView",
    "MonitoringOrder",
    "Operation",
    "Repeat",
    "Scope",
    "Stream",
    "Supervision",
    "SupervisionMode",
    "SupervisionState",
]


class SupervisionMode(enum.StrEnum):
    """RingCentral ``mode`` of a supervision: what the supervisor does on the call."""

    LISTEN = "Listen"
    COACH = "Coach"  # talks to the agent only
    BARGE = "Barge"  # talks to both parties

    @property
    def operation(self) -> Operation:
        """The Genesys operation that asks for this mode."""
        return _OPERATION_OF[self]

    @property
    def talks(self) -> bool:
        """Whether the supervisor's microphone reaches the call (needs a two-way stream)."""
        return self is not SupervisionMode.LISTEN


class Operation(enum.StrEnum):
    """Genesys ``operationName`` on ``POST /api/v2/me/devices/{id}``."""

    LISTEN_IN = "ListenIn"
    COACH = "Coach"
    BARGE_IN = "BargeIn"
    CANCEL = "CancelSupervisorMonitoring"

    @property
    def mode(self) -> SupervisionMode | None:
        """The mode this operation arms (None: Cancel)."""
        return _MODE_OF.get(self)


_OPERATION_OF = {
    SupervisionMode.LISTEN: Operation.LISTEN_IN,
    SupervisionMode.COACH: Operation.COACH,
    SupervisionMode.BARGE: Operation.BARGE_IN,
}
_MODE_OF = {op: mode for mode, op in _OPERATION_OF.items()}


class Repeat(enum.StrEnum):
    """Genesys ``supervisorMonitoringMode``: how many calls an order picks up."""

    NEXT_CALL = "NextCall"  # one call, then the order disarms
    ALL_CALLS = "AllCalls"  # until cancelled


class Scope(enum.StrEnum):
    """Genesys ``supervisorMonitoringScope``: what a transfer does to a held call."""

    AGENT = "Agent"  # let go of a call the agent transfers away
    CALL = "Call"  # follow the call to the new agent (if allowed to monitor them)


class SupervisionState(enum.StrEnum):
    """Lifecycle of one supervision: ACTIVE from its first stream until it ENDED."""

    ACTIVE = "Active"
    ENDED = "Ended"


class DeviceStatus(enum.StrEnum):
    """A web phone as Genesys ``deviceState`` shows it."""

    ACTIVE = "Active"  # connected
    INACTIVE = "Inactive"  # gone


class Channel(enum.IntEnum):
    """What a stream carries (the ``channel`` byte of a listen frame)."""

    MIXED = 0
    AGENT = 1
    CUSTOMER = 2

    @property
    def wire_name(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class CallView:
    """What the core needs to know about a live call, as plain facts.

    Attributes:
        call_id: callscope's call id.
        session_id: its RingCentral telephony session id.
        agent_extension: the extension of its agent now (None: no extension has it).
        agent_party: the agent's party id.
        customer_party: the customer's party id.
        two_way: the stream carries audio back (Coach and Barge possible).
        live: the call is not finished.
    """

    call_id: str
    session_id: str
    agent_extension: int | None
    agent_party: str | None
    customer_party: str | None
    two_way: bool
    live: bool = True


@dataclass(frozen=True, slots=True)
class DeviceView:
    """A connected web phone: its id, owner extension and owner's number."""

    device_id: int
    owner_id: int
    owner_number: str
    account_id: str


@dataclass(eq=False, slots=True)
class Stream:
    """One audio stream of a supervision (one per supervise request)."""

    id: int
    channel: Channel
    #: the party a party-level supervision hears alone (None: session level, mixed)
    target_party: str | None
    supervision: Supervision
    #: the supervisor party that stands for this stream in the call (set once it is added)
    supervisor_party: str = ""


@dataclass(eq=False, slots=True)
class Supervision:
    """One supervisor's hold on one call, on one device."""

    call: CallView
    device_id: int
    mode: SupervisionMode
    streams: list[Stream] = field(default_factory=list)
    order: MonitoringOrder | None = None
    state: SupervisionState = SupervisionState.ACTIVE

    @property
    def call_id(self) -> str:
        return self.call.call_id

    @property
    def two_way(self) -> bool:
        return self.call.two_way


@dataclass(eq=False, slots=True)
class MonitoringOrder:
    """A device armed on an agent (Genesys supervisor monitoring)."""

    device_id: int
    agent_id: int
    mode: SupervisionMode
    repeat: Repeat
    scope: Scope
    target_device_uri: str | None
    attached: Supervision | None = None
    #: NextCall: a call was picked up (here or on another node)
    used: bool = False
