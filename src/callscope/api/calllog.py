"""Call log and call recordings, as RingCentral's REST API serves them.

Vendor spec (RingCentral OpenAPI, "Call Log" and "Call Recordings"): ``GET
…/account/{accountId}/call-log`` (ReadCompanyCallLog: an admin), ``GET
…/extension/{extensionId}/call-log`` (that extension, an admin, or a supervisor whose
monitoring groups let them monitor it, as its active calls), one record of either, and
``GET …/account/{accountId}/recording/{recordingId}`` with its ``/content``. Records come
from callscope's calls, telephony sessions and parties (:mod:`callscope.calls.calllog`).

A recording is read with the permission of its call (``/calls/{id}``): an admin of the
account, the call's agent, or a supervisor allowed to monitor that agent; anyone else gets
404, as if it did not exist.

UNCONFIRMED (the vendor spec is silent; callscope's choices):

* calls in progress are in the call log too, ``result: "In Progress"`` (the same record as
  the active call);
* an extension's log holds the calls it took as an agent, not those it listened to as a
  supervisor (their ``Monitoring`` legs are in the agent's record, ``view=Detailed``);
* ``…/call-log/{callRecordId}`` takes one id (the vendor's form accepts several, comma
  separated: that answers 404 here);
* ``perPage`` goes up to 1000 in both views (the vendor caps Detailed at 250).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from callscope.api.auth import account_param, caller, require_admin
from callscope.api.calls import CallAccess, recording_file, recording_response
from callscope.api.directory import base_url
from callscope.api.errors import ApiError, json_response, not_found
from callscope.api.openapi import describe, query_param
from callscope.api.paging import page_params, paged
from callscope.api.telephony import readable_extension
from callscope.calls.calllog import call_id_of_record, call_log_record, owner_party
from callscope.calls.numbers import e164
from callscope.store.calllog import CallLogQuery, CallLogRepository, LogEntry
from callscope.store.directory import DirectoryRepository
from callscope.store.models import Call

__all__ = ["CallLogApi"]

ACCOUNT = "/restapi/v1.0/account/{accountId}"
#: vendor spec: "The default value is dateTo minus 24 hours"
DEFAULT_SPAN = timedelta(hours=24)
DIRECTIONS = ("Inbound", "Outbound")
VIEWS = ("Simple", "Detailed")
TYPES = ("Voice", "Fax")
RECORDING_TYPES = ("Automatic", "OnDemand", "All")

_LIST_QUERY = (
    query_param("dateFrom", "start time at or after (ISO 8601); default dateTo minus 24 h",
                fmt="date-time"),
    query_param("dateTo", "start time at or before (ISO 8601); default now", fmt="date-time"),
    query_param("view", "Detailed adds legs", enum=VIEWS),
    query_param("type", "Voice or Fax (repeatable); callscope records Voice only",
                enum=TYPES, repeat=True),
    query_param("direction", "Inbound or Outbound (repeatable)", enum=DIRECTIONS, repeat=True),
    query_param("withRecording", "only calls with a kept recording", kind="boolean"),
    query_param("recordingType", "Automatic or All: only recorded calls; OnDemand: none",
                enum=RECORDING_TYPES),
    query_param("phoneNumber", "the caller's or the called number (E.164, '+' optional)"),
    query_param("sessionId", "the legacy session id"),
    query_param("page", "1-based page", kind="integer"),
    query_param("perPage", "records per page, 1-1000 (default 100)", kind="integer"),
)  # fmt: skip
_COMPANY_QUERY = (
    *_LIST_QUERY,
    query_param("extensionNumber", "only that extension's calls"),
)
_VIEW_QUERY = (query_param("view", "Detailed adds legs", enum=VIEWS),)


def _invalid(name: str, raw: str, why: str) -> ApiError:
    return ApiError(
        400,
        "CMN-101",
        f"Parameter [{name}] value is invalid: {why}",
        parameterName=name,
        parameterValue=raw[:64],
    )


def _choice(request: web.Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = request.query.get(name, default)
    if raw not in allowed:
        raise _invalid(name, raw, f"use one of {', '.join(allowed)}")
    return raw


def _choices(request: web.Request, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """A repeatable parameter (``direction=Inbound&direction=Outbound``, commas too)."""
    values = [v for raw in request.query.getall(name, []) for v in raw.split(",") if v]
    for v in values:
        if v not in allowed:
            raise _invalid(name, v, f"use one of {', '.join(allowed)}")
    return tuple(dict.fromkeys(values))


def _flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false")
    if raw.lower() not in ("true", "false"):
        raise _invalid(name, raw, "true or false")
    return raw.lower() == "true"


def _date(request: web.Request, name: str, default: datetime) -> datetime:
    raw = request.query.get(name)
    if raw is None:
        return default
    # the Python SDK sends query values unencoded: the "+" of "+02:00" arrives as a space
    text = raw.strip().replace(" ", "+")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _invalid(name, raw, "an ISO 8601 date-time, e.g. 2026-05-04T15:02:11Z") from exc
    # UNCONFIRMED: a time without a zone is read as UTC
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _numbers(raw: str) -> tuple[str, ...]:
    """The texts a ``phoneNumber`` may be stored as: the vendor spec sends E.164 without the
    "+" (``16505550123``); the "+" may also come, or arrive as a space (an unencoded query)."""
    text = raw.strip()
    digits = text.lstrip("+")
    candidates = {text, digits, "+" + digits}
    candidates |= {n for n in (e164(text), e164("+" + digits)) if n}
    return tuple(sorted(c for c in candidates if c))


class CallLogApi:
    def __init__(
        self, log: CallLogRepository, directory: DirectoryRepository, access: CallAccess
    ) -> None:
        self.log = log
        self.directory = directory
        self.access = access

    def routes(self) -> list[web.RouteDef]:
        ext = ACCOUNT + "/extension/{extensionId}"
        recording = ACCOUNT + "/recording/{recordingId}"
        return [
            web.get(ACCOUNT + "/call-log", self.company_log),
            web.get(ACCOUNT + "/call-log/{callRecordId}", self.company_record),
            web.get(ext + "/call-log", self.extension_log),
            web.get(ext + "/call-log/{callRecordId}", self.extension_record),
            web.get(recording, self.recording),
            web.get(recording + "/content", self.recording_content),
        ]

    async def _list(
        self, request: web.Request, account_id: str, extension_id: int | None
    ) -> web.Response:
        page, per_page = page_params(request)
        detailed = _choice(request, "view", VIEWS, "Simple") == "Detailed"
        types = _choices(request, "type", TYPES)
        directions = _choices(request, "direction", DIRECTIONS)
        # callscope has voice calls only, every one recorded automatically
        none = bool(types) and "Voice" not in types
        with_recording = _flag(request, "withRecording")
        if "recordingType" in request.query:  # vendor spec: then withRecording is ignored
            with_recording = True
            recording_type = _choice(request, "recordingType", RECORDING_TYPES, "All")
            none = none or recording_type == "OnDemand"
        now = datetime.now(UTC)
        date_to = _date(request, "dateTo", now)
        date_from = _date(request, "dateFrom", date_to - DEFAULT_SPAN)
        number = request.query.get("phoneNumber", "").strip()
        if len(number) > 64:
            raise _invalid("phoneNumber", number, "at most 64 characters")
        session_id = request.query.get("sessionId")
        number_filter = _numbers(number) if number else ()
        if extension_id is None and "extensionNumber" in request.query:
            ext = await self.directory.extension_by_number(
                account_id, request.query["extensionNumber"][:16]
            )
            none = none or ext is None
            extension_id = ext.id if ext is not None else None
        entries: list[LogEntry] = []
        total = 0
        if not none and date_from <= date_to:
            entries, total = await self.log.find(
                CallLogQuery(
                    account_id=account_id,
                    date_from=date_from,
                    date_to=date_to,
                    extension_id=extension_id,
                    directions=directions,
                    numbers=number_filter,
                    with_recording=with_recording,
                    session_id=session_id,
                    offset=(page - 1) * per_page,
                    limit=per_page,
                )
            )
        records = await self._records(request, account_id, entries, extension_id, detailed, now)
        return json_response(paged(request, records, total, page, per_page))

    async def _records(
        self,
        request: web.Request,
        account_id: str,
        entries: list[LogEntry],
        extension_id: int | None,
        detailed: bool,
        now: datetime,
    ) -> list[dict[str, Any]]:
        ids = {p.extension_id for *_, parties in entries for p in parties}
        extensions = await self.directory.extensions(
            account_id, sorted(i for i in ids if i is not None)
        )
        base = base_url(request, account_id)
        return [
            call_log_record(
                call,
                session,
                parties,
                base=base,
                now=now,
                extensions=extensions,
                extension_id=extension_id,
                detailed=detailed,
            )
            for session, call, parties in entries
        ]

    async def _one(
        self, request: web.Request, account_id: str, extension_id: int | None
    ) -> web.Response:
        detailed = _choice(request, "view", VIEWS, "Simple") == "Detailed"
        raw = request.match_info["callRecordId"]
        call_id = call_id_of_record(raw)
        entry = await self.log.get(account_id, call_id) if call_id else None
        if entry is not None and extension_id is not None:
            agent = owner_party(entry[2], extension_id)
            if agent is None or agent.extension_id != extension_id:
                entry = None  # not a call of that extension
        if entry is None:
            raise not_found("callRecordId", raw)
        (record,) = await self._records(
            request, account_id, [entry], extension_id, detailed, datetime.now(UTC)
        )
        return json_response(record)

    @describe(response="CallLogResponse", query=_COMPANY_QUERY)
    async def company_log(self, request: web.Request) -> web.Response:
        """The account's call log, newest first (admin)."""
        account_id = account_param(request)
        require_admin(request, "ReadCompanyCallLog")
        return await self._list(request, account_id, None)

    @describe(response="CallLogRecord", query=_VIEW_QUERY)
    async def company_record(self, request: web.Request) -> web.Response:
        """One record of the account's call log (admin)."""
        account_id = account_param(request)
        require_admin(request, "ReadCompanyCallLog")
        return await self._one(request, account_id, None)

    @describe(response="CallLogResponse", query=_LIST_QUERY)
    async def extension_log(self, request: web.Request) -> web.Response:
        """An extension's call log, newest first.

        Readable by the extension, an admin, or a supervisor whose monitoring groups let them
        monitor it."""
        account_id = account_param(request)
        ext_id = await readable_extension(request, self.directory, account_id)
        return await self._list(request, account_id, ext_id)

    @describe(response="CallLogRecord", query=_VIEW_QUERY)
    async def extension_record(self, request: web.Request) -> web.Response:
        """One record of an extension's call log (a call where it was an agent party)."""
        account_id = account_param(request)
        ext_id = await readable_extension(request, self.directory, account_id)
        return await self._one(request, account_id, ext_id)

    async def _recorded_call(self, request: web.Request) -> Call:
        """The ``{recordingId}`` call if the caller may see it (404 otherwise)."""
        account_id = account_param(request)
        raw = request.match_info["recordingId"]
        call = await self.access.calls.get(raw)
        if (
            call is None
            or call.account_ref != account_id
            or not await self.access.may_see(caller(request), call)
        ):
            raise not_found("recordingId", raw)
        return call

    @describe(response="GetCallRecordingResponse")
    async def recording(self, request: web.Request) -> web.Response:
        """A call recording's metadata; 410 once the retention policy purged it."""
        call = await self._recorded_call(request)
        recording_file(call)  # the same 410/404 as the content when it is gone
        uri = f"{base_url(request, account_param(request))}/recording/{call.id}"
        return json_response(
            {
                "id": call.id,
                "uri": uri,
                "contentUri": f"{uri}/content",
                # UNCONFIRMED: the vendor's schema says audio/x-wav (recordings are mono
                # MP3/WAV there); this is the type /content serves: a stereo WAV, left the
                # agent, right the caller
                "contentType": "audio/wav",
                "duration": (call.duration_ms or 0) // 1000,
            }
        )

    @describe(media="audio/wav")
    async def recording_content(self, request: web.Request) -> web.StreamResponse:
        """A call recording's WAV (supports Range), as ``/calls/{id}/recording``."""
        return recording_response(await self._recorded_call(request))
