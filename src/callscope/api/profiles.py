"""RingCX streaming profiles (spec §11.2; seeds/ringcx-call-streaming.txt step 2).

Served under the public prefix ``/platform/api/media`` and the service prefix
``/media-distributor`` (spec §11.2: "Serve both prefixes"):

* ``POST   {prefix}/product`` — create; 200 with the profile (409 if it exists)
* ``PUT    {prefix}/product`` — update the profile named by subAccountId/productType/productId
* ``GET    {prefix}/product`` — list (our extension; ``?subAccountId=`` filters)
* ``GET    {prefix}/product/account/{subAccountId}/type/{productType}/id/{productId}``
* ``DELETE {prefix}/product/account/{subAccountId}/type/{productType}/id/{productId}`` —
  200 with a plain-text body, as the RingCX service answers

Bearer-authenticated (a callscope token stands in for the RingCX token of spec §11.1);
changes need an admin. A profile belongs to the account named by its ``rcAccountId``, which
must be the caller's own; other accounts' profiles are 404, and two accounts may each have a
profile for the same sub-account, type and id.

The ``secret`` is what a stream presents to prove it streams for the profile
(callscope.ingest.auth). It is write-only: kept as a keyed hash, echoed in the answer to the
request that sets it (as the RingCX service echoes it, spec §11.2) and never again. It must
have at least 8 characters, and a secret another account's profile holds is refused (409):
a secret names exactly one account.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from callscope.api.auth import caller, require_admin
from callscope.api.errors import ApiError, json_response, read_json
from callscope.digits import is_digits
from callscope.identity.model import DASHBOARD_CLIENT_ID, AuthContext
from callscope.ingest.auth import MIN_SECRET_CHARS, SecretHasher
from callscope.store.models import StreamingProfile
from callscope.store.repo import ProfileRepository, utcnow

__all__ = ["PREFIXES", "ProfilesApi", "profile_json"]

PREFIXES = ("/platform/api/media", "/media-distributor")
PRODUCT_TYPES = ("QUEUE", "CAMPAIGN")
_INT32_MAX = 2**31 - 1
# RingCX: "should start with wss: NOT ws:"; the service regex allows only wss://host[:port].
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"{_LABEL}(?:\.{_LABEL})*"
_URL = re.compile(rf"^wss://{_HOST}(?::(?P<port>[0-9]{{1,5}}))?$")


def profile_json(p: StreamingProfile, secret: str | None = None) -> dict[str, Any]:
    """The profile as the RingCX service answers it; ``secret`` only in the answer to the
    request that set it."""
    out: dict[str, Any] = {
        "productType": p.product_type,
        "productId": p.product_id,
        "subAccountId": p.sub_account_id,
        "mainAccountId": p.main_account_id,
        "rcAccountId": p.rc_account_id,
        "streamingUrl": p.streaming_url,
    }
    if secret is not None:
        out["secret"] = secret  # echoed once, as the RingCX service does (spec §11.2)
    out["secretSet"] = p.secret_hash is not None
    return out


def _echo(auth: AuthContext, secret: str | None) -> str | None:
    """The secret to echo in the answer: the dashboard's public client (a browser) is never
    sent it back, its secret field is write-only; an API client is, as RingCX does."""
    return None if auth.client_id == DASHBOARD_CLIENT_ID else secret


def _bad(name: str, value: Any, why: str) -> ApiError:
    return ApiError(
        400,
        "CMN-101",
        f"Parameter [{name}] value is invalid: {why}",
        parameterName=name,
        parameterValue=None if name == "secret" else str(value)[:100],
    )


def _product_type(value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in PRODUCT_TYPES:
        raise _bad("productType", value, "use QUEUE or CAMPAIGN")
    return value.upper()


def _product_id(value: Any) -> int:
    if isinstance(value, str) and is_digits(value) and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT32_MAX:
        raise _bad("productId", value, "use a queue or campaign id (int32)")
    return value


def _account(name: str, value: Any, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise _bad(name, value, "required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _bad(name, value, "use a string of digits")
    text = str(value)
    if len(text) > 64:
        raise _bad(name, value, "longer than 64 characters")
    return text


def _rc_account(value: Any, own: str) -> str:
    """A profile belongs to the caller's account: rcAccountId must be that account's id."""
    text = _account("rcAccountId", value, required=True)
    if text != own:
        raise _bad("rcAccountId", value, f"must be your account id ({own})")
    return own


def _streaming_url(value: Any) -> str:
    if not isinstance(value, str):
        raise _bad("streamingUrl", value, "required, as wss://host[:port]")
    if value == "":
        return value  # the service spec allows an empty string (streaming off)
    m = _URL.match(value)
    if m is None or (m.group("port") and not 0 < int(m.group("port")) < 65536):
        raise _bad(
            "streamingUrl", value, "must be wss://host[:port] (wss, not ws; no path or query)"
        )
    return value


def _secret(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not MIN_SECRET_CHARS <= len(value) <= 256:
        raise _bad("secret", "…", f"use a string of {MIN_SECRET_CHARS}-256 characters")
    return value


class ProfilesApi:
    def __init__(self, profiles: ProfileRepository, hasher: SecretHasher) -> None:
        self.profiles = profiles
        self.hasher = hasher

    def routes(self) -> list[web.RouteDef]:
        out: list[web.RouteDef] = []
        for prefix in PREFIXES:
            one = prefix + "/product/account/{sub}/type/{ptype}/id/{pid}"
            out += [
                web.post(prefix + "/product", self.create),
                web.put(prefix + "/product", self.update),
                web.get(prefix + "/product", self.list_profiles),
                web.get(one, self.read),
                web.delete(one, self.delete),
            ]
        return out

    async def _find(self, request: web.Request, sub: str, ptype: str, pid: int) -> StreamingProfile:
        profile = await self.profiles.find(caller(request).account_id, sub, ptype, pid)
        if profile is None:
            raise ApiError(
                404,
                "CMN-102",
                f"Resource for parameter [productId] is not found: no {ptype} {pid} profile in "
                f"sub-account {sub}",
                parameterName="productId",
                parameterValue=str(pid),
            )
        return profile

    async def _from_path(self, request: web.Request) -> StreamingProfile:
        m = request.match_info
        return await self._find(
            request,
            _account("subAccountId", m["sub"], required=True) or "",
            _product_type(m["ptype"]),
            _product_id(m["pid"]),
        )

    async def _secret_hash(self, secret: str | None, account_id: str) -> str | None:
        """The stored form of a new secret (409 when another account's profile holds it)."""
        if secret is None:
            return None
        hashed = await self.hasher.hash(secret)
        if await self.profiles.secret_used_elsewhere(hashed, account_id):
            raise ApiError(
                409,
                "MDS-409",
                "This secret cannot be used: choose another (a secret names one account)",
                parameterName="secret",
            )
        return hashed

    async def create(self, request: web.Request) -> web.Response:
        auth = require_admin(request, "EditAccounts")
        body = await read_json(request)
        ptype = _product_type(body.get("productType"))
        pid = _product_id(body.get("productId"))
        sub = _account("subAccountId", body.get("subAccountId"), required=True) or ""
        secret = _secret(body.get("secret"))
        profile = StreamingProfile(
            product_type=ptype,
            product_id=pid,
            sub_account_id=sub,
            main_account_id=_account("mainAccountId", body.get("mainAccountId"), required=True),
            rc_account_id=_rc_account(body.get("rcAccountId"), auth.account_id),
            streaming_url=_streaming_url(body.get("streamingUrl")),
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        if await self.profiles.find(auth.account_id, sub, ptype, pid) is not None:
            raise ApiError(
                409,
                "MDS-409",
                f"A streaming profile for {ptype} {pid} in sub-account {sub} exists already; "
                "change it with PUT",
            )
        profile.secret_hash = await self._secret_hash(secret, auth.account_id)
        await self.profiles.create(profile)
        return json_response(profile_json(profile, _echo(auth, secret)))

    async def update(self, request: web.Request) -> web.Response:
        auth = require_admin(request, "EditAccounts")
        body = await read_json(request)
        profile = await self._find(
            request,
            _account("subAccountId", body.get("subAccountId"), required=True) or "",
            _product_type(body.get("productType")),
            _product_id(body.get("productId")),
        )
        profile.streaming_url = _streaming_url(body.get("streamingUrl"))
        if "mainAccountId" in body:
            profile.main_account_id = _account(
                "mainAccountId", body["mainAccountId"], required=False
            )
        if "rcAccountId" in body:
            profile.rc_account_id = _rc_account(body["rcAccountId"], auth.account_id)
        secret = None
        if "secret" in body:
            secret = _secret(body["secret"])
            profile.secret_hash = await self._secret_hash(secret, auth.account_id)
        profile.updated_at = utcnow()
        await self.profiles.save(profile)
        return json_response(profile_json(profile, _echo(auth, secret)))

    async def read(self, request: web.Request) -> web.Response:
        return json_response(profile_json(await self._from_path(request)))

    async def delete(self, request: web.Request) -> web.Response:
        require_admin(request, "EditAccounts")
        profile = await self._from_path(request)
        await self.profiles.delete(profile)
        return web.Response(
            text=f"Deleted {profile.product_type} {profile.product_id} streaming profile",
            content_type="text/plain",
        )

    async def list_profiles(self, request: web.Request) -> web.Response:
        sub = request.query.get("subAccountId")
        rows = await self.profiles.list(caller(request).account_id, sub)
        return json_response({"records": [profile_json(p) for p in rows]})
