"""SQLAlchemy models. Every schema change goes through an Alembic migration."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Account",
    "App",
    "Base",
    "Call",
    "CallAlertRow",
    "CallStatus",
    "Delivery",
    "Device",
    "Extension",
    "GroupMember",
    "JwtCredential",
    "MonitoringGroup",
    "OutboxEvent",
    "Party",
    "ServerKey",
    "SipCredential",
    "StreamingProfile",
    "Subscription",
    "SupervisionSessionRow",
    "TelephonySession",
    "Token",
    "TranscriptStatus",
    "UtteranceRow",
    "WsRecovery",
    "WsSession",
]


class Base(DeclarativeBase):
    pass


class CallStatus(enum.StrEnum):
    """Lifecycle of a call's recording.

    ``live`` → ``completed`` (every perspective said Stop) | ``abandoned`` (the sender went
    silent or disconnected without Stop and was closed after the idle timeout) |
    ``interrupted`` (the server stopped or was killed mid-call; the recording is repaired).
    """

    LIVE = "live"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    INTERRUPTED = "interrupted"


class TranscriptStatus(enum.StrEnum):
    """Where a call's transcript stands.

    ``live`` (the call is being transcribed) → ``pending`` (the call ended; its last finals
    are being decoded) → ``complete``. ``incomplete``: the server stopped before the last
    finals were decoded, or a worker failed mid-call. ``off``: transcription is disabled.
    """

    LIVE = "live"
    PENDING = "pending"
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    OFF = "off"


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    ringcx_call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    session_id: Mapped[str | None] = mapped_column(String(64))
    ani: Mapped[str | None] = mapped_column(String(64), index=True)
    dnis: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(64))
    subaccount_id: Mapped[str | None] = mapped_column(String(64))
    rc_account_id: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    #: the callscope account the call belongs to (rcAccountId of an existing account)
    account_ref: Mapped[str | None] = mapped_column(String(32), index=True)
    product_type: Mapped[str | None] = mapped_column(String(16))
    product_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    end_reason: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    recording_path: Mapped[str] = mapped_column(Text)
    #: when the retention job deleted the recording (None: still kept)
    recording_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    frames_agent: Mapped[int] = mapped_column(Integer, default=0)
    frames_caller: Mapped[int] = mapped_column(Integer, default=0)
    late_frames: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_frames: Mapped[int] = mapped_column(Integer, default=0)
    missing_frames: Mapped[int] = mapped_column(Integer, default=0)
    malformed_messages: Mapped[int] = mapped_column(Integer, default=0)
    upgrade_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    start_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stop_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    transcript_status: Mapped[str | None] = mapped_column(String(16))
    #: the cluster node that receives (received) the call's stream
    node_id: Mapped[str | None] = mapped_column(String(64), index=True)
    #: the streaming profile whose secret the stream proved; None: an unauthenticated stream
    #: (accepted only with ingest_allow_unauthenticated), which no supervisor's audio enters
    profile_id: Mapped[int | None] = mapped_column(Integer)


class UtteranceRow(Base):
    """A final utterance of a call's transcript. Times are ms from the start of the call."""

    __tablename__ = "utterances"
    __table_args__ = (UniqueConstraint("call_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(40), ForeignKey("calls.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[str | None] = mapped_column(String(64))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)


class StreamingProfile(Base):
    """A RingCX streaming profile (spec §11.2): where a queue's or campaign's calls stream.

    It belongs to the account ``rc_account_id`` (profiles of different accounts never clash);
    its secret is kept as ``secret_hash`` only (callscope.ingest.auth), which finds it."""

    __tablename__ = "streaming_profiles"
    __table_args__ = (
        UniqueConstraint(
            "rc_account_id",
            "sub_account_id",
            "product_type",
            "product_id",
            name="uq_streaming_profiles_account_product",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_type: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[int] = mapped_column(BigInteger)
    sub_account_id: Mapped[str] = mapped_column(String(64))
    main_account_id: Mapped[str | None] = mapped_column(String(64))
    rc_account_id: Mapped[str] = mapped_column(String(64))
    streaming_url: Mapped[str] = mapped_column(Text)
    secret_hash: Mapped[str | None] = mapped_column(String(80), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# -- control plane (RingCentral-compatible identities, groups, telephony sessions) ------------


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


class TelephonySession(Base):
    __tablename__ = "telephony_sessions"

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    origin_type: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8))
    live: Mapped[bool] = mapped_column(Boolean, index=True)
    creation_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: ``sequence`` of the session's last telephony event (spec §9.2)
    event_sequence: Mapped[int] = mapped_column(Integer, default=0)


class Party(Base):
    __tablename__ = "parties"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("telephony_sessions.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # agent | customer | supervisor
    account_id: Mapped[str | None] = mapped_column(String(32))
    extension_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    direction: Mapped[str] = mapped_column(String(8))
    from_number: Mapped[str | None] = mapped_column(String(64))
    from_name: Mapped[str | None] = mapped_column(String(200))
    to_number: Mapped[str | None] = mapped_column(String(64))
    to_name: Mapped[str | None] = mapped_column(String(200))
    status_code: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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


class InsightJob(Base):
    """A call whose insights are to be made: queued with the call's final update, so a
    restart finds it; retried with backoff; ``state`` pending → done | skipped | failed."""

    __tablename__ = "insight_jobs"

    call_id: Mapped[str] = mapped_column(String(40), ForeignKey("calls.id"), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Insight(Base):
    """A call's insights document (RingSense RecordingInsights, spec §10); ``id`` is the
    ``sourceRecordId`` (the recording, i.e. the call id)."""

    __tablename__ = "insights"

    id: Mapped[str] = mapped_column(String(40), ForeignKey("calls.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    owner_extension_id: Mapped[int] = mapped_column(BigInteger)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SupervisionSessionRow(Base):
    """The audit trail of a call's supervision: one row per supervisor and mode (Listen,
    Coach, Barge), from when it began to when it changed or ended (None: still going, or the
    server stopped before it ended)."""

    __tablename__ = "supervision_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(40), ForeignKey("calls.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(32))
    supervisor_extension_id: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[int] = mapped_column(BigInteger)
    mode: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CallAlertRow(Base):
    """A live assist alert or suggestion raised during a call, kept with the call (its
    timeline in the replay)."""

    __tablename__ = "call_alerts"
    __table_args__ = (UniqueConstraint("call_id", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(40), ForeignKey("calls.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(16))  # alert | suggestion
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    speaker: Mapped[str | None] = mapped_column(String(16))
    at_ms: Mapped[int] = mapped_column(BigInteger)
