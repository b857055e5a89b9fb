"""What the parts of :class:`~callscope.identity.service.IdentityService` share: the
database sessions, the password pool, the JWT signing key, and token rows and revocations."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.identity.crypto import hash_token
from callscope.identity.model import rate_limited
from callscope.identity.passwords import ChecksBusy, PasswordPool
from callscope.store.models import Extension, Revocation, ServerKey, Token
from callscope.store.repo import utcnow

__all__ = ["IdentityBase", "end_sessions", "token_row"]


def token_row(
    token: str,
    kind: str,
    ttl_s: int,
    session_id: str,
    account_id: str,
    extension_id: int,
    client_id: str,
) -> Token:
    """A token as stored: its hash only, bound to its owner and OAuth session."""
    now = utcnow()
    return Token(
        token_hash=hash_token(token),
        kind=kind,
        session_id=session_id,
        account_id=account_id,
        extension_id=extension_id,
        client_id=client_id,
        expires_at=now + timedelta(seconds=ttl_s),
        revoked=False,
        created_at=now,
    )


async def end_sessions(
    s: AsyncSession, ext: Extension, session_id: str | None, reason: str
) -> None:
    """In ``s``'s transaction: revoke the extension's tokens (of one OAuth session, or all)
    and record the revocation, which every node reads to close the sockets they opened."""
    q = update(Token).where(Token.extension_id == ext.id)
    if session_id is not None:
        q = q.where(Token.session_id == session_id)
    await s.execute(q.values(revoked=True))
    s.add(
        Revocation(
            account_id=ext.account_id,
            extension_id=ext.id,
            session_id=session_id,
            reason=reason,
            created_at=utcnow(),
        )
    )


class IdentityBase:
    """The state every part of the identity service works with."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        passwords: PasswordPool | None = None,
    ) -> None:
        self._sessions = sessions
        self._key: bytes | None = None
        self.passwords = passwords or PasswordPool()

    def close(self) -> None:
        """Stop the password-hashing threads."""
        self.passwords.close()

    async def _check_password(self, password: str, stored: str | None) -> bool:
        """One scrypt in the pool (``stored`` None: the same work, then False).

        Raises:
            OAuthError: 429 when the node's password checks are at their bound.
        """
        try:
            return await self.passwords.verify(password, stored)
        except ChecksBusy as exc:
            raise rate_limited(1) from exc

    async def signing_key(self) -> bytes:
        if self._key is not None:
            return self._key
        async with self._sessions.begin() as s:
            row = await s.get(ServerKey, "jwt")
            if row is None:
                row = ServerKey(name="jwt", value=secrets.token_hex(32))
                s.add(row)
        # Two nodes may race to create it: re-read what won.
        async with self._sessions() as s:
            row = await s.get(ServerKey, "jwt")
            assert row is not None
            self._key = bytes.fromhex(row.value)
        return self._key
