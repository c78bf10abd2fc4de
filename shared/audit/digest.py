"""Digests of read models: SHA-256 over a table's rows in primary-key order, so that a read
model rebuilt by replay and the live one can be compared without shipping their rows.

A row is hashed as canonical JSON of its column values (datetimes in UTC ISO form, dates ISO,
bytes base64, JSON columns as their parsed value), one line per row. Tables with a ``ward``
column are restricted to the ward; the inbox and position tables are not read models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shared.audit.plain import plain_value, sqlite_plain_rows
from shared.jsontext import json_bytes
from shared.projections.composite import CompositeProjection
from shared.projections.inbox import inbox_metadata
from shared.projections.runner import Projection

NOT_READ_MODELS = frozenset(inbox_metadata.tables)


@dataclass(frozen=True, slots=True)
class TableDigest:
    table: str
    rows: int
    sha256: str
    ward_only: bool
    """True when only the ward's rows were hashed (the table has a ward column)."""


def read_model_tables(name: str, projections: Sequence[Projection]) -> list[sa.Table]:
    """The read tables of a service's projections, by name."""
    metadata = CompositeProjection(name, projections).metadata
    return [metadata.tables[t] for t in sorted(metadata.tables) if t not in NOT_READ_MODELS]


def table_digests(
    connection: sa.Connection, tables: Iterable[sa.Table], ward: str
) -> dict[str, TableDigest | None]:
    """A digest per table; None for a table the database does not have."""
    present = set(sa.inspect(connection).get_table_names())
    return {
        table.name: table_digest(connection, table, ward) if table.name in present else None
        for table in tables
    }


def table_digest(connection: sa.Connection, table: sa.Table, ward: str) -> TableDigest:
    ward_only = "ward" in table.c
    where = {"ward": ward} if ward_only else {}
    if connection.dialect.name == "sqlite":
        lines = map(plain_row_bytes, sqlite_plain_rows(connection, table, where=where))
    else:
        lines = map(row_bytes, _rows_in_key_order(connection, table, where))
    digest = hashlib.sha256()
    rows = 0
    for line in lines:
        digest.update(line)
        rows += 1
    return TableDigest(table.name, rows, digest.hexdigest(), ward_only)


def _rows_in_key_order(
    connection: sa.Connection, table: sa.Table, where: Mapping[str, Any]
) -> Iterable[Mapping[Any, Any]]:
    query = sa.select(table).order_by(*_key_order(connection, table))
    query = query.where(*(table.c[c] == value for c, value in where.items()))
    return connection.execution_options(yield_per=1000).execute(query).mappings()


def row_bytes(row: Mapping[Any, Any]) -> bytes:
    return plain_row_bytes({str(key): plain_value(value) for key, value in row.items()})


def plain_row_bytes(plain: Mapping[str, Any]) -> bytes:
    """The digest line of a row whose values are plain already."""
    return json_bytes(plain, sort_keys=True) + b"\n"


def _key_order(connection: sa.Connection, table: sa.Table) -> list[Any]:
    # Byte order on every backend: PostgreSQL would otherwise sort text by its locale.
    columns = list(table.primary_key.columns) or list(table.columns)
    return [c.collate("C") if isinstance(c.type, sa.String) else c for c in columns]
