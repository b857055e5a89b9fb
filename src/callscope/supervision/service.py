"""Supervisors on live calls: the asyncio shell around the supervision core.

The rules live in ``callscope.supervision.core`` (pure). This shell asks the directory what
the core needs to know (devices, extensions, who may monitor whom), hands the core plain
facts about live calls, and carries out the effects it returns: control messages and audio
to web phones (``links``), supervisor parties (telephony), the call's audio tap and the
supervisor's microphone (``router``), transcripts, device-state events, and the cluster
(``relay``; a single node has a relay that does nothing).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from callscope.calls.telephony import call_id_of
from callscope.digits import is_digits
from callscope.errors import ErrorKind, SupervisionRefused
from callscope.identity.model import AuthContext
from callscope.store.models import Extension
from callscope.supervision import effects as fx
from callscope.supervision.devices import DeviceSessions
from callscope.supervision.links import DeviceLink
from callscope.supervision.model import (
    Operation,
    Repeat,
    Scope,
    Supervision,
    SupervisionMode,
)
from callscope.supervision.relay import ClusterRelay
from callscope.supervision.webphone import MicFrame, notice

if TYPE_CHECKING:
    from callscope.cluster.node import Cluster
    from callscope.ingest.service import LiveCall
    from callscope.store.repo import CallRepository
    from callscope.transcription.live import PartyFeed

__all__ = ["SupervisionService", "target_device_id"]

logger = logging.getLogger("callscope.supervision")

Commit = asyncio.Future[None]


class SupervisionService(DeviceSessions):
    """Supervise Call Session/Party (RingCentral), monitoring orders (Genesys) and the
    ingest hooks of a call's life."""

    def join(self, cluster: Cluster, calls: CallRepository) -> None:
        """Supervise across the nodes of a cluster: a call is supervised on the node that
        receives it; a web phone connected to another node is reached through that node."""
        self.cluster = cluster
        self.node_id = cluster.node_id
        self.relay = ClusterRelay(self, cluster, calls)

    def live_call(self, account_id: str, session_id: str) -> LiveCall:
        call = self.live_calls.get(call_id_of(session_id))
        if (
            call is None
            or call.session is None
            or call.finished
            or call.session.account_id != account_id
            or not call.authenticated  # a stream that proved no account is never supervised
        ):
            raise SupervisionRefused(
                ErrorKind.NOT_FOUND,
                "Resource for parameter [telephonySessionId] is not found (or the call has ended)",
                parameter="telephonySessionId",
                value=session_id[:64],
            )
        return call

    def current_call(self, agent_id: int) -> LiveCall | None:
        for call in self.live_calls.values():
            if (
                call.session is not None
                and not call.finished
                and call.authenticated
                and call.session.agent_extension == agent_id
            ):
                return call
        return None

    async def device_for(self, auth: AuthContext, raw: Any, parameter: str) -> DeviceLink:
        """A connected web phone the caller may use: their own (an admin: anyone's). Another
        extension's device answers as an unknown one does (its existence is not told)."""
        text = str(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
        if not is_digits(text) or len(text) > 18:
            raise SupervisionRefused(
                ErrorKind.INVALID,
                f"Parameter [{parameter}] value is invalid",
                parameter=parameter,
                value=raw,
            )
        device = await self.directory.get_device(auth.account_id, int(text))
        if device is None or (device.extension_id != auth.extension_id and not auth.admin):
            raise SupervisionRefused.not_found(parameter, text)
        link = self.devices.get(device.id) or await self.relay.remote_link(device)
        if link is None:
            hint = (
                "connect it at /supervision/device"
                if device.type == "WebPhone"
                else "callscope delivers supervision audio to WebPhone devices (connect one at "
                "/supervision/device) and to registered SIP phones (an account from "
                "`callscope admin device --sip`)"
            )
            raise SupervisionRefused(
                ErrorKind.INVALID,
                f"Device {text} is Offline: {hint}",
                parameter=parameter,
                value=text,
            )
        return link

    async def check_policy(self, supervisor: Extension, agent: Extension) -> None:
        if not await self.directory.may_monitor(supervisor.id, agent.id):
            raise SupervisionRefused(
                ErrorKind.PERMISSION,
                f"[CallMonitoring] permission required: extension {supervisor.extension_number} "
                f"is not Monitoring and {agent.extension_number} Monitored in a common call "
                "monitoring group",
                permission="CallMonitoring",
            )

    # -- supervise (RingCentral) ---------------------------------------------------------------

    async def supervise(
        self,
        auth: AuthContext,
        session_id: str,
        party_id: str | None,
        mode: SupervisionMode,
        device_raw: Any,
        agent: Extension,
    ) -> tuple[dict[str, Any], bool]:
        """Start (or change the mode of) a supervision. Returns the supervisor party and
        whether it is new."""
        self.live_call(auth.account_id, session_id)
        link = await self.device_for(auth, device_raw, "supervisorDeviceId")
        await self.check_policy(link.owner, agent)
        # Everything below runs without awaiting: the checks and the change are one step.
        call = self.live_call(auth.account_id, session_id)
        live = call.session
        assert live is not None
        if live.agent_extension != agent.id:
            raise SupervisionRefused(
                ErrorKind.INVALID,
                f"Extension {agent.extension_number} is not the agent of this call",
                parameter="agentExtensionId",
                value=str(agent.id),
            )
        view = self.view_of(call)
        status = live.party_status.get(party_id or "")
        active = status is not None and party_id in live.parties
        active = active and status not in ("Disconnected", "Gone")
        channel = self.core.channel_of(view, party_id, party_active=active)
        self._agents[agent.id] = agent
        stream, new, effects = self.core.supervise(view, link.id, mode, channel, party_id, agent.id)
        commits = self.run(effects)
        shown = live.parties[stream.supervisor_party]
        party = {k: v for k, v in shown.items() if k not in ("recordings", "missedCall", "park")}
        for effect, commit in commits:
            if isinstance(effect, fx.AddParty) and effect.stream is stream:
                await commit  # a GET of the session right after shows the party
        return party, new

    async def leave(self, auth: AuthContext, session_id: str, party_id: str) -> None:
        """``DELETE …/parties/{supervisorPartyId}``: that stream ends."""
        call = self.live_call(auth.account_id, session_id)
        assert call.call_id is not None
        assert call.session is not None
        effects = self.core.leave(
            call.call_id,
            party_id,
            caller_id=auth.extension_id,
            admin=auth.admin,
            party_in_call=party_id in call.session.parties,
        )
        await asyncio.gather(*(c for _, c in self.run(effects)))

    async def microphone(self, link: DeviceLink, frame: MicFrame, raw: bytes = b"") -> int:
        """Microphone audio from a device into every call it coaches or barges into (or the
        one call of ``frame.stream``), here and, as ``raw``, on the nodes carrying the calls
        it supervises there. Returns how many calls here it reached."""
        if raw and link.remote_nodes:
            self.relay.forward_mic(link, raw)
        targets = self.core.talk_targets(link.id, frame.stream)
        return await self.router.microphone(link, frame, targets, self.live_calls, self._feed)

    def _feed(self, sup: Supervision) -> PartyFeed | None:
        if sup.mode is SupervisionMode.BARGE:
            return self._open_feed(sup)
        return self._feeds.get(sup.call_id)

    # -- monitoring orders (Genesys) -----------------------------------------------------------

    async def operate(
        self,
        auth: AuthContext,
        device_raw: str,
        operation: Operation,
        *,
        target: Extension | None,
        target_device_uri: str | None,
        repeat: Repeat | None,
        scope: Scope | None,
    ) -> None:
        """A Genesys operation on one of the caller's own devices."""
        link = await self.device_for(auth, device_raw, "id")
        if link.owner.id != auth.extension_id:
            # /me/devices: the caller's own only
            raise SupervisionRefused.not_found("id", device_raw)
        if operation is Operation.CANCEL or target is None:
            effects = self.core.operate(link.id, Operation.CANCEL)
        else:
            may = await self.directory.may_monitor(link.owner.id, target.id)
            current = self.current_call(target.id)
            self._agents[target.id] = target
            effects = self.core.operate(
                link.id,
                operation,
                agent_id=target.id,
                may_monitor=may,
                current=self.view_of(current) if current is not None else None,
                repeat=repeat,
                scope=scope,
                target_device_uri=target_device_uri,
            )
        await asyncio.gather(*(c for _, c in self.run(effects)))

    async def apply_order(self, msg: dict[str, Any]) -> None:
        """Cluster: an order another node armed, changed or cancelled."""
        device = await self.directory.get_device(str(msg["account"]), int(msg["device"]))
        link = (
            None
            if device is None
            else (self.devices.get(device.id) or await self.relay.remote_link(device))
        )
        if device is None or link is None:
            return
        operation = Operation(str(msg["op"]))
        agent = None
        if operation is not Operation.CANCEL:
            agent = await self.directory.get_extension(device.account_id, int(msg["agent"]))
        record = self.core.devices.get(link.id)
        if record is None or (agent is None and operation is not Operation.CANCEL):
            return
        if agent is None:
            had = record.order is not None
            effects = self.core.drop_order(link.id)
            if had and not link.remote:
                effects += self.core.push(link.id)
            self.run(effects)
            return
        self._agents[agent.id] = agent
        mode = operation.mode
        assert mode is not None
        order = record.order
        held = order.attached if order is not None and order.agent_id == agent.id else None
        effects = []
        if held is not None and (not mode.talks or held.two_way):
            effects += self.core.set_mode(held, mode)
        current = self.current_call(agent.id)
        armed = self.core.arm(
            record,
            agent.id,
            mode,
            Repeat(str(msg["repeat"])),
            Scope(str(msg["scope"])),
            msg.get("target"),
            used=bool(msg.get("used")),
            current=self.view_of(current) if current is not None else None,
        )
        if any(isinstance(e, fx.AttachTap) for e in armed):
            armed += self.core.push(link.id)
        self.run(effects + armed)

    def order_used_elsewhere(self, device_id: int) -> None:
        self.run(self.core.order_used(device_id))

    async def _attach_orders(self, call: LiveCall) -> None:
        for order in self.core.waiting_orders(self.view_of(call)):
            record = self.core.devices.get(order.device_id)
            if record is None:
                continue
            # Group membership may have changed since the order was armed.
            may = await self.directory.may_monitor(record.view.owner_id, order.agent_id)
            if call.finished or call.call_id in self.core.by_call:
                return
            if not may:
                self._send(order.device_id, notice("no longer allowed to monitor this agent"))
                continue
            effects = self.core.attach(order, self.view_of(call))
            if effects:
                self.run(effects + self.core.push(order.device_id))
                return

    # -- call life (ingest hooks) --------------------------------------------------------------

    def call_started(self, call: LiveCall) -> None:
        if not call.authenticated or call.session is None:
            return  # no monitoring order attaches to a stream that proved no account
        if self.core.waiting_orders(self.view_of(call)):
            self.spawn(self._attach_orders(call))

    def call_ended(self, call: LiveCall) -> None:
        if call.session is not None and call.call_id in self.core.by_call:
            self.run(self.core.call_ended(self.view_of(call)))

    async def call_transferred(self, call: LiveCall, old_agent: int | None) -> None:
        live = call.session
        if live is None or not call.authenticated or call.call_id is None:
            return
        sup = self.core.by_call.get(call.call_id)
        if sup is not None:
            record = self.core.devices.get(sup.device_id)
            new_agent = live.agent_extension
            follows = sup.order is None or sup.order.scope is Scope.CALL
            may = (
                follows
                and new_agent is not None
                and record is not None
                and await self.directory.may_monitor(record.view.owner_id, new_agent)
            )
            self.run(self.core.call_transferred(self.view_of(call), may_monitor_new=may))
        if call.call_id not in self.core.by_call and self.core.waiting_orders(self.view_of(call)):
            await self._attach_orders(call)


def target_device_id(uri: str) -> str | None:
    """The device id at the end of a Genesys ``targetDeviceUri`` (``…/devices/{id}``)."""
    path = urlsplit(uri).path.rstrip("/")
    head, _, last = path.rpartition("/")
    if not head.endswith("/devices") or not last:
        return None
    return last
