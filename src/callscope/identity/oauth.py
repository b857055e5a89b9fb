"""OAuth grants of the identity service (spec §2.1): client authentication, the password,
JWT-bearer and refresh-token grants, and the token pair a grant issues."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select, update

from callscope.digits import is_digits
from callscope.identity.base import IdentityBase, token_row
from callscope.identity.crypto import (
    InvalidJwt,
    hash_token,
    jwt_decode,
    needs_rehash,
    new_secret,
    verify_token_hash,
)
from callscope.identity.model import (
    ACCESS_TTL_S,
    DASHBOARD_CLIENT_ID,
    JWT_AUDIENCE,
    JWT_ISSUER,
    REFRESH_TTL_S,
    OAuthError,
    aware,
    dashboard_app,
)
from callscope.store.models import App, Extension, JwtCredential, Token
from callscope.store.repo import utcnow

__all__ = ["OAuthGrants"]

logger = logging.getLogger("callscope.identity")


def _ttl(raw: str | None, bounds: tuple[int, int, int]) -> int:
    lo, hi, default = bounds
    if raw is None or not is_digits(raw.strip()):
        return default
    return max(lo, min(hi, int(raw)))


class OAuthGrants(IdentityBase):
    """Authenticate clients, grant tokens, issue token pairs."""

    async def authenticate_client(self, client_id: str, secret: str) -> App:
        if client_id == DASHBOARD_CLIENT_ID:
            # a public client has no secret to check; one sent anyway is refused as wrong
            if secret:
                raise OAuthError(401, "invalid_client", "OAU-146", "Invalid client credentials")
            return dashboard_app()
        async with self._sessions() as s:
            app = await s.get(App, client_id)
        if app is None or not verify_token_hash(secret, app.secret_hash):
            raise OAuthError(401, "invalid_client", "OAU-146", "Invalid client credentials")
        return app

    async def get_app(self, client_id: str) -> App | None:
        """The OAuth client (the dashboard's built-in one too), or None."""
        if client_id == DASHBOARD_CLIENT_ID:
            return dashboard_app()
        async with self._sessions() as s:
            return await s.get(App, client_id)

    async def _enabled_extension(self, app: App, extension_id: int) -> Extension:
        async with self._sessions() as s:
            ext = await s.get(Extension, extension_id)
        if ext is None or (
            app.client_id != DASHBOARD_CLIENT_ID and ext.account_id != app.account_id
        ):
            raise OAuthError(400, "invalid_grant", "OAU-140", "Invalid resource owner credentials")
        if ext.status != "Enabled":
            raise OAuthError(
                400, "invalid_grant", "OAU-140", f"Extension {ext.extension_number} is {ext.status}"
            )
        return ext

    async def grant_password(
        self, app: App, username: str, extension: str | None, password: str
    ) -> Extension:
        """``username`` is the extension's email, or the account id with ``extension`` (or
        ``<account id>*<extension number>``, as the JS SDK sends it)."""
        if "*" in username and not extension:
            username, extension = username.split("*", 1)
        public = app.client_id == DASHBOARD_CLIENT_ID
        q = select(Extension)
        if not public:
            q = q.where(Extension.account_id == app.account_id)
        if "@" in username:
            q = q.where(func.lower(Extension.email) == username.lower())
        elif (username == app.account_id or (public and is_digits(username))) and extension:
            q = q.where(Extension.account_id == username, Extension.extension_number == extension)
        else:
            await self._check_password(password, None)
            raise OAuthError(400, "invalid_grant", "OAU-140", "Invalid resource owner credentials")
        async with self._sessions() as s:
            found = list((await s.execute(q.limit(2))).scalars())
        if public and len(found) > 1:
            await self._check_password(password, None)
            raise OAuthError(
                400,
                "invalid_grant",
                "OAU-140",
                "This email belongs to users of several accounts: sign in as "
                "<account id>*<extension number>",
            )
        ext = found[0] if found else None
        stored = ext.password_hash if ext is not None else None
        # one scrypt whether or not the user exists (None: the same work on a dummy)
        matches = await self._check_password(password, stored)
        if ext is None or not matches:
            raise OAuthError(400, "invalid_grant", "OAU-140", "Invalid resource owner credentials")
        enabled = await self._enabled_extension(app, ext.id)
        if needs_rehash(stored):
            await self._rehash(ext.id, stored, password)
        return enabled

    async def _rehash(self, extension_id: int, old: str | None, password: str) -> None:
        """Store a hash at today's parameters in place of ``old`` (just verified). Only if
        ``old`` is still the stored one: a password set meanwhile wins."""
        new = await self.passwords.hash(password)
        async with self._sessions.begin() as s:
            done = await s.execute(
                update(Extension)
                .where(Extension.id == extension_id, Extension.password_hash == old)
                .values(password_hash=new)
            )
        if done.rowcount:  # type: ignore[attr-defined]
            logger.info("extension %s: password hash upgraded at login", extension_id)

    async def grant_jwt(self, app: App, assertion: str) -> tuple[Extension, str]:
        """The JWT's owner and the credential's id (its sessions end when it is revoked)."""
        if app.client_id == DASHBOARD_CLIENT_ID:
            raise OAuthError(
                400,
                "unauthorized_client",
                "OAU-251",
                "The dashboard client takes the password and refresh_token grants only",
            )
        try:
            claims = jwt_decode(
                assertion,
                await self.signing_key(),
                audience=JWT_AUDIENCE,
                issuer=JWT_ISSUER,
                require=("exp", "sub", "jti"),
            )
        except InvalidJwt as exc:
            message = (
                "JWT credential has expired: issue a new one (callscope admin jwt)"
                if exc.expired
                else f"Invalid JWT: {exc}"
            )
            raise OAuthError(400, "invalid_grant", "OAU-140", message) from exc
        async with self._sessions() as s:
            cred = await s.get(JwtCredential, str(claims.get("jti", "")))
        if cred is None or cred.revoked or str(cred.extension_id) != claims.get("sub"):
            raise OAuthError(
                400, "invalid_grant", "OAU-140", "JWT credential is unknown or revoked"
            )
        if cred.account_id != app.account_id:
            raise OAuthError(
                400, "invalid_grant", "OAU-140", "JWT credential belongs to another account"
            )
        return await self._enabled_extension(app, cred.extension_id), cred.id

    async def grant_refresh(self, app: App, refresh_token: str) -> tuple[Extension, str]:
        """Consume a refresh token (one use, as RingCentral does); returns owner and session."""
        async with self._sessions.begin() as s:
            row = await s.get(Token, hash_token(refresh_token))
            if (
                row is None
                or row.kind != "refresh"
                or row.revoked
                or row.client_id != app.client_id
            ):
                raise OAuthError(400, "invalid_grant", "OAU-213", "Token not found")
            if aware(row.expires_at) <= utcnow():
                raise OAuthError(400, "invalid_grant", "OAU-129", "Refresh token has expired")
            row.revoked = True
            session_id = row.session_id
            extension_id = row.extension_id
            # the previous access token of this session ends with the refresh
            await s.execute(
                update(Token)
                .where(Token.session_id == session_id, Token.kind == "access")
                .values(revoked=True)
            )
        return await self._enabled_extension(app, extension_id), session_id

    async def issue(
        self,
        app: App,
        ext: Extension,
        *,
        session_id: str | None = None,
        credential_id: str | None = None,
        access_ttl: str | None = None,
        refresh_ttl: str | None = None,
    ) -> dict[str, Any]:
        """Create an access + refresh token pair; returns the TokenInfo body (spec §2.1).

        ``session_id``: the OAuth session a refresh continues (it keeps the JWT credential
        that opened it); ``credential_id``: the JWT credential of a new session."""
        access, refresh = "A1-" + new_secret(), "R1-" + new_secret()
        a_ttl, r_ttl = _ttl(access_ttl, ACCESS_TTL_S), _ttl(refresh_ttl, REFRESH_TTL_S)
        owner = (session_id or new_secret(12), ext.account_id, ext.id, app.client_id)
        async with self._sessions.begin() as s:
            if session_id is not None:
                credential_id = (
                    await s.execute(
                        select(Token.credential_id).where(Token.session_id == session_id).limit(1)
                    )
                ).scalar()
            for token, kind, ttl in ((access, "access", a_ttl), (refresh, "refresh", r_ttl)):
                row = token_row(token, kind, ttl, *owner)
                row.credential_id = credential_id
                s.add(row)
        session_id = owner[0]
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": a_ttl,
            "refresh_token": refresh,
            "refresh_token_expires_in": r_ttl,
            "scope": app.scopes,
            "owner_id": str(ext.id),
            "endpoint_id": new_secret(8),
            "session_id": session_id,
        }
