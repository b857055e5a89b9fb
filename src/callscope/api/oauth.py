"""OAuth 2.0 endpoints (spec §2.1): token (password, jwt-bearer, refresh_token), revoke,
wstoken. Client authentication is HTTP Basic ``client_id:client_secret`` or the
``client_id``/``client_secret`` form fields.

Password and JWT grants pass the node's :class:`LoginThrottle` first (per username and per
client address, in this process's memory: see ``identity/throttle.py``). A refused attempt
answers 429 ``CMN-301`` with ``Retry-After`` before any database read or password hash; so
does a password check beyond the hashing pool's bound.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from callscope.api.auth import caller
from callscope.api.errors import json_response
from callscope.api.proxy import ws_origin
from callscope.identity.model import OAuthError, rate_limited
from callscope.identity.service import IdentityService
from callscope.identity.throttle import LoginThrottle, Outcome, username_key
from callscope.metrics import Registry
from callscope.store.models import App

__all__ = ["OAuthApi"]

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _oauth_error(exc: OAuthError) -> web.Response:
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else None
    return json_response(exc.body(), status=exc.status, headers=headers)


class OAuthApi:
    def __init__(
        self,
        identity: IdentityService,
        throttle: LoginThrottle | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.identity = identity
        self.throttle = throttle or LoginThrottle()
        registry = registry or Registry()
        self.refused_total = registry.counter(
            "callscope_login_refused_total",
            "Password/JWT grants refused with 429 before any check, by reason.",
        )
        pool = identity.passwords
        registry.counter(
            "callscope_password_checks_total",
            "Password checks (one scrypt each) run by this node.",
            live=lambda: [((), float(pool.checks_total))],
        )
        registry.gauge(
            "callscope_password_checks_in_flight",
            "Password checks running or queued for a hashing thread.",
            lambda: float(pool.in_flight),
        )

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/restapi/oauth/token", self.token),
            web.post("/restapi/oauth/revoke", self.revoke),
            web.post("/restapi/oauth/wstoken", self.wstoken),
        ]

    async def _form(self, request: web.Request) -> dict[str, str]:
        if request.content_length is not None and request.content_length > 16 * 1024:
            raise OAuthError(400, "invalid_request", "OAU-101", "Request body too large")
        form: dict[str, Any] = dict(await request.post())
        return {k: v for k, v in form.items() if isinstance(v, str)}

    async def _client(self, request: web.Request, form: dict[str, str]) -> App:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic" and value:
            try:
                client_id, _, secret = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise OAuthError(
                    401, "invalid_client", "OAU-123", "Invalid Authorization header"
                ) from exc
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id:
            raise OAuthError(
                401,
                "invalid_client",
                "OAU-123",
                "Client authentication required: HTTP Basic base64(client_id:client_secret)",
            )
        return await self.identity.authenticate_client(client_id, secret)

    async def token(self, request: web.Request) -> web.Response:
        try:
            form = await self._form(request)
            grant = form.get("grant_type", "")
            if grant in ("password", JWT_GRANT):
                return await self._throttled(request, form, grant)
            return await self._token(request, form, grant)
        except OAuthError as exc:
            return _oauth_error(exc)

    async def _throttled(
        self, request: web.Request, form: dict[str, str], grant: str
    ) -> web.Response:
        """A password or JWT grant under the login throttle."""
        # the peer's address, or the client's that a trusted proxy names (api/proxy.py)
        ip = request.remote or "unknown"
        user = (
            username_key(form["username"], form.get("extension"))
            if grant == "password" and form.get("username")
            else None
        )
        refusal = self.throttle.admit(ip, user)
        if refusal is not None:
            self.refused_total.inc(reason=refusal.reason)
            raise rate_limited(refusal.retry_after_s)
        outcome = Outcome.OTHER  # not about the credentials: a server error, a cancel
        try:
            response = await self._token(request, form, grant)
            outcome = Outcome.SUCCESS
            return response
        except OAuthError as exc:
            # wrong credentials (or a disabled user): invalid_grant; a malformed request or
            # a wrong client secret is not a guess at this user's password
            outcome = Outcome.FAILURE if exc.error == "invalid_grant" else Outcome.OTHER
            if exc.status == 429:
                self.refused_total.inc(reason="busy")
            raise
        finally:
            self.throttle.done(ip, user, outcome)

    async def _token(self, request: web.Request, form: dict[str, str], grant: str) -> web.Response:
        """Authenticate the client, run ``grant`` and issue a token pair.

        Raises:
            OAuthError: the client, the request or the grant is refused (its status and
                RingCentral code say how).
        """
        app = await self._client(request, form)
        session_id = credential_id = None
        if grant == "password":
            if not form.get("username") or not form.get("password"):
                raise OAuthError(
                    400, "invalid_request", "OAU-101", "username and password are required"
                )
            ext = await self.identity.grant_password(
                app, form["username"], form.get("extension"), form["password"]
            )
        elif grant == JWT_GRANT:
            if not form.get("assertion"):
                raise OAuthError(400, "invalid_request", "OAU-101", "assertion is required")
            ext, credential_id = await self.identity.grant_jwt(app, form["assertion"])
        elif grant == "refresh_token":
            if not form.get("refresh_token"):
                raise OAuthError(400, "invalid_request", "OAU-101", "refresh_token is required")
            ext, session_id = await self.identity.grant_refresh(app, form["refresh_token"])
        else:
            raise OAuthError(
                400,
                "unsupported_grant_type",
                "OAU-251",
                f"Unsupported grant type {grant!r}: use password, refresh_token or {JWT_GRANT}",
            )
        body = await self.identity.issue(
            app,
            ext,
            session_id=session_id,
            credential_id=credential_id,
            access_ttl=form.get("access_token_ttl"),
            refresh_ttl=form.get("refresh_token_ttl"),
        )
        return json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def revoke(self, request: web.Request) -> web.Response:
        try:
            form = await self._form(request)
            await self._client(request, form)
        except OAuthError as exc:
            return _oauth_error(exc)
        token = form.get("token") or request.query.get("token")
        if token:
            await self.identity.revoke(token)
        return web.Response(status=200)

    async def wstoken(self, request: web.Request) -> web.Response:
        token, ttl = await self.identity.issue_ws_token(caller(request))
        return json_response(
            {"ws_access_token": token, "uri": f"{ws_origin(request)}/ws", "expires_in": ttl}
        )
