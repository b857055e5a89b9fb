"""What the identity service speaks in: its limits and names, its errors, the caller's
:class:`AuthContext`, and the dashboard's built-in OAuth client."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from callscope.errors import CallscopeError
from callscope.store.models import App

__all__ = [
    "ACCESS_TTL_S",
    "DASHBOARD_CLIENT_ID",
    "DEFAULT_SCOPES",
    "DEMO_JWT_TTL_S",
    "DEVICE_TYPES",
    "EXTENSION_STATUSES",
    "EXTENSION_TYPES",
    "JWT_AUDIENCE",
    "JWT_ISSUER",
    "JWT_TTL_S",
    "MEMBER_TYPES",
    "REFRESH_TTL_S",
    "WS_TTL_S",
    "AuthContext",
    "AuthError",
    "IdentityError",
    "OAuthError",
    "aware",
    "dashboard_app",
    "new_numeric_id",
    "rate_limited",
]


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


def new_numeric_id() -> int:
    """A 9-digit id, like RingCentral's numeric extension/device/group ids."""
    return 100_000_000 + secrets.randbelow(900_000_000)


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
