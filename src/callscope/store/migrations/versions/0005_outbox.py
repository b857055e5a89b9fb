"""outbox: events written with their state change, and per-subscription deliveries

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("ws_session", sa.String(64), nullable=True))
        batch.create_index("ix_subscriptions_ws_session", ["ws_session"])
    with op.batch_alter_table("telephony_sessions") as batch:
        batch.add_column(
            sa.Column("event_sequence", sa.Integer, nullable=False, server_default="0")
        )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("extension_id", sa.BigInteger, nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,  # ids never reused: presence sequences stay monotonic
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String(36), nullable=False, index=True),
        sa.Column("envelope", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("outbox")
    with op.batch_alter_table("telephony_sessions") as batch:
        batch.drop_column("event_sequence")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_index("ix_subscriptions_ws_session")
        batch.drop_column("ws_session")
