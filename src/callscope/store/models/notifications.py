"""Notification tables (spec §8, §9): subscriptions, the transactional outbox, pending
deliveries, and the WebSocket gateway's sessions with their recovery buffers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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
    "Delivery",
    "OutboxEvent",
    "Subscription",
    "WsRecovery",
    "WsSession",
]


class Subscription(Base):
    """A push-notification subscription (spec §8): whose, what to, where to, until when."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    extension_id: Mapped[int] = mapped_column(BigInteger, index=True)  # the owner
    client_id: Mapped[str] = mapped_column(String(64))
    event_filters: Mapped[list[str]] = mapped_column(JSON)
    transport: Mapped[str] = mapped_column(String(16))  # WebHook | WebSocket
    address: Mapped[str | None] = mapped_column(Text)
    #: chosen by the subscriber and sent back on every delivery; never echoed by the API
    verification_token: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # Active | Blacklisted
    blacklisted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    blacklist_reason: Mapped[str | None] = mapped_column(Text)
    expires_in: Mapped[int] = mapped_column(BigInteger)  # requested lifetime, for renewals
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    #: WebSocket subscriptions: the gateway session (``wsc`` token) they are delivered on
    ws_session: Mapped[str | None] = mapped_column(String(64), index=True)


class OutboxEvent(Base):
    """An event written in the same transaction as the state change that caused it.

    The dispatcher turns each into one :class:`Delivery` per matching subscription and
    deletes it, in one transaction; ``id`` orders events as they were committed.
    """

    __tablename__ = "outbox"
    #: ids never come back after a delete: presence events use them as their sequence
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # telephony | presence | insights | device
    #: the extension the event is about (presence, device state); None for session events
    extension_id: Mapped[int | None] = mapped_column(BigInteger)
    #: the event body before per-subscription filtering (spec §9)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """One notification waiting for one subscription, delivered in ``id`` order."""

    __tablename__ = "deliveries"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(String(36), index=True)
    #: the envelope (spec §9.1) without ``timestamp``, which is set when it is sent
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class WsSession(Base):
    """A WebSocket gateway session (spec §8.3): what outlives its connection so that it can
    be recovered (``&wsc=<token>``) on this node or another, within ``expires_at``.

    ``sequence`` is the last ``wsc.sequence`` given to a notification; ``acked`` the last one
    the client is known to hold; ``epoch`` counts the connections that took the session over
    (a connection whose epoch is stale may send nothing more).
    """

    __tablename__ = "ws_sessions"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    acked: Mapped[int] = mapped_column(BigInteger, default=0)
    epoch: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class WsRecovery(Base):
    """A notification sent on a WebSocket gateway session, kept (the session's last
    ``recoveryBufferSize``) to be sent again to a client that recovers the session."""

    __tablename__ = "ws_recovery"
    __table_args__ = (UniqueConstraint("token", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(BigInteger)
    #: the envelope as it was sent (spec §9.1, ``timestamp`` included)
    notification: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
