"""subscriptions: push-notification subscriptions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False, index=True
        ),
        sa.Column("extension_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("event_filters", sa.JSON, nullable=False),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("address", sa.Text, nullable=True),
        sa.Column("verification_token", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("blacklisted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blacklist_reason", sa.Text, nullable=True),
        sa.Column("expires_in", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("subscriptions")
