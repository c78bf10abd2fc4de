"""Plain JSON values of stored rows, as a digest hashes them (``shared.audit.digest``).

On SQLite the rows are read as the driver returns them and each column is turned into plain
values in one pass: a column of text and numbers as it is, a UtcDateTime, date or JSON column by
a short reader of SQLite's own text. Each short reader is checked once, on sample values, to
give what SQLAlchemy's reader of the column followed by ``plain_value`` gives; a column whose
check fails, and any value a short reader does not expect, takes that long way.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any

import sqlalchemy as sa

from shared.eventstore.schema import UtcDateTime
from shared.jsontext import json_bytes, read_json_text

ColumnReader = Callable[[Sequence[Any]], Sequence[Any]]
"""A column's stored values, in row order, to their plain values."""


def plain_value(value: Any) -> Any:
    """A value as JSON types: datetimes in UTC ISO form, dates ISO, bytes base64."""
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
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    return value


_ALREADY_PLAIN = frozenset({str, int, float, bool, type(None)})


def sqlite_plain_rows(
    connection: sa.Connection, table: sa.Table, *, where: Mapping[str, Any], chunk: int = 1000
) -> Iterator[dict[str, Any]]:
    """The rows of a SQLite ``table`` whose columns equal ``where``'s values, in primary-key
    order, as ``{column: plain_value(value as SQLAlchemy reads it)}``."""
    preparer = connection.dialect.identifier_preparer
    quote = preparer.quote
    names = [str(column.name) for column in table.columns]  # not quoted_name: orjson wants str
    sql = f"SELECT {', '.join(map(quote, names))} FROM {preparer.format_table(table)}"
    if where:
        sql += " WHERE " + " AND ".join(f"{quote(c)} = ?" for c in where)
    keys = list(table.primary_key.columns) or list(table.columns)
    sql += " ORDER BY " + ", ".join(quote(c.name) for c in keys)
    readers = _column_readers(connection.dialect, table)
    cursor = connection.exec_driver_sql(sql, tuple(where.values()))
    while fetched := cursor.fetchmany(chunk):
        stored = zip(*fetched, strict=True)
        columns = [read(values) for read, values in zip(readers, stored, strict=True)]
        for row in zip(*columns, strict=True):
            yield dict(zip(names, row, strict=True))


@lru_cache(maxsize=512)
def _column_readers(dialect: Any, table: sa.Table) -> tuple[ColumnReader, ...]:
    return tuple(_column_reader(dialect, column.type) for column in table.columns)


def _column_reader(dialect: Any, column_type: Any) -> ColumnReader:
    processor = column_type.dialect_impl(dialect).result_processor(dialect, None)
    if processor is None:
        return _plain_scalars
    long_way = _long_way(processor)
    for applies, samples, short in _SHORT_READERS:
        read = partial(short, fallback=long_way)
        if isinstance(column_type, applies) and _reads_alike(read, long_way, samples):
            return _per_value(read)
    if isinstance(column_type, sa.Boolean):
        return lambda values: _plain_scalars(list(map(processor, values)))
    return _per_value(long_way)


def _plain_scalars(values: Sequence[Any]) -> Sequence[Any]:
    if set(map(type, values)) <= _ALREADY_PLAIN:
        return values
    return list(map(plain_value, values))


def _per_value(read: Callable[[Any], Any]) -> ColumnReader:
    return lambda values: list(map(read, values))


def _long_way(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda stored: plain_value(processor(stored))


def _reads_alike(
    short: Callable[[Any], Any], long_way: Callable[[Any], Any], samples: Sequence[Any]
) -> bool:
    def line(value: Any) -> bytes:
        return json_bytes({"v": value}, sort_keys=True)

    try:
        return all(line(short(v)) == line(long_way(v)) for v in samples)
    except (ValueError, TypeError):
        return False


def _utc_moment_text(stored: Any, fallback: Callable[[Any], Any]) -> Any:
    """UtcDateTime's text on SQLite (UTC, no offset) as the ISO form of the aware moment."""
    if type(stored) is str and _STORED_MOMENT.fullmatch(stored):
        return datetime.fromisoformat(stored).isoformat() + "+00:00"
    return fallback(stored)


def _date_text(stored: Any, fallback: Callable[[Any], Any]) -> Any:
    if type(stored) is str and _STORED_DATE.fullmatch(stored):
        return date.fromisoformat(stored).isoformat()
    return fallback(stored)


_STORED_MOMENT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
_STORED_DATE = re.compile(r"\d{4}-\d\d-\d\d")
ShortReader = Callable[..., Any]
"""``(stored, fallback)`` to the plain value, or to ``fallback(stored)`` when unexpected."""
_JSON_SAMPLES = (
    '{"k": [1, 2.5, true, null, "\\u00e9\u6e2f"], "a": {}}',
    "[]",
    "null",
    "[2e400]",
    3,
)
_SHORT_READERS: tuple[tuple[type, tuple[Any, ...], ShortReader], ...] = (
    (UtcDateTime, ("2026-04-01 09:05:07.000123", "0987-01-02 00:00:00.000000"), _utc_moment_text),
    (sa.Date, ("2026-04-01", "0987-01-02", None), _date_text),
    (sa.JSON, _JSON_SAMPLES, read_json_text),
)
