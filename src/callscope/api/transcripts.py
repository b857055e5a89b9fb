"""A call's transcript: ``GET /calls/{id}/transcript`` (JSON or WebVTT) and the live
``/calls/{id}/transcript/ws`` WebSocket.

Both are bearer-authenticated and account-scoped like ``/calls``. A browser, which cannot
set headers on a WebSocket, may pass the token as ``?access_token=``.

The WebSocket sends one ``transcript.snapshot`` (every final so far and, while the call is
live, the assist items raised so far), then each ``transcript.partial``, ``transcript.final``,
``assist.alert`` and ``assist.suggestion`` as it is made, then ``transcript.completed`` and
closes (1000). A viewer too slow to keep up loses partials first; if finals would be
lost, the socket closes with 1013 and the viewer re-reads the REST transcript.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import WSCloseCode, web

from callscope.api.auth import caller
from callscope.api.calls import CallAccess
from callscope.api.errors import ApiError, json_response
from callscope.api.revocation import OpenSockets
from callscope.calls.telephony import session_id_for
from callscope.events.bus import Bus, BusOverflow, Subscription
from callscope.store.models import Call, TranscriptStatus
from callscope.store.repo import CallRepository
from callscope.transcription.live import (
    CallTranscript,
    TranscriptHub,
    topic_for,
    utterance_json,
)

__all__ = ["TranscriptsApi", "webvtt", "with_recent_finals"]

FORMATS = ("json", "vtt")


def _ts(ms: int) -> str:
    h, rest = divmod(max(0, ms), 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webvtt(utterances: list[dict[str, Any]]) -> str:
    """WebVTT with one cue per utterance and the speaker as its voice (``<v agent>``)."""
    lines = ["WEBVTT", ""]
    for u in utterances:
        end = max(int(u["endMs"]), int(u["startMs"]) + 1)
        lines += [
            str(u["seq"]),
            f"{_ts(int(u['startMs']))} --> {_ts(end)}",
            f"<v {u['speaker']}>{_escape(u['text'])}</v>",
            "",
        ]
    return "\n".join(lines)


#: the fields of a ``transcript.final`` event that make its utterance
UTTERANCE_KEYS = ("seq", "speaker", "partyId", "startMs", "endMs", "text", "confidence")


def with_recent_finals(
    stored: list[dict[str, Any]], finals: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A live call's stored utterances plus the finals its node published that are not
    stored yet, in time order (as stored: start, then seq)."""
    seqs = {u["seq"] for u in stored}
    extra = [{k: f[k] for k in UTTERANCE_KEYS} for f in finals if f["seq"] not in seqs]
    if not extra:
        return stored
    return sorted(stored + extra, key=lambda u: (u["startMs"], u["seq"]))


class TranscriptsApi:
    def __init__(
        self, access: CallAccess, bus: Bus, hub: TranscriptHub | None, sockets: OpenSockets
    ) -> None:
        self.access = access
        self.sockets = sockets
        self.calls: CallRepository = access.calls
        self.bus = bus
        self.hub = hub

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/calls/{id}/transcript", self.get_transcript),
            web.get("/calls/{id}/transcript/ws", self.transcript_ws),
        ]

    async def _call(self, request: web.Request) -> Call:
        return await self.access.call(request)

    def _live(self, call_id: str) -> CallTranscript | None:
        """Look the live transcript up *before* reading the call row: a transcript leaves
        the hub only once its final status is committed, so either this finds it or the
        row read after it is current."""
        return self.hub.get(call_id) if self.hub is not None else None

    async def _state(self, call: Call, live: CallTranscript | None) -> dict[str, Any]:
        if live is not None:
            utterances = sorted(live.utterances, key=lambda u: (u["startMs"], u["seq"]))
            status = live.status.value
        else:
            utterances = [utterance_json(r) for r in await self.calls.utterances(call.id)]
            status = call.transcript_status or TranscriptStatus.OFF.value
            if status == TranscriptStatus.LIVE.value:  # made on another node
                recent = self.bus.recent_finals(topic_for(call.account_ref, call.id))
                utterances = with_recent_finals(utterances, recent)
        body: dict[str, Any] = {
            "callId": call.id,
            "telephonySessionId": session_id_for(call.id) if call.account_ref else None,
            "status": status,
            "engine": self.hub.pool.engine_name if self.hub is not None else None,
            "utterances": utterances,
        }
        if live is not None:
            body["lag"] = live.lag()
            body["assist"] = list(live.assist.items) if live.assist is not None else []
        return body

    async def get_transcript(self, request: web.Request) -> web.Response:
        fmt = request.query.get("format")
        if fmt is None:
            fmt = "vtt" if "text/vtt" in request.headers.get("Accept", "") else "json"
        if fmt not in FORMATS:
            raise ApiError(
                400,
                "CMN-101",
                f"Parameter [format] value is invalid: use one of {list(FORMATS)}",
                parameterName="format",
                parameterValue=fmt,
            )
        live = self._live(request.match_info["id"])
        call = await self._call(request)
        body = await self._state(call, live)
        if fmt == "vtt":
            return web.Response(
                text=webvtt(body["utterances"]),
                content_type="text/vtt",
                headers={"X-Transcript-Status": body["status"]},
            )
        return json_response(body)

    async def transcript_ws(self, request: web.Request) -> web.WebSocketResponse:
        call = await self._call(request)
        ws = web.WebSocketResponse(heartbeat=30.0)
        await ws.prepare(request)
        async with self.sockets.track(caller(request), ws, "transcript"):
            return ws if ws.closed else await self.stream(ws, call)

    async def stream(self, ws: web.WebSocketResponse, call: Call) -> web.WebSocketResponse:
        """Send ``call``'s transcript on a prepared WebSocket until it completes."""
        # Subscribe before the snapshot: nothing made in between is missed (finals already
        # in the snapshot are skipped by seq).
        with self.bus.subscribe(topic_for(call.account_ref, call.id), maxsize=500) as sub:
            live = self._live(call.id)
            if live is None:  # re-read: it may have completed since the first read
                call = await self.calls.get(call.id) or call
            state = await self._state(call, live)
            await ws.send_json({"event": "transcript.snapshot", **state})
            if state["status"] not in (TranscriptStatus.LIVE, TranscriptStatus.PENDING):
                await ws.close(code=WSCloseCode.OK, message=b"transcript complete")
                return ws
            seen = max((u["seq"] for u in state["utterances"]), default=0)
            reader = asyncio.create_task(self._until_closed(ws, sub))
            try:
                async for event in sub:
                    if event["event"] == "transcript.final" and event["seq"] <= seen:
                        continue
                    await ws.send_json(event)
                    if event["event"] == "transcript.completed":
                        await ws.close(code=WSCloseCode.OK, message=b"transcript complete")
                        break
            except BusOverflow:
                await ws.close(
                    code=WSCloseCode.TRY_AGAIN_LATER,
                    message=b"viewer too slow: re-read GET /calls/{id}/transcript",
                )
            except ConnectionResetError:
                pass
            finally:
                reader.cancel()
        return ws

    @staticmethod
    async def _until_closed(ws: web.WebSocketResponse, sub: Subscription) -> None:
        """Read (and ignore) what the viewer sends; when it goes away, end its subscription."""
        async for _ in ws:
            pass
        sub.close()
