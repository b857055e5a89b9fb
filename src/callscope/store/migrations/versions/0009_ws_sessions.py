"""ws_sessions: WebSocket gateway sessions that outlive their connection, with the recovery
buffer of the notifications each sent (``wsc.sequence`` survives a restart; a session is
recovered on any node with what its client had not received)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-12
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ws_sessions",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("acked", sa.BigInteger, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ws_sessions_expires_at", "ws_sessions", ["expires_at"])
    op.create_table(
        "ws_recovery",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("notification", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("token", "sequence"),
    )
    # WebSocket subscriptions were renewed to 24 h while connected; their sockets are gone
    # now (the server is being upgraded): they get the recovery window of any session whose
    # socket is gone (180 s by default), not the rest of a day
    subscriptions = sa.table(
        "subscriptions",
        sa.column("transport", sa.String),
        sa.column("expires_at", sa.DateTime(timezone=True)),
    )
    window_end = datetime.now(UTC) + timedelta(seconds=180)
    op.execute(
        subscriptions.update()
        .where(subscriptions.c.transport == "WebSocket", subscriptions.c.expires_at > window_end)
        .values(expires_at=window_end)
    )


def downgrade() -> None:
    op.drop_table("ws_recovery")
    op.drop_index("ix_ws_sessions_expires_at", "ws_sessions")
    op.drop_table("ws_sessions")
