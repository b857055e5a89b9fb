"""Alembic environment: uses the connection callscope hands over (see store.db.upgrade)."""

from __future__ import annotations

from alembic import context

from callscope.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - callscope always passes its connection
    raise RuntimeError("run migrations with `callscope db upgrade`, not the alembic CLI")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
