"""``/calls``: recorded calls, their metadata and their WAV.

Bearer-authenticated; a token sees only its account's calls (another account's call is 404),
and a user who is not an admin only the calls they took and those of the agents their
monitoring groups let them monitor. A call belongs to the account whose id the stream carried
as rcAccountId.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from callscope.api.auth import caller
from callscope.api.errors import ApiError, json_response, not_found
from callscope.api.paging import page_params, paged
from callscope.api.proxy import public_origin
from callscope.calls.telephony import session_id_for
from callscope.identity.model import AuthContext
from callscope.store.audit import AuditRepository
from callscope.store.directory import DirectoryRepository
from callscope.store.models import Call, CallStatus
from callscope.store.repo import ORDERS, CallRepository

__all__ = ["CallAccess", "CallsApi", "call_json", "recording_file", "recording_response"]


def call_json(call: Call, base: str) -> dict[str, Any]:
    def iso(v: datetime | None) -> str | None:
        if v is None:
            return None
        # SQLite hands back naive datetimes; every stored time is UTC.
        v = v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
        return v.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return {
        "uri": f"{base}/calls/{call.id}",
        "id": call.id,
        "status": call.status,
        "endReason": call.end_reason,
        "ringcxCallId": call.ringcx_call_id,
        "sessionId": call.session_id,
        "ani": call.ani,
        "dnis": call.dnis,
        "ringcxAccountId": call.account_id,
        "subaccountId": call.subaccount_id,
        "rcAccountId": call.rc_account_id,
        "accountId": call.account_ref,
        "telephonySessionId": session_id_for(call.id) if call.account_ref else None,
        "agentId": call.agent_id,
        "productType": call.product_type,
        "productId": call.product_id,
        # whether the stream proved its streaming profile's secret (False: a lab stream
        # accepted with ingest_allow_unauthenticated)
        "authenticated": call.profile_id is not None,
        "startTime": iso(call.started_at),
        "endTime": iso(call.ended_at),
        "durationMs": call.duration_ms,
        "frames": {
            "agent": call.frames_agent,
            "caller": call.frames_caller,
            "late": call.late_frames,
            "duplicate": call.duplicate_frames,
            "missing": call.missing_frames,
            "malformed": call.malformed_messages,
        },
        "recording": {
            "uri": f"{base}/calls/{call.id}/recording",
            "contentType": "audio/wav",
            "channels": {"left": "agent", "right": "caller"},
            "purgedAt": iso(call.recording_purged_at),
        },
        "upgradeParameters": call.upgrade_params,
        "startMetadata": call.start_metadata,
        "stopMetadata": call.stop_metadata,
    }


class CallAccess:
    """Which calls a caller sees: an admin every call of the account; anyone else the calls
    they took as the agent and those of the agents their monitoring groups let them monitor
    (another's call is 404, as if it did not exist)."""

    def __init__(self, calls: CallRepository, directory: DirectoryRepository) -> None:
        self.calls = calls
        self.directory = directory

    async def agent_ids(self, auth: AuthContext, *, monitored_only: bool) -> set[str] | None:
        """The agents whose calls the caller sees, or None for every call of the account."""
        if auth.admin and not monitored_only:
            return None
        return await self.directory.visible_agent_ids(
            auth.extension_id, monitored_only=monitored_only
        )

    async def may_see(self, auth: AuthContext, call: Call) -> bool:
        """Whether the caller may see this call (its account's admin, its agent, or a
        supervisor allowed to monitor its agent)."""
        if call.account_ref != auth.account_id:
            return False
        agents = await self.agent_ids(auth, monitored_only=False)
        return agents is None or call.agent_id in agents

    async def call(self, request: web.Request) -> Call:
        """The ``{id}`` call if the caller may see it; otherwise 404 (CMN-102)."""
        call_id = request.match_info["id"]
        call = await self.calls.get(call_id)
        if call is None or not await self.may_see(caller(request), call):
            raise not_found("callId", call_id)
        return call


def _bool_param(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false")
    if raw not in ("true", "false"):
        raise ApiError(
            400,
            "CMN-101",
            f"Parameter [{name}] value is invalid: true or false",
            parameterName=name,
            parameterValue=raw[:64],
        )
    return raw == "true"


def _date_param(request: web.Request, name: str, *, end: bool) -> datetime | None:
    """``YYYY-MM-DD`` (a whole UTC day: ``dateTo`` includes it) or an ISO 8601 time."""
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = datetime.fromisoformat(raw).replace(tzinfo=UTC)
            return day + timedelta(days=1) if end else day
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400,
            "CMN-101",
            f"Parameter [{name}] value is invalid: use a date (2026-12-31) or an ISO 8601 time",
            parameterName=name,
            parameterValue=raw[:64],
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sort_param(request: web.Request) -> str:
    raw = request.query.get("sort", "newest")
    if raw not in ORDERS:
        raise ApiError(
            400,
            "CMN-101",
            f"Parameter [sort] value is invalid: use one of {sorted(ORDERS)}",
            parameterName="sort",
            parameterValue=raw[:64],
        )
    return raw


class CallsApi:
    def __init__(self, access: CallAccess, audit: AuditRepository | None = None) -> None:
        self.access = access
        self.calls = access.calls
        self.audit = audit

    async def _agents_named(self, account_id: str, search: str) -> list[str]:
        """RingCX agent ids of the extensions whose name or number the search is."""
        if not search:
            return []
        rows, _ = await self.access.directory.list_extensions(account_id, limit=10_000)
        needle = search.casefold()
        return [
            e.ringcx_agent_id
            for e in rows
            if e.ringcx_agent_id and (needle in e.name.casefold() or search == e.extension_number)
        ]

    async def _summaries(self, rows: Sequence[Call]) -> tuple[dict[str, int], dict[str, str]]:
        if self.audit is None:
            return {}, {}
        ids = [c.id for c in rows]
        return await self.audit.alert_counts(ids), await self.audit.sentiments(ids)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/calls", self.list_calls),
            web.get("/calls/{id}", self.get_call),
            web.get("/calls/{id}/recording", self.get_recording),
        ]

    async def list_calls(self, request: web.Request) -> web.Response:
        """The account's recorded calls, newest first (``sort``: newest, oldest, longest,
        shortest).

        ``status``, ``agentId``, ``phoneNumber`` (any common format), ``dateFrom`` and
        ``dateTo`` (dates or times); ``q`` searches numbers, agent ids, agent names and
        extension numbers, and transcript words; ``monitored=true`` keeps the calls of the
        agents the caller may monitor (what a supervisor can listen to). Each record adds
        ``alertCount`` (live alerts raised) and ``sentiment`` (of its insights, if made)."""
        page, per_page = page_params(request)
        status = request.query.get("status")
        if status is not None and status not in {s.value for s in CallStatus}:
            raise ApiError(
                400,
                "CMN-101",
                f"Parameter [status] value is invalid: use one of {[s.value for s in CallStatus]}",
                parameterName="status",
                parameterValue=status,
            )
        search = request.query.get("q", "").strip()
        if len(search) > 200:
            raise ApiError(
                400,
                "CMN-101",
                "Parameter [q] value is invalid: at most 200 characters",
                parameterName="q",
            )
        auth = caller(request)
        rows, total = await self.calls.list(
            account_id=auth.account_id,
            status=status,
            agent_id=request.query.get("agentId"),
            number=request.query.get("phoneNumber"),
            agent_ids=await self.access.agent_ids(
                auth, monitored_only=_bool_param(request, "monitored")
            ),
            search=search or None,
            search_agents=await self._agents_named(auth.account_id, search),
            started_from=_date_param(request, "dateFrom", end=False),
            started_before=_date_param(request, "dateTo", end=True),
            order=_sort_param(request),
            offset=(page - 1) * per_page,
            limit=per_page,
        )
        base = public_origin(request)
        alerts, sentiments = await self._summaries(rows)
        records = [
            {
                **call_json(c, base),
                "alertCount": alerts.get(c.id, 0),
                "sentiment": sentiments.get(c.id),
            }
            for c in rows
        ]
        return json_response(paged(request, records, total, page, per_page))

    async def _call(self, request: web.Request) -> Call:
        return await self.access.call(request)

    async def get_call(self, request: web.Request) -> web.Response:
        """One call: ids, numbers as sent, agent, product, times, frame counters, metadata."""
        call = await self._call(request)
        return json_response(call_json(call, public_origin(request)))

    async def get_recording(self, request: web.Request) -> web.StreamResponse:
        """The call's stereo WAV (left agent, right caller); supports Range."""
        return recording_response(await self._call(request))


def recording_file(call: Call) -> Path:
    """The call's WAV on disk, or 410 once the retention policy purged it, 404 if it is not
    on disk: every route serving a recording answers so."""
    if call.recording_purged_at is not None:
        raise ApiError(
            410,
            "CMN-102",
            f"The recording of call {call.id} was deleted by the retention policy on "
            f"{call.recording_purged_at:%Y-%m-%d}",
        )
    path = Path(call.recording_path)
    if not path.is_file():  # one stat() of a local file
        raise ApiError(404, "CMN-102", f"The recording of call {call.id} is not on disk")
    return path


def recording_response(call: Call) -> web.FileResponse:
    """The call's WAV as a file response: Range requests, conditional requests (see
    :func:`recording_file` for a recording that is gone)."""
    return web.FileResponse(
        recording_file(call),
        headers={
            "Content-Type": "audio/wav",
            "Content-Disposition": f'attachment; filename="{call.id}.wav"',
        },
    )
