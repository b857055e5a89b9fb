"""Presence reads (spec §9.3 "Matching REST reads"): what the presence events say, asked.

* ``GET /restapi/v1.0/account/{accountId}/extension/{extensionId}/presence`` — one
  extension's presence: its own, or read by an admin or by a supervisor whose monitoring
  groups let it monitor that extension (403 CMN-404 otherwise, as the extension's active
  calls; another account's is 404).
* ``GET /restapi/v1.0/account/{accountId}/presence`` — every extension's, paged: an admin's
  read (403 CMN-408 otherwise, as account-wide telephony).

The body is the presence event's (``payloads.presence_body``) less its ``sequence``, plus
the ``uri`` and ``extension`` {id, uri, extensionNumber} of RingCentral's GetPresenceInfo;
``activeCalls`` only with ``detailedTelephonyState=true``, as RingCentral answers.
``sipData`` is accepted: callscope has no SIP data to add.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callscope.api.auth import account_param, caller, may_watch
from callscope.api.directory import base_url, extension_in_account
from callscope.api.errors import ApiError, json_response
from callscope.api.paging import page_params, paged
from callscope.calls.telephony import TelephonyService
from callscope.events.payloads import ActiveCall, presence_body
from callscope.store.directory import DirectoryRepository
from callscope.store.models import Extension

__all__ = ["PresenceApi", "presence_json"]

ACCOUNT = "/restapi/v1.0/account/{accountId}"


def presence_json(
    ext: Extension, calls: list[ActiveCall], base: str, *, detailed: bool
) -> dict[str, Any]:
    """An extension's presence as a REST read shows it (RingCentral's GetPresenceInfo)."""
    body = presence_body(ext.id, calls)
    del body["sequence"]  # an event's place in the stream of events; a read has none
    if not detailed:
        del body["activeCalls"]
    return {
        "uri": f"{base}/extension/{ext.id}/presence",
        "extension": {
            "id": ext.id,
            "uri": f"{base}/extension/{ext.id}",
            "extensionNumber": ext.extension_number,
        },
        **body,
    }


def _flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false")
    if raw not in ("true", "false"):
        raise ApiError(
            400,
            "CMN-101",
            f"Parameter [{name}] value is invalid: use true or false",
            parameterName=name,
            parameterValue=raw[:40],
        )
    return raw == "true"


class PresenceApi:
    def __init__(self, telephony: TelephonyService, directory: DirectoryRepository) -> None:
        self.telephony = telephony
        self.directory = directory

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(ACCOUNT + "/presence", self.account_presence),
            web.get(ACCOUNT + "/extension/{extensionId}/presence", self.extension_presence),
        ]

    async def extension_presence(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        ext = await extension_in_account(request, self.directory, account_id)
        detailed = _flag(request, "detailedTelephonyState")
        _flag(request, "sipData")
        if not await may_watch(self.directory, caller(request), (ext.id,)):
            raise ApiError(403, "CMN-404", "Access to another extension's presence is not allowed")
        calls = await self.telephony.presence_calls(account_id, ext.id)
        body = presence_json(
            ext, calls.get(ext.id, []), base_url(request, account_id), detailed=detailed
        )
        return json_response(body)

    async def account_presence(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        detailed = _flag(request, "detailedTelephonyState")
        _flag(request, "sipData")
        if not caller(request).admin:
            raise ApiError(
                403,
                "CMN-408",
                "[ReadPresence] permission required: only an admin reads every extension's "
                "presence",
                permissionName="ReadPresence",
            )
        page, per_page = page_params(request)
        rows, total = await self.directory.list_extensions(
            account_id, offset=(page - 1) * per_page, limit=per_page
        )
        calls = await self.telephony.presence_calls(account_id) if rows else {}
        base = base_url(request, account_id)
        records = [presence_json(e, calls.get(e.id, []), base, detailed=detailed) for e in rows]
        return json_response(paged(request, records, total, page, per_page))
