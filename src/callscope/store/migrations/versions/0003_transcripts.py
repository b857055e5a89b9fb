"""transcripts: final utterances of each call, and where its transcript stands

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("transcript_status", sa.String(16), nullable=True))
    op.create_table(
        "utterances",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(40), sa.ForeignKey("calls.id"), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("party_id", sa.String(64), nullable=True),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.UniqueConstraint("call_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("utterances")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("transcript_status")
