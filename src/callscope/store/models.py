"""SQLAlchemy models. Every schema change goes through an Alembic migration."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "Call", "CallStatus", "StreamingProfile"]


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
    product_type: Mapped[str | None] = mapped_column(String(16))
    product_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    end_reason: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    recording_path: Mapped[str] = mapped_column(Text)
    frames_agent: Mapped[int] = mapped_column(Integer, default=0)
    frames_caller: Mapped[int] = mapped_column(Integer, default=0)
    late_frames: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_frames: Mapped[int] = mapped_column(Integer, default=0)
    missing_frames: Mapped[int] = mapped_column(Integer, default=0)
    malformed_messages: Mapped[int] = mapped_column(Integer, default=0)
    upgrade_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    start_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stop_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StreamingProfile(Base):
    """A RingCX streaming profile (spec §11.2): where a queue's or campaign's calls stream."""

    __tablename__ = "streaming_profiles"
    __table_args__ = (UniqueConstraint("sub_account_id", "product_type", "product_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_type: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[int] = mapped_column(BigInteger)
    sub_account_id: Mapped[str] = mapped_column(String(64))
    main_account_id: Mapped[str | None] = mapped_column(String(64))
    rc_account_id: Mapped[str | None] = mapped_column(String(64))
    streaming_url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
