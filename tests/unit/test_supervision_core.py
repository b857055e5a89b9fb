"""The supervision rules, driven through the pure core (no server, no network): who may hold
which call on which device, streams, mode switches, monitoring orders (NextCall/AllCalls,
Agent/Call scope) across transfers, capabilities and device states, and the effects each
operation asks its shell for."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from callscope.errors import ErrorKind, InvalidState, SupervisionRefused
from callscope.supervision import effects as fx
from callscope.supervision.book import DeviceRecord
from callscope.supervision.core import SupervisionCore
from callscope.supervision.links import RelayedStreams
from callscope.supervision.model import (
    CallView,
    Channel,
    DeviceView,
    Operation,
    Repeat,
    Scope,
    SupervisionMode,
    SupervisionState,
)

LISTEN, COACH, BARGE = SupervisionMode.LISTEN, SupervisionMode.COACH, SupervisionMode.BARGE
SAM, ROBIN = 101, 105  # supervisors (extension ids)
AGENT, OTHER_AGENT = 102, 103


def call(cid: str = "c1", *, agent: int = AGENT, two_way: bool = True) -> CallView:
    return CallView(
        call_id=cid,
        session_id=f"s-{cid}",
        agent_extension=agent,
        agent_party=f"p-{cid}-2",
        customer_party=f"p-{cid}-1",
        two_way=two_way,
    )


def core_with(*devices: tuple[int, int]) -> SupervisionCore:
    """A core with web phones connected: (device id, owner extension id)."""
    core = SupervisionCore()
    for device_id, owner in devices:
        core.add_device(DeviceView(device_id, owner, str(owner), "acc"))
    return core


def kinds(effects: list[fx.Effect]) -> list[str]:
    return [type(e).__name__ for e in effects]


def states(effects: list[fx.Effect]) -> list[dict[str, Any]]:
    return [e.state["devices"][0] for e in effects if isinstance(e, fx.PushState)]


def give_parties(effects: list[fx.Effect]) -> None:
    """What the shell does for AddParty: the stream gets its supervisor party."""
    for e in effects:
        if isinstance(e, fx.AddParty):
            e.stream.supervisor_party = f"sup-{e.stream.id}"


def supervise(
    core: SupervisionCore,
    view: CallView,
    device: int,
    mode: SupervisionMode = LISTEN,
    party: str | None = None,
) -> tuple[Any, bool, list[fx.Effect]]:
    channel = core.channel_of(view, party, party_active=True)
    stream, new, effects = core.supervise(view, device, mode, channel, party, AGENT)
    give_parties(effects)
    return stream, new, effects


# -- supervise: one supervisor per call, one device per call ---------------------------------


def test_a_session_supervision_starts_one_mixed_stream_with_its_effects() -> None:
    core = core_with((1, SAM))
    stream, new, effects = supervise(core, call(), 1)
    assert new
    assert stream.channel is Channel.MIXED
    assert kinds(effects) == ["AttachTap", "PushState", "AddParty", "StreamStarted"]
    assert states(effects)[0]["supervisorMonitoringState"]["state"] == "ListenIn"
    assert core.by_call["c1"].streams == [stream]


@pytest.mark.parametrize(
    ("second", "owner", "kind", "parameter"),
    [
        (2, ROBIN, ErrorKind.CONFLICT, "telephonySessionId"),  # another supervisor
        (3, SAM, ErrorKind.CONFLICT, "supervisorDeviceId"),  # same supervisor, second device
    ],
)
def test_one_supervisor_per_call_and_one_device_per_call(
    second: int, owner: int, kind: ErrorKind, parameter: str
) -> None:
    core = core_with((1, SAM), (second, owner))
    supervise(core, call(), 1)
    with pytest.raises(SupervisionRefused) as err:
        supervise(core, call(), second)
    assert (err.value.kind, err.value.parameter) == (kind, parameter)
    assert core.by_call["c1"].device_id == 1  # nothing changed


def test_one_device_may_hold_many_calls_and_many_streams_per_call() -> None:
    core = core_with((1, SAM))
    a, _, _ = supervise(core, call("c1"), 1)
    b, _, _ = supervise(core, call("c2", agent=OTHER_AGENT), 1)
    agent_only, new, effects = supervise(core, call("c1"), 1, party="p-c1-2")
    customer, _, _ = supervise(core, call("c1"), 1, party="p-c1-1")
    assert new
    assert "AttachTap" not in kinds(effects)  # the call's tap is already there
    assert (agent_only.channel, customer.channel) == (Channel.AGENT, Channel.CUSTOMER)
    assert len({a.id, b.id, agent_only.id, customer.id}) == 4
    assert set(core.devices[1].supervisions) == {"c1", "c2"}


def test_the_same_party_again_changes_the_mode_of_its_stream() -> None:
    core = core_with((1, SAM))
    first, _, _ = supervise(core, call(), 1)
    again, new, effects = supervise(core, call(), 1, COACH)
    assert again is first
    assert not new
    assert kinds(effects) == ["ModeChanged", "PushState"]


@pytest.mark.parametrize(
    ("party", "active", "kind"),
    [
        ("p-nope", False, ErrorKind.NOT_FOUND),
        ("p-c1-3", True, ErrorKind.INVALID),  # a party that is neither agent nor customer
    ],
)
def test_party_level_supervision_takes_the_agent_or_the_customer(
    party: str, active: bool, kind: ErrorKind
) -> None:
    core = core_with((1, SAM))
    with pytest.raises(SupervisionRefused) as err:
        core.channel_of(call(), party, party_active=active)
    assert err.value.kind is kind
    assert err.value.parameter == "partyId"


@pytest.mark.parametrize("mode", [COACH, BARGE])
def test_talking_needs_a_two_way_stream(mode: SupervisionMode) -> None:
    core = core_with((1, SAM))
    with pytest.raises(SupervisionRefused, match="two-way") as err:
        supervise(core, call(two_way=False), 1, mode)
    assert err.value.kind is ErrorKind.INVALID
    assert not core.by_call
    # Listening to it is fine, switching that supervision to talk is not.
    supervise(core, call(two_way=False), 1)
    with pytest.raises(SupervisionRefused, match="two-way"):
        core.set_mode(core.by_call["c1"], mode)


# -- mode switches ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (LISTEN, COACH, ["ModeChanged", "PushState"]),
        (LISTEN, BARGE, ["OpenFeed", "ModeChanged", "PushState"]),
        (COACH, BARGE, ["OpenFeed", "ModeChanged", "PushState"]),
        (BARGE, COACH, ["CloseFeed", "ModeChanged", "PushState"]),
        (BARGE, LISTEN, ["CloseFeed", "ClearTalkback", "ModeChanged", "PushState"]),
        (COACH, LISTEN, ["ClearTalkback", "ModeChanged", "PushState"]),
        (COACH, COACH, []),
    ],
)
def test_mode_switches(old: SupervisionMode, new: SupervisionMode, expected: list[str]) -> None:
    core = core_with((1, SAM))
    supervise(core, call(), 1, old)
    effects = core.set_mode(core.by_call["c1"], new)
    assert kinds(effects) == expected
    assert core.by_call["c1"].mode is new
    if expected:
        assert states(effects)[-1]["supervisorMonitoringState"]["activeMode"] == str(new)


def test_a_rest_mode_switch_on_an_armed_call_pushes_the_device_state() -> None:
    core = core_with((1, SAM))
    effects = core.operate(1, Operation.LISTEN_IN, agent_id=AGENT, may_monitor=True, current=call())
    give_parties(effects)
    order = core.devices[1].order
    assert order is not None
    assert order.attached is not None
    _, new, effects = supervise(core, call(), 1, COACH)
    assert not new
    state = states(effects)[-1]
    assert state["supervisorMonitoringState"]["activeMode"] == "Coach"
    assert "Coach" in state["capabilities"]


# -- leaving ---------------------------------------------------------------------------------


def test_leaving_ends_a_stream_and_the_last_one_the_supervision() -> None:
    core = core_with((1, SAM))
    mixed, _, _ = supervise(core, call(), 1)
    agent_only, _, _ = supervise(core, call(), 1, party="p-c1-2")
    effects = core.leave(
        "c1", agent_only.supervisor_party, caller_id=SAM, admin=False, party_in_call=True
    )
    assert kinds(effects) == ["StreamEnded", "RemoveParty"]
    assert core.by_call["c1"].streams == [mixed]
    effects = core.leave(
        "c1", mixed.supervisor_party, caller_id=SAM, admin=False, party_in_call=True
    )
    assert kinds(effects) == ["DetachTap", "StreamEnded", "RemoveParty", "CloseFeed", "PushState"]
    assert not core.by_call
    assert "supervisorMonitoringState" not in states(effects)[0]


@pytest.mark.parametrize(
    ("party", "in_call", "caller", "admin", "kind"),
    [
        ("p-c1-1", True, SAM, False, ErrorKind.FORBIDDEN),  # the call's own party
        ("p-nope", False, SAM, False, ErrorKind.NOT_FOUND),
        ("sup-1", True, ROBIN, False, ErrorKind.FORBIDDEN),  # another extension's
    ],
)
def test_leave_refusals(
    party: str, in_call: bool, caller: int, admin: bool, kind: ErrorKind
) -> None:
    core = core_with((1, SAM))
    supervise(core, call(), 1)
    with pytest.raises(SupervisionRefused) as err:
        core.leave("c1", party, caller_id=caller, admin=admin, party_in_call=in_call)
    assert err.value.kind is kind
    assert "c1" in core.by_call


def test_an_admin_may_drop_another_extensions_supervisor_party() -> None:
    core = core_with((1, SAM))
    supervise(core, call(), 1)
    core.leave("c1", "sup-1", caller_id=ROBIN, admin=True, party_in_call=True)
    assert not core.by_call


# -- devices ---------------------------------------------------------------------------------


def test_a_device_that_goes_away_ends_its_supervisions_and_order() -> None:
    core = core_with((1, SAM))
    supervise(core, call("c1"), 1)
    core.operate(1, Operation.LISTEN_IN, agent_id=OTHER_AGENT, may_monitor=True)
    effects = core.remove_device(1)
    removed = [e for e in effects if isinstance(e, fx.RemoveParty)]
    assert [e.reason for e in removed] == ["CallDropped"]
    pushed = states(effects)
    assert len(pushed) == 1
    assert (pushed[0]["deviceState"], pushed[0]["capabilities"]) == ("Inactive", [])
    assert not core.by_call
    assert not core.orders
    assert 1 not in core.devices


def test_capabilities_follow_the_state() -> None:
    core = core_with((1, SAM))
    assert core.capabilities(1) == ["ListenIn", "Coach", "BargeIn"]
    core.operate(1, Operation.COACH, agent_id=AGENT, may_monitor=True)
    # the current operation is one of them (asking again changes scope or repeat)
    assert core.capabilities(1) == ["ListenIn", "Coach", "BargeIn", "CancelSupervisorMonitoring"]
    one_way = call(two_way=False)
    [order] = core.waiting_orders(one_way)
    effects = core.attach(order, one_way)
    notices = [e.message for e in effects if isinstance(e, fx.Notice)]
    assert notices == ["call c1 streams one-way: listening only"]
    # a one-way call was picked up: only listening
    assert core.capabilities(1) == ["ListenIn", "CancelSupervisorMonitoring"]
    state = core.state(1)["devices"][0]
    assert state["supervisorMonitoringState"]["state"] == "Coach"
    assert state["supervisorMonitoringState"]["activeMode"] == "Listen"
    core.remove_device(1)
    assert core.capabilities(1) == []


# -- monitoring orders -----------------------------------------------------------------------


def test_an_order_picks_up_the_agents_current_call_at_once() -> None:
    core = core_with((1, SAM))
    effects = core.operate(1, Operation.BARGE_IN, agent_id=AGENT, may_monitor=True, current=call())
    # a barging supervisor's transcript feed opens when it first speaks (the shell's router)
    assert kinds(effects) == ["AttachTap", "AddParty", "StreamStarted", "PushState", "ShareOrder"]
    sup = core.by_call["c1"]
    assert sup.mode is BARGE
    held = states(effects)[0]["supervisorMonitoringState"]
    assert (held["state"], held["activeMode"], held["telephonySessionId"]) == (
        "BargeIn",
        "Barge",
        "s-c1",
    )


def test_an_order_needs_monitoring_permission() -> None:
    core = core_with((1, SAM))
    with pytest.raises(SupervisionRefused) as err:
        core.operate(1, Operation.LISTEN_IN, agent_id=AGENT, may_monitor=False)
    assert (err.value.kind, err.value.permission) == (ErrorKind.PERMISSION, "CallMonitoring")
    assert core.devices[1].order is None


def test_an_order_on_a_call_another_supervisor_holds_is_a_conflict() -> None:
    core = core_with((1, SAM), (2, ROBIN))
    supervise(core, call(), 1)
    with pytest.raises(SupervisionRefused) as err:
        core.operate(2, Operation.LISTEN_IN, agent_id=AGENT, may_monitor=True, current=call())
    assert err.value.kind is ErrorKind.CONFLICT
    assert core.devices[2].order is None
    assert core.by_call["c1"].device_id == 1


def test_a_coach_order_on_a_one_way_current_call_is_refused() -> None:
    core = core_with((1, SAM))
    with pytest.raises(SupervisionRefused, match="two-way"):
        core.operate(
            1, Operation.COACH, agent_id=AGENT, may_monitor=True, current=call(two_way=False)
        )
    assert core.devices[1].order is None


def test_an_order_adopts_the_devices_own_rest_supervision() -> None:
    core = core_with((1, SAM))
    stream, _, _ = supervise(core, call(), 1)
    effects = core.operate(1, Operation.COACH, agent_id=AGENT, may_monitor=True, current=call())
    assert "AddParty" not in kinds(effects)
    sup = core.by_call["c1"]
    assert sup.streams == [stream]
    assert sup.order is core.devices[1].order
    assert sup.mode is COACH


@pytest.mark.parametrize(
    ("repeat", "second_call_picked"), [(Repeat.NEXT_CALL, False), (Repeat.ALL_CALLS, True)]
)
def test_next_call_disarms_after_one_call_all_calls_stays(
    repeat: Repeat, second_call_picked: bool
) -> None:
    core = core_with((1, SAM))
    core.operate(1, Operation.LISTEN_IN, agent_id=AGENT, may_monitor=True, repeat=repeat)
    first = call("c1")
    [order] = core.waiting_orders(first)
    effects = core.attach(order, first)
    assert ("OrderUsed" in kinds(effects)) is (repeat is Repeat.NEXT_CALL)
    effects = core.call_ended(replace(first, live=False))
    assert "RemoveParty" not in kinds(effects)  # the call's own close disconnects everyone
    assert (core.devices[1].order is not None) is second_call_picked
    assert bool(core.waiting_orders(call("c2"))) is second_call_picked


def test_an_operation_without_repeat_keeps_the_orders_own() -> None:
    core = core_with((1, SAM))
    core.operate(1, Operation.LISTEN_IN, agent_id=AGENT, may_monitor=True, repeat=Repeat.NEXT_CALL)
    core.operate(1, Operation.COACH, agent_id=AGENT, may_monitor=True)
    order = core.devices[1].order
    assert order is not None
    assert (order.repeat, order.scope, order.mode) == (Repeat.NEXT_CALL, Scope.CALL, COACH)
    # a new order without them: AllCalls, Call scope
    core.operate(1, Operation.BARGE_IN, agent_id=OTHER_AGENT, may_monitor=True)
    order = core.devices[1].order
    assert order is not None
    assert (order.repeat, order.scope) == (Repeat.ALL_CALLS, Scope.CALL)


def test_cancel_ends_everything_with_one_state_push() -> None:
    core = core_with((1, SAM))
    core.operate(1, Operation.LISTEN_IN, agent_id=AGENT, may_monitor=True, current=call("c1"))
    supervise(core, call("c2", agent=OTHER_AGENT), 1)
    effects = core.operate(1, Operation.CANCEL)
    assert kinds(effects).count("PushState") == 1
    assert kinds(effects).count("StreamEnded") == 2
    assert kinds(effects)[-1] == "ShareOrder"
    state = states(effects)[0]
    assert "supervisorMonitoringState" not in state
    assert "CancelSupervisorMonitoring" not in state["capabilities"]
    assert not core.by_call
    assert not core.orders


def test_arming_another_agent_replaces_the_order() -> None:
    core = core_with((1, SAM))
    core.operate(1, Operation.LISTEN_IN, agent_id=AGENT, may_monitor=True, current=call())
    core.operate(1, Operation.LISTEN_IN, agent_id=OTHER_AGENT, may_monitor=True)
    assert not core.by_call  # the first agent's call was let go
    assert list(core.orders) == [OTHER_AGENT]


def test_an_order_used_on_another_node_disarms_a_next_call_order() -> None:
    core = core_with((1, SAM))
    core.operate(1, Operation.LISTEN_IN, agent_id=AGENT, may_monitor=True, repeat=Repeat.NEXT_CALL)
    core.order_used(1)
    assert core.devices[1].order is None
    assert not core.waiting_orders(call())


# -- scopes across transfers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "may_monitor_new", "follows"),
    [
        (Scope.CALL, True, True),
        (Scope.CALL, False, False),
        (Scope.AGENT, True, False),
        (None, True, True),  # a REST supervision follows the call
        (None, False, False),
    ],
)
def test_scopes_across_transfers(scope: Scope | None, may_monitor_new: bool, follows: bool) -> None:
    core = core_with((1, SAM))
    if scope is None:
        supervise(core, call(), 1, party="p-c1-2")
    else:
        core.operate(
            1, Operation.LISTEN_IN, agent_id=AGENT, may_monitor=True, scope=scope, current=call()
        )
    sup = core.by_call["c1"]
    moved = replace(call(), agent_extension=OTHER_AGENT, agent_party="p-c1-4")
    effects = core.call_transferred(moved, may_monitor_new=may_monitor_new)
    if follows:
        assert kinds(effects) == ["StreamTransferred", "PushState"]
        assert sup.state is SupervisionState.ACTIVE
        transferred = effects[0]
        assert isinstance(transferred, fx.StreamTransferred)
        assert transferred.agent_id == OTHER_AGENT
        if scope is None:  # the agent's own stream now hears the new agent
            assert sup.streams[0].target_party == "p-c1-4"
    else:
        assert "StreamEnded" in kinds(effects)
        assert sup.state is SupervisionState.ENDED
        assert "c1" not in core.by_call
        ended = next(e for e in effects if isinstance(e, fx.StreamEnded))
        assert ("Agent scope" in ended.reason) is (scope is Scope.AGENT)


def test_an_ended_supervision_takes_no_more_actions() -> None:
    core = core_with((1, SAM))
    supervise(core, call(), 1)
    sup = core.by_call["c1"]
    core.call_ended(replace(call(), live=False))
    assert sup.state is SupervisionState.ENDED
    with pytest.raises(InvalidState, match="ended"):
        core.set_mode(sup, COACH)
    assert core.end("c1", "again") == []  # ending twice does nothing


def test_the_core_does_no_io() -> None:
    """The rules import neither asyncio nor aiohttp, and know nothing of a cluster, the
    database or the ingest."""
    import ast
    from pathlib import Path

    import callscope.supervision as package

    root = Path(package.__file__).parent
    pure = ("core.py", "book.py", "model.py", "effects.py", "state.py", "webphone.py")
    banned = ("asyncio", "aiohttp", "callscope.cluster", "callscope.store", "callscope.ingest")
    for name in pure:
        source = (root / name).read_text()
        assert "cluster" not in source.lower(), name
        for node in ast.walk(ast.parse(source)):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            for module in modules:
                assert not module.startswith(banned), f"{name} imports {module}"


def test_stream_ids_given_to_relayed_streams_are_not_reused() -> None:
    """A device's node numbers the streams of other nodes' calls in the device's own space
    (``DeviceRecord.relayed``): a local stream never takes one of those ids."""
    record = DeviceRecord(DeviceView(7, 1, "101", "a1"))
    relayed = RelayedStreams()
    first = record.new_stream_id()
    record.relayed.add(first)
    relayed.add("node-a", 1, first)
    assert record.new_stream_id() != first
    assert relayed.local("node-a", 1) == first
    assert relayed.remote(first) == ("node-a", 1)
    assert relayed.of_node("node-a") == [first]
    relayed.remove(first)
    assert relayed.local("node-a", 1) is None
    assert len(relayed) == 0
