"""Admin operations of the identity service: accounts, extensions, apps, JWT credentials
and devices; a new password, a disabled extension or a revoked credential ends sessions."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from callscope.digits import is_digits
from callscope.identity.base import IdentityBase, end_sessions
from callscope.identity.crypto import hash_token, jwt_encode, new_secret
from callscope.identity.model import (
    DEFAULT_SCOPES,
    DEVICE_TYPES,
    EXTENSION_STATUSES,
    EXTENSION_TYPES,
    JWT_AUDIENCE,
    JWT_ISSUER,
    JWT_TTL_S,
    IdentityError,
    aware,
    new_numeric_id,
)
from callscope.store.models import Account, App, Device, Extension, JwtCredential, Token
from callscope.store.repo import utcnow

__all__ = ["AdminOperations"]


class AdminOperations(IdentityBase):
    """Create and change accounts, extensions, apps, JWT credentials and devices."""

    async def is_empty(self) -> bool:
        async with self._sessions() as s:
            return (await s.execute(select(func.count()).select_from(Account))).scalar_one() == 0

    async def create_account(self, account_id: str, name: str) -> Account:
        if not is_digits(account_id) or len(account_id) > 20:
            raise IdentityError(
                f"account id {account_id!r}: use digits (the RingCentral account id)"
            )
        account = Account(id=account_id, name=name, created_at=utcnow())
        try:
            async with self._sessions.begin() as s:
                s.add(account)
        except IntegrityError as exc:
            raise IdentityError(f"account {account_id} exists already") from exc
        return account

    async def get_account(self, account_id: str) -> Account | None:
        async with self._sessions() as s:
            return await s.get(Account, account_id)

    async def create_extension(
        self,
        account_id: str,
        *,
        number: str,
        first_name: str,
        last_name: str,
        email: str | None = None,
        type: str = "User",
        status: str = "Enabled",
        admin: bool = False,
        ringcx_agent_id: str | None = None,
        password: str | None = None,
        password_hash: str | None = None,
        extension_id: int | None = None,
        insights_licence: bool = False,
    ) -> Extension:
        """A new extension; ``password_hash`` is one made by ``passwords.hash`` already
        (several extensions with one password share it), instead of ``password``."""
        if password and password_hash:
            raise IdentityError("give a password or its hash, not both")
        if type not in EXTENSION_TYPES:
            raise IdentityError(f"extension type {type!r}: use one of {', '.join(EXTENSION_TYPES)}")
        if status not in EXTENSION_STATUSES:
            raise IdentityError(f"status {status!r}: use one of {', '.join(EXTENSION_STATUSES)}")
        if not is_digits(number) or len(number) > 8:
            raise IdentityError(f"extension number {number!r}: use up to 8 digits")
        if await self.get_account(account_id) is None:
            raise IdentityError(f"account {account_id} does not exist")
        if password:
            password_hash = await self.passwords.hash(password)
        ext = Extension(
            id=extension_id or new_numeric_id(),
            account_id=account_id,
            extension_number=number,
            first_name=first_name,
            last_name=last_name,
            email=email,
            type=type,
            status=status,
            admin=admin,
            ringcx_agent_id=ringcx_agent_id,
            insights_licence=insights_licence,
            password_hash=password_hash,
            created_at=utcnow(),
        )
        try:
            async with self._sessions.begin() as s:
                s.add(ext)
        except IntegrityError as exc:
            raise IdentityError(
                f"extension number {number} or RingCX agent id {ringcx_agent_id} is taken in "
                f"account {account_id}"
            ) from exc
        return ext

    async def set_password(self, extension_id: int, password: str) -> None:
        """Set the password; every OAuth session of the extension ends (its open sockets
        close, its subscriptions stop: a new password is how a compromise is answered)."""
        stored = await self.passwords.hash(password)  # before the transaction: it is slow
        async with self._sessions.begin() as s:
            ext = await s.get(Extension, extension_id)
            if ext is None:
                raise IdentityError(f"extension {extension_id} does not exist")
            ext.password_hash = stored
            await end_sessions(s, ext, None, "password")

    async def set_extension_status(self, extension_id: int, status: str) -> None:
        """Enable or disable an extension; disabling ends every session it holds (sockets
        closed, subscriptions stopped) and refuses its tokens from then on."""
        if status not in EXTENSION_STATUSES:
            raise IdentityError(f"status {status!r}: use one of {', '.join(EXTENSION_STATUSES)}")
        async with self._sessions.begin() as s:
            ext = await s.get(Extension, extension_id)
            if ext is None:
                raise IdentityError(f"extension {extension_id} does not exist")
            ext.status = status
            if status != "Enabled":
                await end_sessions(s, ext, None, "disabled")

    async def revoke_jwt(self, credential_id: str) -> None:
        """Revoke a JWT credential and end the sessions its grants opened."""
        async with self._sessions.begin() as s:
            cred = await s.get(JwtCredential, credential_id)
            if cred is None:
                raise IdentityError(f"JWT credential {credential_id} does not exist")
            cred.revoked = True
            ext = await s.get(Extension, cred.extension_id)
            sessions = (
                await s.execute(
                    select(Token.session_id)
                    .where(Token.credential_id == credential_id, Token.revoked.is_(False))
                    .distinct()
                )
            ).scalars()
            for session_id in list(sessions):
                if ext is not None:
                    await end_sessions(s, ext, session_id, "jwt_revoked")

    async def create_app(
        self, account_id: str, name: str, scopes: str = DEFAULT_SCOPES
    ) -> tuple[App, str]:
        """Returns the app and its client secret (shown once; only a hash is kept)."""
        if await self.get_account(account_id) is None:
            raise IdentityError(f"account {account_id} does not exist")
        secret = new_secret()
        app = App(
            client_id=new_secret(16),
            account_id=account_id,
            name=name,
            secret_hash=hash_token(secret),
            scopes=scopes,
            created_at=utcnow(),
        )
        async with self._sessions.begin() as s:
            s.add(app)
        return app, secret

    async def create_jwt(
        self, account_id: str, extension_id: int, *, expires_in_s: int = JWT_TTL_S[2]
    ) -> str:
        """Issue a JWT credential for the jwt-bearer grant, valid ``expires_in_s`` seconds.

        Raises:
            IdentityError: the extension is not in the account, or the lifetime is outside
                ``JWT_TTL_S``.
        """
        lo, hi, _ = JWT_TTL_S
        if not lo <= expires_in_s <= hi:
            raise IdentityError(
                f"a JWT credential lasts {lo} s to {hi // 86_400} days, not {expires_in_s} s"
            )
        async with self._sessions() as s:
            ext = await s.get(Extension, extension_id)
        if ext is None or ext.account_id != account_id:
            raise IdentityError(f"extension {extension_id} is not in account {account_id}")
        cred = JwtCredential(
            id=new_secret(12),
            account_id=account_id,
            extension_id=extension_id,
            revoked=False,
            created_at=utcnow(),
        )
        async with self._sessions.begin() as s:
            s.add(cred)
        issued = int(aware(cred.created_at).timestamp())
        claims = {
            "iss": JWT_ISSUER,
            "aud": JWT_AUDIENCE,
            "sub": str(extension_id),
            "acct": account_id,
            "jti": cred.id,
            "iat": issued,
            "exp": issued + expires_in_s,
        }
        return jwt_encode(claims, await self.signing_key())

    async def create_device(
        self,
        account_id: str,
        extension_id: int,
        *,
        type: str = "SoftPhone",
        name: str = "",
        status: str = "Offline",
    ) -> Device:
        if type not in DEVICE_TYPES:
            raise IdentityError(f"device type {type!r}: use one of {', '.join(DEVICE_TYPES)}")
        async with self._sessions() as s:
            ext = await s.get(Extension, extension_id)
        if ext is None or ext.account_id != account_id:
            raise IdentityError(f"extension {extension_id} is not in account {account_id}")
        device_id = new_numeric_id()
        device = Device(
            id=device_id,
            account_id=account_id,
            extension_id=extension_id,
            type=type,
            name=name or f"{ext.name} {type}",
            sku="DV-1",
            serial=f"cs-{device_id}",
            status=status,
            created_at=utcnow(),
        )
        async with self._sessions.begin() as s:
            s.add(device)
        return device

    async def set_device_status(self, device_id: int, status: str) -> None:
        """Online while the device's connection is up (web-phone devices, supervision)."""
        if status not in ("Online", "Offline"):
            raise IdentityError("device status is Online or Offline")
        async with self._sessions.begin() as s:
            await s.execute(update(Device).where(Device.id == device_id).values(status=status))
