"""sip_credentials: SIP accounts of supervisor devices (``callscope admin device --sip``),
the password kept only as its digest HA1

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sip_credentials",
        sa.Column(
            "device_id",
            sa.BigInteger,
            sa.ForeignKey("devices.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("realm", sa.String(128), nullable=False),
        sa.Column("ha1", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sip_credentials")
