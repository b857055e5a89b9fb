"""calls and streaming profiles

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("ringcx_call_id", sa.String(64), index=True),
        sa.Column("session_id", sa.String(64)),
        sa.Column("ani", sa.String(64), index=True),
        sa.Column("dnis", sa.String(64)),
        sa.Column("account_id", sa.String(64)),
        sa.Column("subaccount_id", sa.String(64)),
        sa.Column("rc_account_id", sa.String(64)),
        sa.Column("agent_id", sa.String(64), index=True),
        sa.Column("product_type", sa.String(16)),
        sa.Column("product_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("end_reason", sa.String(200)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("duration_ms", sa.BigInteger),
        sa.Column("recording_path", sa.Text, nullable=False),
        sa.Column("frames_agent", sa.Integer, nullable=False),
        sa.Column("frames_caller", sa.Integer, nullable=False),
        sa.Column("late_frames", sa.Integer, nullable=False),
        sa.Column("duplicate_frames", sa.Integer, nullable=False),
        sa.Column("missing_frames", sa.Integer, nullable=False),
        sa.Column("malformed_messages", sa.Integer, nullable=False),
        sa.Column("upgrade_params", sa.JSON, nullable=False),
        sa.Column("start_metadata", sa.JSON, nullable=False),
        sa.Column("stop_metadata", sa.JSON, nullable=False),
    )
    op.create_table(
        "streaming_profiles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("product_type", sa.String(16), nullable=False),
        sa.Column("product_id", sa.BigInteger, nullable=False),
        sa.Column("sub_account_id", sa.String(64), nullable=False),
        sa.Column("main_account_id", sa.String(64)),
        sa.Column("rc_account_id", sa.String(64)),
        sa.Column("streaming_url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("sub_account_id", "product_type", "product_id"),
    )


def downgrade() -> None:
    op.drop_table("streaming_profiles")
    op.drop_table("calls")
