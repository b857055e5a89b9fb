"""Telephony sessions (spec §7.1) and active calls (spec §6)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from callscope.api.auth import account_param, caller, may_watch, require_admin
from callscope.api.directory import base_url, extension_in_account
from callscope.api.errors import ApiError, json_response, not_found
from callscope.api.openapi import describe, query_param
from callscope.api.paging import page_params, paged
from callscope.calls.calllog import call_log_record
from callscope.calls.telephony import TelephonyService
from callscope.calls.views import agent_extension, party_json, session_json
from callscope.store.directory import DirectoryRepository
from callscope.store.models import Party, TelephonySession

__all__ = ["TelephonyApi", "readable_extension"]

ACCOUNT = "/restapi/v1.0/account/{accountId}"
_ACTIVE_QUERY = (
    query_param("direction", "Inbound or Outbound (repeatable)",
                enum=("Inbound", "Outbound"), repeat=True),
    query_param("page", "1-based page", kind="integer"),
    query_param("perPage", "records per page, 1-1000 or max", kind="string"),
)  # fmt: skip


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
        """A telephony session's status and parties (spec §7.1)."""
        session, parties = await self._session(request)
        return json_response(session_json(session, parties))

    async def get_party(self, request: web.Request) -> web.Response:
        """One party of a telephony session (spec §7.1)."""
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
        live = [e for e in live if not directions or e[0].direction in directions]
        chunk = live[(page - 1) * per_page : page * per_page]
        ids = {p.extension_id for *_, parties in chunk for p in parties}
        extensions = await self.directory.extensions(
            account_id, sorted(i for i in ids if i is not None)
        )
        base = base_url(request, account_id)
        now = datetime.now(UTC)
        records = [
            # the call-log record of the call (its uri resolves there): "In Progress"
            call_log_record(
                call,
                session,
                parties,
                base=base,
                now=now,
                extensions=extensions,
                extension_id=extension_id,
            )
            for session, call, parties in chunk
        ]
        return json_response(paged(request, records, len(live), page, per_page))

    @describe(response="CallLogResponse", query=_ACTIVE_QUERY)
    async def company_active_calls(self, request: web.Request) -> web.Response:
        """The account's calls in progress, newest first (admin)."""
        account_id = account_param(request)
        require_admin(request, "ReadCompanyCallLog")
        return await self._records(request, account_id, None)

    @describe(response="CallLogResponse", query=_ACTIVE_QUERY)
    async def extension_active_calls(self, request: web.Request) -> web.Response:
        """The extension's calls in progress, newest first.

        Readable by the extension, an admin, or a supervisor whose monitoring groups let them
        monitor it."""
        account_id = account_param(request)
        ext_id = await readable_extension(request, self.directory, account_id)
        return await self._records(request, account_id, ext_id)


async def readable_extension(
    request: web.Request, directory: DirectoryRepository, account_id: str
) -> int:
    """The ``{extensionId}`` of the path if the caller may read its calls: its own, an
    admin's, or a supervisor's whose monitoring groups let them monitor it (spec §7.5).
    404 outside the account, 403 ``CMN-404`` otherwise."""
    ext_id = (await extension_in_account(request, directory, account_id)).id
    auth = caller(request)
    if (
        ext_id != auth.extension_id
        and not auth.admin
        and not await directory.may_monitor(auth.extension_id, ext_id)
    ):
        raise ApiError(403, "CMN-404", "Access to another extension's calls is not allowed")
    return ext_id
