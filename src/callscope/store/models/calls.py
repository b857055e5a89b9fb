"""Call tables: a call and what it is made of (its transcript, telephony session and
parties, supervision trail, alerts, insights) and the streaming profiles calls arrive by."""

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
from sqlalchemy.orm import Mapped, mapped_column

from callscope.store.models.base import Base

__all__ = [
    "Call",
    "CallAlertRow",
    "CallStatus",
    "Insight",
    "InsightJob",
    "Party",
    "StreamingProfile",
    "SupervisionSessionRow",
    "TelephonySession",
    "TranscriptStatus",
    "UtteranceRow",
]


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
