"""insights: licence flag, insight jobs and documents, recording retention

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("recording_purged_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("extensions") as batch:
        batch.add_column(
            sa.Column("insights_licence", sa.Boolean, nullable=False, server_default="0")
        )
    op.create_table(
        "insight_jobs",
        sa.Column("call_id", sa.String(40), sa.ForeignKey("calls.id"), primary_key=True),
        sa.Column("account_id", sa.String(32), nullable=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "insights",
        sa.Column("id", sa.String(40), sa.ForeignKey("calls.id"), primary_key=True),
        sa.Column("account_id", sa.String(32), nullable=False, index=True),
        sa.Column("session_id", sa.String(64), nullable=False, index=True),
        sa.Column("owner_extension_id", sa.BigInteger, nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("insights")
    op.drop_table("insight_jobs")
    with op.batch_alter_table("extensions") as batch:
        batch.drop_column("insights_licence")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("recording_purged_at")
