"""The embeddable per-call page and its short-lived signed links.

RingCX's agent script can show an iFrame at ``<client uri>/client?callId={{model.call.uii}}``
(seeds/ringcx-call-streaming.txt, step 1). callscope serves that page with the call's live
transcript and assist items, authenticated by a signed link instead of a login form:

* ``POST /calls/client-links`` (bearer) with ``{"callId": "<RingCX call id>", "expiresIn":
  3600}`` answers ``{"uri", "callId", "accountId", "expiresAt"}``; ``callscope admin
  client-link`` does the same from the command line. ``expiresIn`` is 60 s to 24 h (default
  1 h). The caller needs the permission ``/calls/{id}`` needs to that call: an admin, the
  call's agent, or a supervisor allowed to monitor that agent.
* A link is bound to one call row: the account's newest call with that RingCX call id when
  the link is made, or, when there is none yet (an admin linking ahead, as an agent script
  does), the first call with that id that starts after the link was made — never a later
  call that reuses the id.
* ``GET /client?callId=…&account=…&expires=…&signature=…`` is the page; a link that is
  forged, altered or expired answers 403 with a page that says so.
* ``GET /client/ws?…`` (the same four parameters) streams the call's transcript as
  ``/calls/{id}/transcript/ws`` does. The call may start after the page opens: the socket
  waits for it (``client.waiting``) up to ``WAIT_S``.

The signature is HMAC-SHA256 over ``v2|account|callId|call|issued|expires`` with a key
derived from the server's signing key, compared in constant time. A link opens one call of
one account and nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlencode

from aiohttp import web

from callscope.api.auth import caller
from callscope.api.calls import CallAccess
from callscope.api.errors import ApiError, json_response, read_json
from callscope.api.proxy import public_origin
from callscope.api.transcripts import TranscriptsApi
from callscope.digits import is_digits
from callscope.identity.service import IdentityService
from callscope.store.models import Call

__all__ = ["ClientLink", "ClientLinks", "LinkError", "issue_link", "sign_link", "verify_link"]

MIN_TTL_S: Final = 60
MAX_TTL_S: Final = 86_400
DEFAULT_TTL_S: Final = 3600
#: how long the page's socket waits for a call that has not started yet
WAIT_S: Final = 120.0
PARAMS: Final = ("callId", "account", "issued", "expires", "signature")


class LinkError(ValueError):
    """A client link that is malformed, forged or expired (the message says which)."""


@dataclass(frozen=True, slots=True)
class ClientLink:
    account_id: str
    #: the RingCX call id (uii) the page shows
    call_id: str
    expires: int
    #: the call row the link opens; "" = the first call with ``call_id`` started at or after
    #: ``issued`` (a link made before its call)
    row: str = ""
    #: when the link was made (Unix seconds)
    issued: int = 0

    def query(self, key: bytes) -> dict[str, str]:
        out = {
            "callId": self.call_id,
            "account": self.account_id,
            "issued": str(self.issued),
            "expires": str(self.expires),
            "signature": sign_link(key, self),
        }
        if self.row:
            out["call"] = self.row
        return out


def _link_key(signing_key: bytes) -> bytes:
    return hmac.new(signing_key, b"callscope client link v1", hashlib.sha256).digest()


def sign_link(key: bytes, link: ClientLink) -> str:
    message = (
        f"v2|{link.account_id}|{link.call_id}|{link.row}|{link.issued}|{link.expires}".encode()
    )
    digest = hmac.new(_link_key(key), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_link(
    key: bytes, account_id: str, call_id: str, ttl_s: int, row: str = ""
) -> tuple[ClientLink, str]:
    """A link to the call row ``row`` (RingCX id ``call_id``; ``row`` "": the first such call
    to start from now on) that works for ``ttl_s`` seconds, and its ``/client?…`` path.

    Raises:
        LinkError: ``ttl_s`` is outside ``MIN_TTL_S``-``MAX_TTL_S``.
    """
    if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
        raise LinkError(f"a link lasts {MIN_TTL_S}-{MAX_TTL_S} seconds, not {ttl_s}")
    now = int(time.time())
    link = ClientLink(account_id, call_id, now + ttl_s, row, now)
    return link, "/client?" + urlencode(link.query(key))


def verify_link(key: bytes, query: dict[str, str], now: float | None = None) -> ClientLink:
    """The link named by ``query`` if its signature is right and it has not expired.

    Raises:
        LinkError: a parameter is missing or malformed, the signature is wrong, or the link
            has expired.
    """
    missing = [p for p in PARAMS if not query.get(p)]
    if missing:
        raise LinkError(f"this link lacks {', '.join(missing)}: ask for a new one")
    call_id, account, expires_raw = query["callId"], query["account"], query["expires"]
    issued_raw, row = query["issued"], query.get("call", "")
    if len(call_id) > 64 or not is_digits(account) or len(account) > 20 or len(row) > 40:
        raise LinkError("this link is malformed")
    if not all(is_digits(r) and len(r) <= 12 for r in (expires_raw, issued_raw)):
        raise LinkError("this link is malformed")
    link = ClientLink(account, call_id, int(expires_raw), row, int(issued_raw))
    if not hmac.compare_digest(sign_link(key, link), query["signature"]):
        raise LinkError("this link's signature is not valid")
    if link.expires < (time.time() if now is None else now):
        raise LinkError("this link has expired: ask for a new one")
    return link


class ClientLinks:
    def __init__(
        self,
        identity: IdentityService,
        access: CallAccess,
        transcripts: TranscriptsApi,
        page_factory: Callable[..., web.StreamResponse],
    ) -> None:
        self.identity = identity
        self.access = access
        self.calls = access.calls
        self.transcripts = transcripts
        self.page_factory = page_factory

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/calls/client-links", self.create),
            web.get("/client", self.page),
            web.get("/client/ws", self.socket),
        ]

    async def create(self, request: web.Request) -> web.Response:
        auth = caller(request)
        body = await read_json(request)
        call_id = body.get("callId")
        if not isinstance(call_id, str) or not 0 < len(call_id) <= 64:
            raise ApiError(
                400,
                "CMN-101",
                "Parameter [callId] value is invalid: the RingCX call id (uii), 1-64 characters",
                parameterName="callId",
            )
        ttl = body.get("expiresIn", DEFAULT_TTL_S)
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not MIN_TTL_S <= ttl <= MAX_TTL_S:
            raise ApiError(
                400,
                "CMN-101",
                f"Parameter [expiresIn] value is invalid: an integer {MIN_TTL_S}-{MAX_TTL_S}",
                parameterName="expiresIn",
                parameterValue=str(ttl)[:64],
            )
        call = await self.calls.by_ringcx_call_id(auth.account_id, call_id)
        # the permission /calls/{id} needs; only an admin may link to a call not started yet
        if (call is None and not auth.admin) or (
            call is not None and not await self.access.may_see(auth, call)
        ):
            raise ApiError(
                403,
                "CMN-408",
                "[ReadCallRecording] permission required: only an admin, the call's agent or "
                "a supervisor allowed to monitor that agent may link to a call",
                permissionName="ReadCallRecording",
            )
        link, path = issue_link(
            await self.identity.signing_key(),
            auth.account_id,
            call_id,
            ttl,
            row=call.id if call is not None else "",
        )
        return json_response(
            {
                "uri": f"{public_origin(request)}{path}",
                "callId": call_id,
                "accountId": auth.account_id,
                "expiresAt": datetime.fromtimestamp(link.expires, UTC)
                .isoformat()
                .replace("+00:00", "Z"),
            },
            status=201,
        )

    async def _verify(self, request: web.Request) -> ClientLink:
        return verify_link(await self.identity.signing_key(), dict(request.query))

    async def page(self, request: web.Request) -> web.StreamResponse:
        try:
            await self._verify(request)
        except LinkError as exc:
            return web.Response(
                status=403,
                text=_REFUSED.format(message=str(exc)),
                content_type="text/html",
                headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
            )
        return self.page_factory("client.html", frame=True)

    async def _linked_call(self, link: ClientLink) -> Call | None:
        """The call row the link is bound to (None: not started yet, or not this account's)."""
        if link.row:
            call = await self.calls.get(link.row)
        else:
            call = await self.calls.first_with_ringcx_call_id(
                link.account_id, link.call_id, datetime.fromtimestamp(link.issued, UTC)
            )
        if call is None or call.account_ref != link.account_id:
            return None
        return call if call.ringcx_call_id == link.call_id else None

    async def _wait_for_call(self, ws: web.WebSocketResponse, link: ClientLink) -> Call | None:
        deadline = time.monotonic() + WAIT_S
        told = False
        while True:
            call = await self._linked_call(link)
            if call is not None:
                return call
            if link.row:
                return None  # a bound row that is gone (purged) never comes back
            if not told:
                await ws.send_json({"event": "client.waiting", "callId": link.call_id})
                told = True
            if time.monotonic() >= deadline or ws.closed:
                return None
            await asyncio.sleep(0.5)

    async def socket(self, request: web.Request) -> web.StreamResponse:
        try:
            link = await self._verify(request)
        except LinkError as exc:
            raise ApiError(403, "CMN-408", f"Client link refused: {exc}") from exc
        ws = web.WebSocketResponse(heartbeat=30.0)
        await ws.prepare(request)
        call = await self._wait_for_call(ws, link)
        if call is None:
            await ws.close(code=4404, message=b"no such call yet: reload the page to wait again")
            return ws
        return await self.transcripts.stream(ws, call)


_REFUSED = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>callscope: link refused</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; margin: 2rem">
<h1>This link cannot be opened</h1><p role="alert">{message}.</p>
<p>Links to a call's live transcript are short-lived. The page that showed this one can make
a new link.</p></body></html>
"""
