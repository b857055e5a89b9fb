"""security: streaming profiles per account with hashed secrets; calls name the profile
that authenticated them; revocations, and the JWT credential behind each OAuth session

Profiles were one namespace across accounts (unique sub-account, type, id) and kept their
secret in plain text. Now (account, sub-account, type, id) is unique and only a keyed scrypt
hash of the secret is kept (callscope.ingest.auth.SecretHasher, salted with the
installation's ``ingest`` server key, made here if missing). A profile without an account
(none can be made through the API) is dropped. Downgrading cannot restore secrets: profiles
come back without one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from alembic import op

from callscope.ingest.auth import SecretHasher

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COMMON: tuple[tuple[str, Any, dict[str, Any]], ...] = (
    ("id", sa.Integer, {"primary_key": True, "autoincrement": True}),
    ("product_type", sa.String(16), {"nullable": False}),
    ("product_id", sa.BigInteger, {"nullable": False}),
    ("sub_account_id", sa.String(64), {"nullable": False}),
    ("main_account_id", sa.String(64), {}),
)


def _columns() -> list[sa.Column[object]]:
    return [sa.Column(name, kind, **kw) for name, kind, kw in _COMMON]


def _salt(conn: sa.Connection) -> bytes:
    keys = sa.table("server_keys", sa.column("name", sa.String), sa.column("value", sa.Text))
    value = conn.execute(sa.select(keys.c.value).where(keys.c.name == "ingest")).scalar()
    if value is None:
        value = secrets.token_hex(16)
        conn.execute(keys.insert().values(name="ingest", value=value))
    return bytes.fromhex(value)


def upgrade() -> None:
    conn = op.get_bind()
    hasher = SecretHasher(_salt(conn))
    old = sa.table(
        "streaming_profiles",
        *(sa.column(n) for n, _, _ in _COMMON),
        sa.column("rc_account_id"),
        sa.column("streaming_url"),
        sa.column("secret"),
        sa.column("created_at"),
        sa.column("updated_at"),
    )
    rows = [dict(r._mapping) for r in conn.execute(sa.select(old))]
    new = op.create_table(
        "streaming_profiles_v8",
        *_columns(),
        sa.Column("rc_account_id", sa.String(64), nullable=False),
        sa.Column("streaming_url", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.String(80)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "rc_account_id",
            "sub_account_id",
            "product_type",
            "product_id",
            name="uq_streaming_profiles_account_product",
        ),
    )
    assert new is not None
    kept = []
    for row in rows:
        if not row["rc_account_id"]:
            continue
        secret = row.pop("secret")
        row["secret_hash"] = hasher.hash_now(secret) if secret else None
        kept.append(row)
    if kept:
        op.bulk_insert(new, kept)
    op.drop_table("streaming_profiles")
    op.rename_table("streaming_profiles_v8", "streaming_profiles")
    op.create_index("ix_streaming_profiles_secret_hash", "streaming_profiles", ["secret_hash"])
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("profile_id", sa.Integer, nullable=True))
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("credential_id", sa.String(64), nullable=True))
        batch.create_index("ix_tokens_credential_id", ["credential_id"])
    op.create_table(
        "revocations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("extension_id", sa.BigInteger, nullable=False),
        sa.Column("session_id", sa.String(64)),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("revocations")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_index("ix_tokens_credential_id")
        batch.drop_column("credential_id")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("profile_id")
    conn = op.get_bind()
    cur = sa.table(
        "streaming_profiles",
        *(sa.column(n) for n, _, _ in _COMMON),
        sa.column("rc_account_id"),
        sa.column("streaming_url"),
        sa.column("created_at"),
        sa.column("updated_at"),
    )
    rows = [dict(r._mapping) for r in conn.execute(sa.select(cur))]
    op.drop_index("ix_streaming_profiles_secret_hash", "streaming_profiles")
    old = op.create_table(
        "streaming_profiles_v7",
        *_columns(),
        sa.Column("rc_account_id", sa.String(64)),
        sa.Column("streaming_url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    assert old is not None
    seen: set[tuple[object, ...]] = set()
    back = []
    for row in rows:  # one namespace again: the first of clashing profiles stays
        key = (row["sub_account_id"], row["product_type"], row["product_id"])
        if key not in seen:
            seen.add(key)
            back.append({**row, "secret": None})
    if back:
        op.bulk_insert(old, back)
    op.drop_table("streaming_profiles")
    op.rename_table("streaming_profiles_v7", "streaming_profiles")
    with op.batch_alter_table("streaming_profiles") as batch:
        batch.create_unique_constraint(
            "uq_streaming_profiles_product", ["sub_account_id", "product_type", "product_id"]
        )
