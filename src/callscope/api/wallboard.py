"""The supervisor's wallboard: ``GET /calls/wallboard`` (every live call the caller may see
with its agent, product, duration, live sentiment, alerts and who monitors it; the agents'
presence; per-queue figures), ``GET /calls/wallboard/ws`` (one socket for every call's
changes) and ``GET /calls/{id}/audit`` (who listened, coached or barged and when, and the
live alerts kept with the call).

Scoped exactly like ``GET /calls``: an admin sees every call of the account, a supervisor
the calls of the agents its monitoring groups allow, an agent its own.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, web

from callscope.api.auth import caller
from callscope.api.calls import CallAccess, call_json
from callscope.api.errors import json_response
from callscope.api.proxy import public_origin
from callscope.api.revocation import OpenSockets
from callscope.calls.telephony import TelephonyService
from callscope.calls.wallboard import CallSummary, WallboardFeed, wallboard_topic
from callscope.events.bus import Bus, BusOverflow, Subscription
from callscope.identity.model import AuthContext
from callscope.store.audit import AuditRepository
from callscope.store.directory import DirectoryRepository
from callscope.store.models import Call, CallStatus, Extension
from callscope.store.repo import utcnow

__all__ = ["WallboardApi"]

#: how long a wallboard socket trusts the agents it may show before reading them again
SCOPE_TTL_S = 10.0
#: the most live calls a wallboard lists
MAX_CALLS = 500


def _iso(v: datetime | None) -> str | None:
    if v is None:
        return None
    v = v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    return v.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _elapsed_ms(started: datetime, now: datetime) -> int:
    start = started.replace(tzinfo=UTC) if started.tzinfo is None else started
    return max(0, int((now - start).total_seconds() * 1000))


def _queues(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Live calls and the longest call per queue or campaign."""
    by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for c in calls:
        if c["productType"] and c["productId"]:
            by[(c["productType"], c["productId"])].append(c)
    return [
        {
            "productType": kind,
            "productId": pid,
            "liveCalls": len(group),
            "longestCallMs": max(c["elapsedMs"] for c in group),
        }
        for (kind, pid), group in sorted(by.items())
    ]


class WallboardApi:
    def __init__(
        self,
        access: CallAccess,
        audit: AuditRepository,
        feed: WallboardFeed,
        telephony: TelephonyService,
        bus: Bus,
        sockets: OpenSockets,
    ) -> None:
        self.access = access
        self.audit = audit
        self.feed = feed
        self.telephony = telephony
        self.directory: DirectoryRepository = access.directory
        self.bus = bus
        self.sockets = sockets

    def routes(self) -> list[web.RouteDef]:
        # before /calls/{id}: "wallboard" is not a call id
        return [
            web.get("/calls/wallboard", self.get_wallboard),
            web.get("/calls/wallboard/ws", self.wallboard_ws),
            web.get("/calls/{id}/audit", self.get_audit),
        ]

    async def _agents(self, auth: AuthContext, allowed: set[str] | None) -> list[Extension]:
        rows, _ = await self.directory.list_extensions(auth.account_id, limit=10_000)
        return [
            e
            for e in rows
            if e.ringcx_agent_id and (allowed is None or e.ringcx_agent_id in allowed)
        ]

    async def get_wallboard(self, request: web.Request) -> web.Response:
        """The live calls the caller may see, with the agents and the queues."""
        auth = caller(request)
        allowed = await self.access.agent_ids(auth, monitored_only=False)
        rows, _ = await self.access.calls.list(
            account_id=auth.account_id,
            status=CallStatus.LIVE.value,
            agent_ids=allowed,
            limit=MAX_CALLS,
        )
        agents = await self._agents(auth, allowed)
        by_agent = {e.ringcx_agent_id: e for e in agents}
        supervising = await self.audit.supervising([c.id for c in rows])
        names = await self.directory.extensions(
            auth.account_id, sorted({r.supervisor_extension_id for r in supervising})
        )
        monitors: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in supervising:
            sup = names.get(r.supervisor_extension_id)
            monitors[r.call_id].append(
                {
                    "extensionId": str(r.supervisor_extension_id),
                    "name": sup.name if sup else f"extension {r.supervisor_extension_id}",
                    "mode": r.mode,
                    "since": _iso(r.started_at),
                }
            )
        now = utcnow()
        base = public_origin(request)
        calls = [self._call(c, by_agent, monitors, now, base) for c in rows]
        presence = await self.telephony.presence_calls(auth.account_id)
        body = {
            "serverTime": _iso(now),
            "calls": calls,
            "agents": [self._agent(e, presence.get(e.id, [])) for e in agents],
            "queues": _queues(calls),
        }
        return json_response(body)

    def _call(
        self,
        call: Call,
        by_agent: dict[str | None, Extension],
        monitors: dict[str, list[dict[str, Any]]],
        now: datetime,
        base: str,
    ) -> dict[str, Any]:
        ext = by_agent.get(call.agent_id)
        summary = self.feed.summary(call.id) or CallSummary(call.account_ref or "", call.agent_id)
        return {
            **call_json(call, base),
            "agent": {
                "id": call.agent_id,
                "extensionId": str(ext.id) if ext else None,
                "name": ext.name if ext else None,
                "extensionNumber": ext.extension_number if ext else None,
            },
            "elapsedMs": _elapsed_ms(call.started_at, now),
            "monitoredBy": monitors.get(call.id, []),
            **summary.json(),
        }

    @staticmethod
    def _agent(ext: Extension, calls: list[Any]) -> dict[str, Any]:
        live = [c for c in calls if c.telephony_status != "NoCall"]
        if live:
            presence = "OnCall"
        elif ext.status == "Enabled":
            presence = "Available"
        else:
            presence = "Offline"
        return {
            "extensionId": str(ext.id),
            "name": ext.name,
            "extensionNumber": ext.extension_number,
            "agentId": ext.ringcx_agent_id,
            "presence": presence,
            "callIds": [c.call_id for c in live],
        }

    async def get_audit(self, request: web.Request) -> web.Response:
        """Who listened to, coached or barged into the call and when; its live alerts."""
        call = await self.access.call(request)
        auth = caller(request)
        rows = await self.audit.supervision(call.id)
        names = await self.directory.extensions(
            auth.account_id, sorted({r.supervisor_extension_id for r in rows})
        )
        ended = call.ended_at

        def session(r: Any) -> dict[str, Any]:
            sup = names.get(r.supervisor_extension_id)
            return {
                "supervisor": {
                    "extensionId": str(r.supervisor_extension_id),
                    "name": sup.name if sup else None,
                    "extensionNumber": sup.extension_number if sup else None,
                },
                "mode": r.mode,
                "startTime": _iso(r.started_at),
                # a row left open by a stop ends with its call
                "endTime": _iso(r.ended_at or ended),
            }

        alerts = [
            {
                "id": a.item_id,
                "type": a.type,
                "rule": a.rule,
                "severity": a.severity,
                "title": a.title,
                "text": a.text,
                "speaker": a.speaker,
                "atMs": a.at_ms,
            }
            for a in await self.audit.alerts(call.id)
        ]
        return json_response(
            {"callId": call.id, "supervision": [session(r) for r in rows], "alerts": alerts}
        )

    # -- the socket ------------------------------------------------------------------------

    async def wallboard_ws(self, request: web.Request) -> web.WebSocketResponse:
        """One socket per dashboard: ``wallboard.sentiment``, ``wallboard.alert``,
        ``wallboard.suggestion`` and ``wallboard.monitoring`` of every call it may see."""
        auth = caller(request)
        ws = web.WebSocketResponse(heartbeat=30.0)
        await ws.prepare(request)
        async with self.sockets.track(auth, ws, "wallboard"):
            if not ws.closed:
                await self._serve(ws, auth)
        return ws

    async def _serve(self, ws: web.WebSocketResponse, auth: AuthContext) -> None:
        with self.bus.subscribe(wallboard_topic(auth.account_id), maxsize=1000) as sub:
            await ws.send_json({"event": "wallboard.ready"})
            reader = asyncio.create_task(self._until_closed(ws, sub))
            try:
                await self._forward(ws, sub, auth)
            except BusOverflow:
                await ws.close(
                    code=WSCloseCode.TRY_AGAIN_LATER,
                    message=b"too slow: re-read GET /calls/wallboard",
                )
            except ConnectionResetError:
                pass
            finally:
                reader.cancel()

    async def _forward(
        self, ws: web.WebSocketResponse, sub: Subscription, auth: AuthContext
    ) -> None:
        allowed = await self.access.agent_ids(auth, monitored_only=False)
        read_at = time.monotonic()
        async for event in sub:
            if time.monotonic() - read_at > SCOPE_TTL_S:
                allowed = await self.access.agent_ids(auth, monitored_only=False)
                read_at = time.monotonic()
            if allowed is not None and event.get("agentId") not in allowed:
                continue
            await ws.send_json(event)

    @staticmethod
    async def _until_closed(ws: web.WebSocketResponse, sub: Subscription) -> None:
        async for _ in ws:
            pass
        sub.close()
