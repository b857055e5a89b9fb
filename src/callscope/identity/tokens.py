"""Bearer tokens of the identity service: resolving them, revoking their sessions (read by
every node from the revocations), and single-use WebSocket tokens."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select

from callscope.identity.base import IdentityBase, end_sessions, token_row
from callscope.identity.crypto import hash_token, new_secret
from callscope.identity.model import WS_TTL_S, AuthContext, AuthError, aware
from callscope.store.models import Extension, Revocation, Token
from callscope.store.repo import utcnow

__all__ = ["TokenSessions"]


class TokenSessions(IdentityBase):
    """Resolve and revoke tokens; tell whether a session has ended."""

    async def revoke(self, token: str) -> None:
        """Revoke the token's whole OAuth session (access and refresh); the sockets it opened
        close within a second. Unknown: no-op."""
        async with self._sessions.begin() as s:
            row = await s.get(Token, hash_token(token))
            if row is not None:
                ext = await s.get(Extension, row.extension_id)
                if ext is not None:
                    await end_sessions(s, ext, row.session_id, "revoked")

    async def revocations_after(self, last_id: int) -> list[Revocation]:
        """Revocations newer than ``last_id`` (every node polls them)."""
        async with self._sessions() as s:
            q = select(Revocation).where(Revocation.id > last_id).order_by(Revocation.id)
            return list((await s.execute(q.limit(1000))).scalars())

    async def last_revocation_id(self) -> int:
        async with self._sessions() as s:
            return int((await s.execute(select(func.max(Revocation.id)))).scalar() or 0)

    async def issue_ws_token(self, auth: AuthContext) -> tuple[str, int]:
        token = "W1-" + new_secret()
        row = token_row(
            token,
            "ws",
            WS_TTL_S,
            auth.session_id,
            auth.account_id,
            auth.extension_id,
            auth.client_id,
        )
        async with self._sessions.begin() as s:
            s.add(row)
        return token, WS_TTL_S

    async def session_ended(self, auth: AuthContext) -> bool:
        """Whether ``auth``'s OAuth session was ended since its token was issued (revoked,
        its JWT credential revoked, the password changed, the owner disabled). Read from
        the revocations, not the tokens: a refresh spends the old pair before it issues the
        new one."""
        async with self._sessions() as s:
            ext = await s.get(Extension, auth.extension_id)
            if ext is None or ext.status != "Enabled":
                return True
            q = select(Revocation.id).where(
                Revocation.extension_id == auth.extension_id,
                or_(
                    Revocation.session_id == auth.session_id,
                    and_(
                        Revocation.session_id.is_(None),
                        Revocation.created_at >= auth.issued_at,
                    ),
                ),
            )
            return (await s.execute(q.limit(1))).first() is not None

    async def consume_ws_token(self, token: str) -> AuthContext:
        """The caller behind a WebSocket token, which is then spent (single use).

        Raises:
            AuthError: as :meth:`resolve`; a spent token is unknown.
        """
        auth = await self.resolve(token, kind="ws")
        async with self._sessions.begin() as s:
            row = await s.get(Token, hash_token(token))
            if row is None or row.revoked:  # spent by a concurrent connection
                raise AuthError("OAU-213", "Token not found")
            row.revoked = True
        return auth

    async def resolve(self, token: str, *, kind: str = "access") -> AuthContext:
        """The caller behind a bearer token.

        Raises:
            AuthError: OAU-213 unknown or revoked, OAU-128 expired.
        """
        async with self._sessions() as s:
            row = await s.get(Token, hash_token(token))
            ext = await s.get(Extension, row.extension_id) if row is not None else None
        if row is None or row.kind != kind or row.revoked or ext is None:
            raise AuthError("OAU-213", "Token not found")
        if aware(row.expires_at) <= utcnow():
            raise AuthError("OAU-128", "Access token expired")
        if ext.status != "Enabled":
            raise AuthError("OAU-213", "Token owner is disabled")
        return AuthContext(
            row.account_id,
            row.extension_id,
            ext.admin,
            row.client_id,
            row.session_id,
            aware(row.created_at),
        )
