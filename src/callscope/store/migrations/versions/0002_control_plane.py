"""control plane: accounts, extensions, apps, credentials, tokens, devices, groups, sessions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("account_ref", sa.String(32), nullable=True))
        batch.create_index("ix_calls_account_ref", ["account_ref"])
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "extensions",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column(
            "account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False, index=True
        ),
        sa.Column("extension_number", sa.String(16), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(200)),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("ringcx_agent_id", sa.String(32)),
        sa.Column("password_hash", sa.Text),
        _ts("created_at"),
        sa.UniqueConstraint("account_id", "extension_number"),
        sa.UniqueConstraint("account_id", "ringcx_agent_id"),
    )
    op.create_table(
        "apps",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column(
            "account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False, index=True
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "jwt_credentials",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False, index=True
        ),
        sa.Column("extension_id", sa.BigInteger, sa.ForeignKey("extensions.id"), nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False, index=True),
        sa.Column(
            "account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False, index=True
        ),
        sa.Column("extension_id", sa.BigInteger, sa.ForeignKey("extensions.id"), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        _ts("expires_at"),
        sa.Column("revoked", sa.Boolean, nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "server_keys",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column(
            "account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False, index=True
        ),
        sa.Column(
            "extension_id",
            sa.BigInteger,
            sa.ForeignKey("extensions.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sku", sa.String(32), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "monitoring_groups",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column(
            "account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False, index=True
        ),
        sa.Column("name", sa.String(128), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "monitoring_group_members",
        sa.Column(
            "group_id",
            sa.BigInteger,
            sa.ForeignKey("monitoring_groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("extension_id", sa.BigInteger, sa.ForeignKey("extensions.id"), primary_key=True),
        sa.Column("monitoring", sa.Boolean, nullable=False),
        sa.Column("monitored", sa.Boolean, nullable=False),
    )
    op.create_table(
        "telephony_sessions",
        sa.Column("id", sa.String(48), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), index=True),
        sa.Column("call_id", sa.String(40), sa.ForeignKey("calls.id"), nullable=False, index=True),
        sa.Column("origin_type", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("live", sa.Boolean, nullable=False, index=True),
        _ts("creation_time"),
    )
    op.create_table(
        "parties",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(48),
            sa.ForeignKey("telephony_sessions.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(32)),
        sa.Column("extension_id", sa.BigInteger, index=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("from_number", sa.String(64)),
        sa.Column("from_name", sa.String(200)),
        sa.Column("to_number", sa.String(64)),
        sa.Column("to_name", sa.String(200)),
        sa.Column("status_code", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.String(32)),
        _ts("created_at"),
        _ts("updated_at"),
    )


def downgrade() -> None:
    for table in (
        "parties", "telephony_sessions", "monitoring_group_members", "monitoring_groups",
        "devices", "server_keys", "tokens", "jwt_credentials", "apps", "extensions", "accounts",
    ):  # fmt: skip
        op.drop_table(table)
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_account_ref")
        batch.drop_column("account_ref")
