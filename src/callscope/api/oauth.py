"""OAuth 2.0 endpoints (spec §2.1): token (password, jwt-bearer, refresh_token), revoke,
wstoken. Client authentication is HTTP Basic ``client_id:client_secret`` or the
``client_id``/``client_secret`` form fields."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from callscope.api.auth import caller
from callscope.api.errors import json_response
from callscope.identity.service import IdentityService, OAuthError
from callscope.store.models import App

__all__ = ["OAuthApi"]

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _oauth_error(exc: OAuthError) -> web.Response:
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else None
    return json_response(exc.body(), status=exc.status, headers=headers)


class OAuthApi:
    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity

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
            app = await self._client(request, form)
            grant = form.get("grant_type", "")
            session_id = None
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
                ext = await self.identity.grant_jwt(app, form["assertion"])
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
                access_ttl=form.get("access_token_ttl"),
                refresh_ttl=form.get("refresh_token_ttl"),
            )
        except OAuthError as exc:
            return _oauth_error(exc)
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
        scheme = "wss" if request.secure else "ws"
        return json_response(
            {"ws_access_token": token, "uri": f"{scheme}://{request.host}/ws", "expires_in": ttl}
        )
