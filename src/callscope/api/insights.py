"""RingSense / ACE insights (spec §10): one recording's insights, a session's; and
callscope's text path, ``POST …/insights:analyze``: the document of a transcript sent in the
body (REST transcript JSON or WebVTT), made on the spot and not stored."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callscope.api.auth import caller
from callscope.api.errors import ApiError, json_response, not_found
from callscope.errors import TranscriptInvalid
from callscope.insights.service import InsightsService
from callscope.insights.textpath import parse
from callscope.store.directory import DirectoryRepository

__all__ = ["InsightsApi"]

#: the largest transcript body accepted (about 10 hours of talk)
MAX_BODY = 2 * 1024 * 1024

BASE = "/ai/ringsense/v1/public/accounts/{accountId}/domains/{domain}"
DOMAINS = ("pbx", "rcv", "rcx", "nice-incontact", "ms-teams")
INSIGHT_TYPES = (
    "NextSteps", "Transcript", "Summary", "Highlights", "BulletedSummary", "AIScore",
    "CallNotes", "Sentiment",
)  # fmt: skip


class InsightsApi:
    def __init__(self, insights: InsightsService, directory: DirectoryRepository) -> None:
        self.insights = insights
        self.directory = directory

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(BASE + "/records/{recordId}/insights", self.record),
            web.get(BASE + "/sessions/{sessionId}/insights", self.session),
            web.post(BASE + "/insights:analyze", self.analyze),
        ]

    def _check(self, request: web.Request) -> str:
        """The caller's account, if it may read insights of this domain."""
        auth = caller(request)
        raw = request.match_info["accountId"]
        if raw not in ("~", auth.account_id):
            raise not_found("accountId", raw)
        domain = request.match_info["domain"]
        if domain not in DOMAINS:
            raise ApiError(
                400,
                "CMN-101",
                f"Parameter [domain] value is invalid: one of {', '.join(DOMAINS)}",
                parameterName="domain",
                parameterValue=domain[:32],
            )
        if not auth.admin:
            raise ApiError(
                403,
                "CMN-408",
                "[ReadCompanyCallRecording] permission required",
                permissionName="ReadCompanyCallRecording",
            )
        return auth.account_id

    def _types(self, request: web.Request) -> set[str] | None:
        wanted = request.query.getall("insightTypes", [])
        names = {t for raw in wanted for t in raw.split(",") if t}
        unknown = names - set(INSIGHT_TYPES)
        if unknown:
            raise ApiError(
                400,
                "CMN-101",
                f"Parameter [insightTypes] value is invalid: {sorted(unknown)}",
                parameterName="insightTypes",
            )
        return names or None

    @staticmethod
    def _view(document: dict[str, Any], types: set[str] | None) -> dict[str, Any]:
        if types is None:
            return document
        return {
            **document,
            "insights": {k: v for k, v in document["insights"].items() if k in types},
        }

    async def record(self, request: web.Request) -> web.Response:
        account_id = self._check(request)
        types = self._types(request)
        record_id = request.match_info["recordId"]
        if request.match_info["domain"] != "pbx":
            raise not_found("sourceRecordId", record_id)
        row = await self.insights.get(account_id, record_id)
        if row is None:
            job = await self.insights.job(record_id)
            if job is not None and job.account_id == account_id and job.state == "skipped":
                raise ApiError(
                    403,
                    "CMN-408",
                    f"No insights for this recording: {job.last_error}",
                    permissionName="ReadRingSenseInsights",
                )
            raise not_found("sourceRecordId", record_id)
        return json_response(self._view(row.document, types))

    async def session(self, request: web.Request) -> web.Response:
        account_id = self._check(request)
        types = self._types(request)
        session_id = request.match_info["sessionId"]
        rows = []
        if request.match_info["domain"] == "pbx":
            rows = await self.insights.for_session(account_id, session_id)
        if not rows:
            raise not_found("sourceSessionId", session_id)
        return json_response({"records": [self._view(r.document, types) for r in rows]})

    async def analyze(self, request: web.Request) -> web.Response:
        """The insights document of the transcript in the body (admins only, like reading
        insights): ``application/json`` in the REST transcript shape or ``text/vtt``."""
        self._check(request)
        kind = {"application/json": "json", "text/vtt": "vtt"}.get(request.content_type)
        if kind is None:
            raise ApiError(
                415,
                "CMN-415",
                f"Unsupported media type [{request.content_type[:64]}]: send application/json "
                "(the REST transcript shape) or text/vtt",
            )
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise ApiError(413, "CMN-101", f"Request body larger than {MAX_BODY} bytes")
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise ApiError(413, "CMN-101", f"Request body larger than {MAX_BODY} bytes")
        try:
            utterances = parse(raw, kind)
            if not utterances:
                raise TranscriptInvalid("the transcript has no utterances with text")
        except TranscriptInvalid as exc:
            raise ApiError(400, "CMN-101", f"Transcript is invalid: {exc}") from exc
        return json_response(await self.insights.analyze_text(utterances, "analyzed"))
