"""Identity service: admin operations, OAuth grants (spec §2) and bearer-token resolution.

Password hashing and checking run in the service's :class:`PasswordPool` (worker threads,
bounded), never on the event loop; :meth:`IdentityService.close` stops it. A login whose
stored hash is weaker than today's parameters stores a new hash (see ``crypto``).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.errors import CallscopeError
from callscope.identity.crypto import (
    InvalidJwt,
    hash_token,
    jwt_decode,
    jwt_encode,
    needs_rehash,
    new_secret,
    verify_token_hash,
)
from callscope.identity.passwords import ChecksBusy, PasswordPool
from callscope.store.models import (
    Account,
    App,
    Device,
    Extension,
    JwtCredential,
    Revocation,
    ServerKey,
    Token,
)
from callscope.store.repo import utcnow

__all__ = [
    "DASHBOARD_CLIENT_ID",
    "DEFAULT_SCOPES",
    "EXTENSION_TYPES",
    "MEMBER_TYPES",
    "AuthContext",
    "AuthError",
    "IdentityError",
    "IdentityService",
    "OAuthError",
    "aware",
    "dashboard_app",
    "rate_limited",
]

logger = logging.getLogger("callscope.identity")

DEFAULT_SCOPES = (
    "ReadAccounts EditExtensions CallControl ReadCallLog ReadPresence WebSocket RingSense"
)
EXTENSION_TYPES = (
    "User",
    "Department",
    "Announcement",
    "Voicemail",
    "DigitalUser",
    "VirtualUser",
    "FaxUser",
    "PagingOnly",
    "SharedLinesGroup",
    "DelegatedLinesGroup",
    "GroupCallPickup",
    "IvrMenu",
    "ApplicationExtension",
    "ProxyAdmin",
    "RoomConnector",
    "ParkLocation",
    "Limited",
    "Bot",
    "Site",
    "Room",
    "FlexibleUser",
    "TieLine",
    "Unknown",
)
EXTENSION_STATUSES = ("Enabled", "Disabled", "Frozen", "NotActivated", "Unassigned")
#: spec §5: the only extension types that may be members of a call monitoring group
MEMBER_TYPES = ("User", "DigitalUser", "VirtualUser", "FaxUser", "Limited")
DEVICE_TYPES = (
    "SoftPhone",
    "HardPhone",
    "OtherPhone",
    "WebPhone",
    "WebRTC",
    "Room",
    "BLA",
    "Paging",
)
ACCESS_TTL_S = (600, 3600, 3600)  # min, max, default (spec §2.1 access_token_ttl)
REFRESH_TTL_S = (3600, 2_592_000, 604_800)
WS_TTL_S = 60
#: a JWT credential's lifetime: min, max, default (``callscope admin jwt --expires-in-days``)
JWT_TTL_S = (60, 3650 * 86_400, 365 * 86_400)
#: the demo supervisor's JWT (first start)
DEMO_JWT_TTL_S = 30 * 86_400
JWT_ISSUER = "callscope"
JWT_AUDIENCE = "/restapi/oauth/token"
#: the dashboard's OAuth client: public (a browser cannot keep a secret), built in, of no
#: account. It takes the password and refresh grants only; the username is an email (unique
#: within the installation) or ``<account id>*<extension number>``.
DASHBOARD_CLIENT_ID = "callscope-dashboard"


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class IdentityError(CallscopeError):
    """An admin operation cannot be done; the message says why."""


class OAuthError(CallscopeError):
    """A token request failed: RFC 6749 ``error`` plus the RingCentral code (spec §2.1)."""

    def __init__(
        self,
        status: int,
        error: str,
        code: str,
        message: str,
        *,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.code = code
        self.message = message
        #: seconds for the ``Retry-After`` header of a 429
        self.retry_after_s = retry_after_s

    def body(self) -> dict[str, Any]:
        return {
            "error": self.error,
            "error_description": self.message,
            "errorCode": self.code,
            "message": self.message,
            "errors": [{"errorCode": self.code, "message": self.message}],
        }


def rate_limited(retry_after_s: int) -> OAuthError:
    """429 as RingCentral words it (``CMN-301``), with RFC 6749's closest ``error``."""
    return OAuthError(
        429,
        "temporarily_unavailable",
        "CMN-301",
        "Request rate exceeded",
        retry_after_s=retry_after_s,
    )


class AuthError(CallscopeError):
    """A bearer token was missing, unknown, revoked or expired (401)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class AuthContext:
    """Who is calling: the token owner's account and extension."""

    account_id: str
    extension_id: int
    admin: bool
    client_id: str
    session_id: str
    #: when the token behind this context was issued (a revocation of every session of the
    #: extension made later ends it; one made earlier ended only older sessions)
    issued_at: datetime


def _ttl(raw: str | None, bounds: tuple[int, int, int]) -> int:
    lo, hi, default = bounds
    if raw is None or not raw.strip().isdigit():
        return default
    return max(lo, min(hi, int(raw)))


def _token_row(
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


async def _end_sessions(
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


def new_numeric_id() -> int:
    """A 9-digit id, like RingCentral's numeric extension/device/group ids."""
    return 100_000_000 + secrets.randbelow(900_000_000)


class IdentityService:
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

    # -- keys ----------------------------------------------------------------------------

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

    # -- admin operations ----------------------------------------------------------------

    async def is_empty(self) -> bool:
        async with self._sessions() as s:
            return (await s.execute(select(func.count()).select_from(Account))).scalar_one() == 0

    async def create_account(self, account_id: str, name: str) -> Account:
        if not account_id.isdigit() or len(account_id) > 20:
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
        if not number.isdigit() or len(number) > 8:
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
            await _end_sessions(s, ext, None, "password")

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
                await _end_sessions(s, ext, None, "disabled")

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
                    await _end_sessions(s, ext, session_id, "jwt_revoked")

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

    # -- OAuth (spec §2.1) ---------------------------------------------------------------

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
        elif (username == app.account_id or (public and username.isdigit())) and extension:
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
                row = _token_row(token, kind, ttl, *owner)
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

    async def revoke(self, token: str) -> None:
        """Revoke the token's whole OAuth session (access and refresh); the sockets it opened
        close within a second. Unknown: no-op."""
        async with self._sessions.begin() as s:
            row = await s.get(Token, hash_token(token))
            if row is not None:
                ext = await s.get(Extension, row.extension_id)
                if ext is not None:
                    await _end_sessions(s, ext, row.session_id, "revoked")

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
        row = _token_row(
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

    # -- first start ---------------------------------------------------------------------

    async def seed_demo(self) -> dict[str, Any]:
        """One demo account matching the simulator's defaults: rcAccountId 70000001 and
        RingCX agents 5501-5503. Returns the credentials to print (shown once).

        Everyone gets a JWT credential (the agents' let a sample that acts on ``~`` run as
        an agent); the supervisor also gets a WebPhone device, Offline until a web phone
        connects with its ``deviceId`` (the dashboard's supervision panel, or
        ``/supervision/device?deviceId=``): the ``supervisorDeviceId`` a supervise sample
        names. One password hash for the four users."""
        account = await self.create_account("70000001", "Demo Contact Centre")
        password = new_secret(9)
        # one hash for the four users of one password: a start pays one scrypt, not four
        shared_hash = await self.passwords.hash(password)
        sup = await self.create_extension(
            account.id,
            number="101",
            first_name="Sam",
            last_name="Supervisor",
            email="sam@demo.callscope.test",
            admin=True,
            password_hash=shared_hash,
        )
        agents = []
        for number, (first, last), agent_id in (
            ("102", ("Alex", "Agent"), "5501"),
            ("103", ("Blair", "Agent"), "5502"),
            ("104", ("Casey", "Agent"), "5503"),
        ):
            agents.append(
                await self.create_extension(
                    account.id,
                    number=number,
                    first_name=first,
                    last_name=last,
                    email=f"{first.lower()}@demo.callscope.test",
                    ringcx_agent_id=agent_id,
                    password_hash=shared_hash,
                    insights_licence=True,
                )
            )
        app, secret = await self.create_app(account.id, "Demo supervision app")
        jwt = await self.create_jwt(account.id, sup.id, expires_in_s=DEMO_JWT_TTL_S)
        agent_jwts = [
            await self.create_jwt(account.id, a.id, expires_in_s=DEMO_JWT_TTL_S) for a in agents
        ]
        await self.create_device(account.id, sup.id, type="SoftPhone", name="Sam's softphone")
        web_phone = await self.create_device(
            account.id, sup.id, type="WebPhone", name="Sam's web phone"
        )
        for agent in agents:  # what a Genesys targetDeviceUri names
            await self.create_device(
                account.id, agent.id, type="HardPhone", name=f"{agent.first_name}'s desk phone"
            )
        return {
            "accountId": account.id,
            "clientId": app.client_id,
            "clientSecret": secret,
            "supervisor": {
                "extensionId": str(sup.id),
                "extensionNumber": "101",
                "jwt": jwt,
                "deviceId": str(web_phone.id),
            },
            "username": sup.email,
            "password": password,
            "agents": [
                {
                    "extensionId": str(a.id),
                    "extensionNumber": a.extension_number,
                    "ringcxAgentId": a.ringcx_agent_id,
                    "jwt": agent_jwt,
                }
                for a, agent_jwt in zip(agents, agent_jwts, strict=True)
            ],
        }


def dashboard_app() -> App:
    """The built-in public client of the dashboard (not stored: it belongs to no account)."""
    return App(
        client_id=DASHBOARD_CLIENT_ID,
        account_id="",
        name="callscope dashboard",
        secret_hash="",
        scopes=DEFAULT_SCOPES,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
