"""Control-plane identity tables (RingCentral-compatible): accounts, extensions, OAuth apps,
credentials and tokens, revocations, devices with their SIP accounts, monitoring groups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from callscope.store.models.base import Base

__all__ = [
    "Account",
    "App",
    "Device",
    "Extension",
    "GroupMember",
    "JwtCredential",
    "MonitoringGroup",
    "Revocation",
    "ServerKey",
    "SipCredential",
    "Token",
]


class Account(Base):
    """A tenant. Its id is the RingCentral account id RingCX streams carry as rcAccountId."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Extension(Base):
    __tablename__ = "extensions"
    __table_args__ = (
        UniqueConstraint("account_id", "extension_number"),
        UniqueConstraint("account_id", "ringcx_agent_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    extension_number: Mapped[str] = mapped_column(String(16))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    ringcx_agent_id: Mapped[str | None] = mapped_column(String(32))
    #: holds the conversation-insights licence: its calls get insights documents
    insights_licence: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    password_hash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class App(Base):
    """An OAuth client (RingCentral "app"): client id and a hashed client secret."""

    __tablename__ = "apps"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JwtCredential(Base):
    """An issued JWT credential (the jwt-bearer grant's assertion); revocable by id."""

    __tablename__ = "jwt_credentials"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    extension_id: Mapped[int] = mapped_column(ForeignKey("extensions.id"))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Token(Base):
    """An access, refresh or WebSocket token, stored only as a SHA-256 hash."""

    __tablename__ = "tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # access | refresh | ws
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    extension_id: Mapped[int] = mapped_column(ForeignKey("extensions.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: the JWT credential whose grant opened this OAuth session (revoking it ends them)
    credential_id: Mapped[str | None] = mapped_column(String(64), index=True)


class Revocation(Base):
    """A user's OAuth sessions ended (token revoked, password changed, extension disabled,
    JWT credential revoked). Every node reads new rows within a second and closes the open
    sockets those sessions hold (callscope.api.revocation); ``callscope admin`` writes them
    too, so a change made beside a running server takes effect at once."""

    __tablename__ = "revocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(32))
    extension_id: Mapped[int] = mapped_column(BigInteger)
    #: one OAuth session; None: every session of the extension
    session_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ServerKey(Base):
    """Server-wide signing keys (shared by every node through the database)."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    extension_id: Mapped[int] = mapped_column(ForeignKey("extensions.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(32))
    serial: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))  # Online | Offline
    #: the cluster node the web phone is connected to (while Online)
    node_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SipCredential(Base):
    """A device's SIP account (``callscope admin device --sip``): the password is kept only as
    its digest HA1 = MD5(username:realm:password), which the registrar needs to check."""

    __tablename__ = "sip_credentials"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(String(64), unique=True)
    realm: Mapped[str] = mapped_column(String(128))
    ha1: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MonitoringGroup(Base):
    __tablename__ = "monitoring_groups"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GroupMember(Base):
    __tablename__ = "monitoring_group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_groups.id", ondelete="CASCADE"), primary_key=True
    )
    extension_id: Mapped[int] = mapped_column(ForeignKey("extensions.id"), primary_key=True)
    monitoring: Mapped[bool] = mapped_column(Boolean, default=False)
    monitored: Mapped[bool] = mapped_column(Boolean, default=False)
