"""Telephony sessions (spec §7.1) and active calls (spec §6)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from callscope.api.auth import account_param, caller, may_watch
from callscope.api.directory import base_url, extension_in_account
from callscope.api.errors import ApiError, json_response, not_found
from callscope.api.paging import page_params, paged
from callscope.calls.numbers import e164
from callscope.calls.telephony import TelephonyService
from callscope.calls.views import (
    agent_extension,
    current_agent,
    endpoint,
    iso,
    party_json,
    session_json,
)
from callscope.identity.service import aware
from callscope.store.directory import DirectoryRepository
from callscope.store.models import Call, Party, TelephonySession

__all__ = ["TelephonyApi"]

ACCOUNT = "/restapi/v1.0/account/{accountId}"


class TelephonyApi:
    def __init__(self, telephony: TelephonyService, directory: DirectoryRepository) -> None:
        self.telephony = telephony
        self.directory = directory

    def routes(self) -> list[web.RouteDef]:
        sessions = ACCOUNT + "/telephony/sessions/{sessionId}"
        return [
            web.get(sessions, self.get_session),
            web.get(sessions + "/parties/{partyId}", self.get_party),
            web.get(ACCOUNT + "/active-calls", self.company_active_calls),
            web.get(ACCOUNT + "/extension/{extensionId}/active-calls", self.extension_active_calls),
        ]

    async def _session(self, request: web.Request) -> tuple[TelephonySession, list[Party]]:
        """The session if the caller may see it: an admin any of the account's; anyone else
        those they are a party of or whose agents they may monitor (404 otherwise, as
        ``/calls/{id}``)."""
        account_id = account_param(request)
        raw = request.match_info["sessionId"]
        found = await self.telephony.get(account_id, raw)
        if found is None or not await may_watch(
            self.directory, caller(request), (p.extension_id for p in found[1])
        ):
            raise not_found("telephonySessionId", raw[:64])
        return found

    async def get_session(self, request: web.Request) -> web.Response:
        session, parties = await self._session(request)
        return json_response(session_json(session, parties))

    async def get_party(self, request: web.Request) -> web.Response:
        _, parties = await self._session(request)
        raw = request.match_info["partyId"]
        party = next((p for p in parties if p.id == raw), None)
        if party is None:
            raise not_found("partyId", raw[:64])
        return json_response(party_json(party, agent_extension(parties)))

    def _page(self, request: web.Request) -> tuple[int, int]:
        if request.query.get("perPage") == "max":  # spec §6: active calls accept "max"
            return 1, 1000
        return page_params(request)

    async def _records(
        self, request: web.Request, account_id: str, extension_id: int | None
    ) -> web.Response:
        page, per_page = self._page(request)
        live = await self.telephony.live_sessions(account_id, extension_id)
        directions = request.query.getall("direction", [])
        base = base_url(request, account_id)
        now = datetime.now(UTC)
        records = []
        for session, call, parties in live:
            if directions and session.direction not in directions:
                continue
            records.append(self._record(session, call, parties, base, now))
        total = len(records)
        chunk = records[(page - 1) * per_page : page * per_page]
        return json_response(paged(request, chunk, total, page, per_page))

    def _record(
        self,
        session: TelephonySession,
        call: Call,
        parties: list[Party],
        base: str,
        now: datetime,
    ) -> dict[str, Any]:
        agent = current_agent(parties)
        seconds = max(0, int((now - aware(session.creation_time)).total_seconds()))
        record: dict[str, Any] = {
            "id": f"cl-{call.id}",
            "sessionId": call.session_id or call.id,
            "telephonySessionId": session.id,
            "type": "Voice",
            "direction": session.direction,
            "action": "Phone Call",
            "result": "In Progress",
            "startTime": iso(session.creation_time),
            "duration": seconds,
            "durationMs": seconds * 1000,
            "transport": "PSTN",
            "from": endpoint(e164(call.ani), "Customer", None),
            "to": endpoint(
                e164(call.dnis),
                agent.to_name if agent else None,
                agent.extension_id if agent else None,
            ),
        }
        # the numbers as the stream sent them (spec §6: "without any format modifications")
        if session.direction == "Inbound" and call.ani:
            record["from"]["dialerPhoneNumber"] = call.ani
        if session.direction == "Outbound" and call.dnis:
            record["to"]["dialedPhoneNumber"] = call.dnis
        if agent is not None:
            record["partyId"] = agent.id
            if agent.extension_id is not None:
                record["extension"] = {
                    "id": agent.extension_id,
                    "uri": f"{base}/extension/{agent.extension_id}",
                }
        owner = f"{base}/extension/{agent.extension_id}" if agent and agent.extension_id else base
        record["uri"] = f"{owner}/call-log/{record['id']}"
        return record

    async def company_active_calls(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        if not caller(request).admin:
            raise ApiError(
                403,
                "CMN-408",
                "[ReadCompanyCallLog] permission required",
                permissionName="ReadCompanyCallLog",
            )
        return await self._records(request, account_id, None)

    async def extension_active_calls(self, request: web.Request) -> web.Response:
        """The extension's own calls; also readable by admins and by a supervisor whose
        monitoring groups allow them to monitor that extension."""
        account_id = account_param(request)
        ext_id = (await extension_in_account(request, self.directory, account_id)).id
        auth = caller(request)
        if (
            ext_id != auth.extension_id
            and not auth.admin
            and not await self.directory.may_monitor(auth.extension_id, ext_id)
        ):
            raise ApiError(403, "CMN-404", "Access to another extension's calls is not allowed")
        return await self._records(request, account_id, ext_id)
