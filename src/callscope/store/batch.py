"""Many row changes in few statements, inside a transaction the caller holds.

A write transaction holds SQLite's write lock (and PostgreSQL row locks) until it commits,
and every statement is a round trip through the driver and the event loop: on a loaded
loop, a transaction of a thousand single-row statements holds the lock for seconds. So:

* rows to insert go in **table by table**, parents first (the foreign keys'
  order, :attr:`MetaData.sorted_tables`), each table's rows in the order given (so ids
  numbered by the database follow it): one ``executemany`` per table. The ORM's own flush
  does not order tables that have no ``relationship()`` between them, and on SQLite it sends
  one ``INSERT … RETURNING`` per row whose key the database numbers; those rows are inserted
  without ``RETURNING`` (nothing reads their ids back) and stay transient objects;
* rows to update are read **per table in one query** (``IN`` of their keys), changed in
  memory and written by the flush (one ``executemany`` per table and set of columns);
* a change may carry a **guard**: it applies only while a row's attribute still has a
  value (a telephony session still live). The guard rows are read ``FOR UPDATE`` on
  PostgreSQL, so another node ending the same session waits for this transaction and then
  sees it ended (and the other way round).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Table, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from callscope.store.models import Base

__all__ = ["Change", "RowKey", "apply_changes", "insert_in_order"]

logger = logging.getLogger("callscope.store")

#: a row named by its model class and primary key
RowKey = tuple[type[Base], Any]
#: most keys in one ``IN``
CHUNK = 500


@dataclass(slots=True)
class Change:
    """Inserts and updates that commit together, or (guarded) not at all."""

    creates: Sequence[Base] = ()
    updates: dict[RowKey, dict[str, Any]] = field(default_factory=dict)
    #: (row, attribute, value): apply only while that row's attribute has that value
    guard: tuple[RowKey, str, Any] | None = None


def _key_of(row: Base) -> RowKey | None:
    """A new row's key, if it has one before it is inserted."""
    key = inspect(type(row)).primary_key_from_instance(row)
    if any(part is None for part in key):
        return None
    return (type(row), key[0] if len(key) == 1 else tuple(key))


async def _load(s: AsyncSession, keys: Iterable[RowKey], *, for_update: bool) -> dict[RowKey, Base]:
    """Rows by key, one query per table (and per ``CHUNK`` keys)."""
    by_model: defaultdict[type[Base], set[Any]] = defaultdict(set)
    for model, key in keys:
        by_model[model].add(key)
    found: dict[RowKey, Base] = {}
    for model, wanted in by_model.items():
        mapper = inspect(model)
        pk = mapper.primary_key
        if len(pk) != 1:  # a composite key: rare here, read one by one
            for key in wanted:
                row = await s.get(model, key, with_for_update=for_update)
                if row is not None:
                    found[(model, key)] = row
            continue
        column = pk[0]
        attribute = mapper.get_property_by_column(column).key
        ordered = sorted(wanted)
        for at in range(0, len(ordered), CHUNK):
            q = select(model).where(column.in_(ordered[at : at + CHUNK]))
            if for_update:  # in key order, as every other locker: no deadlock
                q = q.order_by(column).with_for_update()
            for row in (await s.execute(q)).scalars():
                found[(model, getattr(row, attribute))] = row
    return found


def _values(rows: Sequence[Base]) -> list[dict[str, Any]]:
    """The rows of one model as INSERT parameters, all with the same keys where that is
    safe (an attribute left unset is NULL or its column's constant default), so that one
    statement inserts them all: rows with different keys would be sent in separate runs."""
    mapper = inspect(type(rows[0]))
    columns = {attr.key: attr.columns[0] for attr in mapper.column_attrs}
    given = [{k: v for k, v in inspect(row).dict.items() if k in columns} for row in rows]
    keys = set().union(*given)
    fill: dict[str, Any] = {}
    for key in keys:
        column = columns[key]
        if column.server_default is not None or isinstance(column.type, JSON):
            continue  # a JSON column's None would be stored as JSON null, not NULL
        if column.default is None:
            fill[key] = None
        elif column.default.is_scalar:
            fill[key] = column.default.arg
    return [{**fill, **values} for values in given]


async def insert_in_order(s: AsyncSession, rows: Sequence[Base]) -> None:
    """Insert ``rows``: tables in foreign-key order, each table's rows in the order given."""
    by_table: defaultdict[Table, list[Base]] = defaultdict(list)
    for row in rows:
        by_table[row.__table__].append(row)  # type: ignore[index]
    for table in Base.metadata.sorted_tables:
        batch = by_table.get(table)
        if not batch:
            continue
        numbered = [row for row in batch if _key_of(row) is None]
        if numbered and len(numbered) == len(batch):
            # the database numbers them: one executemany, nothing read back
            # render_nulls: a None is sent as NULL rather than leaving its key out (which
            # would split the rows into runs by their keys)
            await s.execute(
                insert(type(batch[0])).execution_options(render_nulls=True), _values(batch)
            )
        else:
            s.add_all(batch)
            await s.flush()


async def apply_changes(s: AsyncSession, changes: Sequence[Change]) -> list[Change]:
    """Apply ``changes`` in order in ``s``'s transaction. Returns those skipped by their
    guard. An update of a row that does not exist is skipped (and logged)."""
    created: dict[RowKey, Base] = {}
    for change in changes:
        for row in change.creates:
            key = _key_of(row)
            if key is not None:
                created[key] = row
    guards = {c.guard[0] for c in changes if c.guard is not None} - created.keys()
    others = {k for c in changes for k in c.updates} - created.keys() - guards
    rows = await _load(s, guards, for_update=True) if guards else {}
    if others:
        rows.update(await _load(s, others, for_update=False))
    rows.update(created)
    inserts: list[Base] = []
    skipped: list[Change] = []
    for change in changes:
        if change.guard is not None:
            key, attribute, value = change.guard
            guarded = rows.get(key)
            if guarded is None or getattr(guarded, attribute) != value:
                skipped.append(change)
                continue
        inserts.extend(change.creates)
        for key, values in change.updates.items():
            target = rows.get(key)
            if target is None:
                logger.warning("update for unknown %s %s skipped", key[0].__tablename__, key[1])
                continue
            for k, v in values.items():
                setattr(target, k, v)
    await insert_in_order(s, inserts)
    return skipped
