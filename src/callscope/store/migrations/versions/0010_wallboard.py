"""wallboard: the supervision audit trail (who listened, coached, barged, when) and the live
assist alerts, both kept with their call

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supervision_sessions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("call_id", sa.String(40), sa.ForeignKey("calls.id"), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("supervisor_extension_id", sa.BigInteger, nullable=False),
        sa.Column("device_id", sa.BigInteger, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_supervision_sessions_call_id", "supervision_sessions", ["call_id"])
    op.create_table(
        "call_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(40), sa.ForeignKey("calls.id"), nullable=False),
        sa.Column("item_id", sa.String(80), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("speaker", sa.String(16)),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("call_id", "item_id"),
    )
    op.create_index("ix_call_alerts_call_id", "call_alerts", ["call_id"])


def downgrade() -> None:
    op.drop_index("ix_call_alerts_call_id", "call_alerts")
    op.drop_table("call_alerts")
    op.drop_index("ix_supervision_sessions_call_id", "supervision_sessions")
    op.drop_table("supervision_sessions")
