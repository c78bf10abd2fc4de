"""Digests of read models: SHA-256 over a table's rows in primary-key order, so that a read
model rebuilt by replay and the live one can be compared without shipping their rows.

A row is hashed as canonical JSON of its column values (datetimes in UTC ISO form, dates ISO,
bytes base64, JSON columns as their parsed value), one line per row. Tables with a ``ward``
column are restricted to the ward; the inbox and position tables are not read models.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from shared.jsontext import json_bytes
from shared.projections.composite import CompositeProjection
from shared.projections.inbox import inbox_metadata
from shared.projections.runner import Projection
from shared.projections.writes import sqlite_table_rows

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
    digest = hashlib.sha256()
    rows = 0
    for row in _rows_in_key_order(connection, table, {"ward": ward} if ward_only else {}):
        digest.update(row_bytes(row))
        rows += 1
    return TableDigest(table.name, rows, digest.hexdigest(), ward_only)


def _rows_in_key_order(
    connection: sa.Connection, table: sa.Table, where: Mapping[str, Any]
) -> Iterable[Mapping[Any, Any]]:
    if connection.dialect.name == "sqlite":
        return sqlite_table_rows(connection, table, where=where)
    query = sa.select(table).order_by(*_key_order(connection, table))
    query = query.where(*(table.c[c] == value for c, value in where.items()))
    return connection.execution_options(yield_per=1000).execute(query).mappings()


def row_bytes(row: Mapping[Any, Any]) -> bytes:
    plain = {str(key): _plain(value) for key, value in row.items()}
    return json_bytes(plain, sort_keys=True) + b"\n"


def _key_order(connection: sa.Connection, table: sa.Table) -> list[Any]:
    # Byte order on every backend: PostgreSQL would otherwise sort text by its locale.
    columns = list(table.primary_key.columns) or list(table.columns)
    return [c.collate("C") if isinstance(c.type, sa.String) else c for c in columns]


def _plain(value: Any) -> Any:
    if type(value) in _ALREADY_PLAIN:  # most values: a lookup, not a chain of isinstance
        return value
    if isinstance(value, datetime):
        if value.tzinfo is UTC:
            return value.isoformat()
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_ALREADY_PLAIN = frozenset({str, int, float, bool, type(None)})
