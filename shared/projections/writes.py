"""Set-based writes for projections: one statement per table per batch, rows sorted by key.

Sorting matters: two instances of one consumer group upserting the same keys in different orders
would deadlock on PostgreSQL. On PostgreSQL a batch travels as one array per column and is
expanded by ``unnest`` — one short statement whatever the batch size; on SQLite it is one
prepared statement run over every row (``executemany``, in C).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

Row = Mapping[str, Any]


def dialect_insert(connection: sa.Connection, table: sa.Table) -> Any:
    if connection.dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def sorted_by_key(rows: Iterable[Row], keys: Sequence[str]) -> list[Row]:
    return sorted(rows, key=lambda row: tuple(row[k] for k in keys))


def _unnest(table: sa.Table, columns: Sequence[str], rows: Sequence[Row]) -> sa.Select[Any]:
    return sa.select(*(_unnest_column(table.c[c], [row[c] for row in rows]) for c in columns))


def _unnest_column(column: sa.Column[Any], values: list[Any]) -> Any:
    if isinstance(column.type, sa.JSON):
        # A list inside an array parameter would become another array dimension: send JSON text.
        # Like SQLAlchemy's JSON type: None is JSON null unless the type says none_as_null.
        as_null = column.type.none_as_null
        texts = [
            None if v is None and as_null else json.dumps(v, ensure_ascii=False) for v in values
        ]
        return sa.cast(sa.func.unnest(sa.literal(texts, ARRAY(sa.Text))), column.type)
    return sa.func.unnest(sa.literal(values, ARRAY(column.type)))


def insert_statement(
    connection: sa.Connection, table: sa.Table, rows: Sequence[Row]
) -> tuple[Any, list[Row] | None]:
    """An INSERT of every row: (statement, executemany parameters or None when inlined)."""
    columns = list(rows[0])
    if connection.dialect.name == "postgresql":
        return pg_insert(table).from_select(columns, _unnest(table, columns, rows)), None
    return sqlite_insert(table), list(rows)


def insert_rows(connection: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> None:
    if not rows:
        return
    statement, parameters = insert_statement(connection, table, rows)
    connection.execute(statement, parameters)


def insert_new(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[Row],
    *,
    keys: Sequence[str],
    returning: sa.Column[Any],
) -> set[Any]:
    """Insert rows whose key is not there yet; returns ``returning`` of those inserted."""
    if not rows:
        return set()
    statement, parameters = insert_statement(connection, table, sorted_by_key(rows, keys))
    statement = statement.on_conflict_do_nothing(index_elements=list(keys)).returning(returning)
    return set(connection.execute(statement, parameters).scalars().all())


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
    if connection.dialect.name == "postgresql":
        statement, _ = insert_statement(connection, table, ordered)
        connection.execute(_on_conflict(statement, table, tuple(keys), columns, tuple(increment)))
        return
    connection.execute(_sqlite_upsert(table, tuple(keys), columns, tuple(increment)), ordered)


@lru_cache(maxsize=512)
def _sqlite_upsert(
    table: sa.Table, keys: tuple[str, ...], columns: tuple[str, ...], increment: tuple[str, ...]
) -> Any:
    # Built once per shape: building ON CONFLICT clauses costs far more than running them.
    return _on_conflict(sqlite_insert(table), table, keys, columns, increment)


def _on_conflict(
    statement: Any,
    table: sa.Table,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    increment: tuple[str, ...],
) -> Any:
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
