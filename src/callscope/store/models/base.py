"""The declarative base every table derives from: its metadata is what Alembic compares
the migrations against (``store/migrations/env.py``)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

__all__ = ["Base"]


class Base(DeclarativeBase):
    pass
