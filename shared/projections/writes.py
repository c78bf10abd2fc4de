"""Set-based writes for projections: one statement per table per batch, rows sorted by key.

Sorting matters: two instances of one consumer group upserting the same keys in different orders
would deadlock on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

Row = Mapping[str, Any]


def dialect_insert(connection: sa.Connection, table: sa.Table) -> Any:
    if connection.dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def sorted_by_key(rows: Iterable[Row], keys: Sequence[str]) -> list[Row]:
    return sorted(rows, key=lambda row: tuple(row[k] for k in keys))


def upsert(
    connection: sa.Connection,
    table: sa.Table,
    rows: Iterable[Row],
    *,
    keys: Sequence[str],
    increment: Sequence[str] = (),
) -> None:
    """Insert or update rows; columns in ``increment`` are added to the stored value."""
    ordered = sorted_by_key(rows, keys)
    if not ordered:
        return
    columns = tuple(c for c in ordered[0] if c not in keys)
    statement = _upsert_statement(
        connection.dialect.name, table, tuple(keys), columns, tuple(increment)
    )
    connection.execute(statement, ordered)


@lru_cache(maxsize=512)
def _upsert_statement(
    dialect: str,
    table: sa.Table,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    increment: tuple[str, ...],
) -> Any:
    # Built once per shape: building ON CONFLICT clauses costs far more than running them.
    statement = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    updates = {
        column: (table.c[column] + statement.excluded[column])
        if column in increment
        else statement.excluded[column]
        for column in columns
    }
    if updates:
        return statement.on_conflict_do_update(index_elements=list(keys), set_=updates)
    return statement.on_conflict_do_nothing(index_elements=list(keys))


def update_where(
    connection: sa.Connection, table: sa.Table, rows: Iterable[Row], *, keys: Sequence[str]
) -> None:
    """UPDATE the non-key columns of existing rows, matched by ``keys`` (one executemany)."""
    ordered = sorted_by_key(rows, keys)
    if not ordered:
        return
    columns = [c for c in ordered[0] if c not in keys]
    statement = (
        sa.update(table)
        .where(*(table.c[k] == sa.bindparam(f"key_{k}") for k in keys))
        .values({c: sa.bindparam(f"value_{c}") for c in columns})
    )
    params = [
        {**{f"key_{k}": row[k] for k in keys}, **{f"value_{c}": row[c] for c in columns}}
        for row in ordered
    ]
    connection.execute(statement, params)
