"""Set-based writes for projections: one statement per table per batch, rows sorted by key.

Sorting matters: two instances of one consumer group upserting the same keys in different orders
would deadlock on PostgreSQL. On PostgreSQL a batch travels as one JSON text of row arrays,
expanded by ``jsonb_array_elements`` in a statement built once per table and row shape (jsonb:
the text is parsed once, where each ``->>`` of a json value parses its row again); on SQLite
it is one prepared statement run over every row (``executemany``, in C).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache, partial
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.eventstore.schema import UtcDateTime
from shared.jsontext import read_json_text

Row = Mapping[str, Any]
UpsertShape = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # keys, increment, keep


def sorted_by_key(rows: Iterable[Row], keys: Sequence[str]) -> list[Row]:
    if not keys:
        return list(rows)
    # One key gives the value itself, several a tuple: the same order as a tuple of each.
    return sorted(rows, key=itemgetter(*keys))


def insert_rows(connection: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> None:
    if not rows:
        return
    columns = tuple(rows[0])
    if connection.dialect.name == "postgresql":
        connection.execute(
            _pg_insert(connection.dialect, table, columns), _pg_rows(table, columns, rows)
        )
        return
    sql = _sqlite_insert_sql(connection.dialect, table, columns)
    connection.exec_driver_sql(sql, _sqlite_rows(connection.dialect, table, columns, rows))


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
    ordered = sorted_by_key(rows, keys)
    columns = tuple(ordered[0])
    if connection.dialect.name == "postgresql":
        statement = _pg_insert_new(connection.dialect, table, columns, tuple(keys), returning.name)
        return set(connection.execute(statement, _pg_rows(table, columns, ordered)).scalars().all())
    inserting = sqlite_insert(table).on_conflict_do_nothing(index_elements=list(keys))
    return set(connection.execute(inserting.returning(returning), ordered).scalars().all())


def upsert(
    connection: sa.Connection,
    table: sa.Table,
    rows: Iterable[Row],
    *,
    keys: Sequence[str],
    increment: Sequence[str] = (),
    keep: Sequence[str] = (),
) -> None:
    """Insert or update rows; columns in ``increment`` are added to the stored value, columns in
    ``keep`` keep it, the others take the row's value."""
    ordered = sorted_by_key(rows, keys)
    if not ordered:
        return
    columns = tuple(ordered[0])
    shape = (tuple(keys), tuple(increment), tuple(keep))
    if connection.dialect.name == "postgresql":
        statement = _pg_upsert(connection.dialect, table, columns, shape)
        connection.execute(statement, _pg_rows(table, columns, ordered))
        return
    sql = _sqlite_upsert_sql(connection.dialect, table, columns, shape)
    connection.exec_driver_sql(sql, _sqlite_rows(connection.dialect, table, columns, ordered))


def update_rows(
    connection: sa.Connection, table: sa.Table, rows: Iterable[Row], *, key: str
) -> None:
    """Set each stored row's columns to the values of ``rows`` (by ``key``; a row gives only
    the columns it changes, and rows of one column set share a statement)."""
    shapes: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        shapes.setdefault(tuple(row), []).append(row)
    for columns, alike in shapes.items():
        assignments = {c: f":{c}" for c in columns if c != key}
        update_each(connection, table, alike, key=key, assignments=assignments)


def update_each(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[Row],
    *,
    key: str,
    assignments: Mapping[str, str],
    condition: str | None = None,
) -> None:
    """``UPDATE table SET column = expression, … WHERE key = :key AND condition``, once per row,
    in one statement: in the expressions and the condition, ``:name`` is the row's value of
    ``name``, typed as the table's column of that name, and a bare column name is its stored
    value. A key may come once only (one statement cannot change a PostgreSQL row twice)."""
    ordered = sorted_by_key(rows, [key])
    if not ordered:
        return
    if len({row[key] for row in ordered}) < len(ordered):
        raise ValueError(f"rows of one update_each share a {key}")
    shape = (key, tuple(assignments.items()), condition)
    if connection.dialect.name == "postgresql":
        connection.execute(
            _pg_lock_in_order(connection.dialect, table, key), _pg_rows(table, (key,), ordered)
        )
        statement, names = _pg_update_each(connection.dialect, table, shape)
        connection.execute(statement, _pg_rows(table, names, ordered))
        return
    sql, names = _sqlite_update_each_sql(connection.dialect, table, shape)
    connection.exec_driver_sql(sql, _sqlite_rows(connection.dialect, table, names, ordered))


UpdateShape = tuple[str, tuple[tuple[str, str], ...], str | None]  # key, assignments, condition
_PARAMETER = re.compile(r"(?<![\w:]):(\w+)")


def _update_each_parts(dialect: Any, shape: UpdateShape) -> tuple[str, str]:
    key, assignments, condition = shape
    quote = dialect.identifier_preparer.quote
    sets = ", ".join(f"{quote(column)} = {expression}" for column, expression in assignments)
    where = f"{quote(key)} = :{key}" + (f" AND ({condition})" if condition else "")
    return sets, where


@lru_cache(maxsize=512)
def _sqlite_update_each_sql(
    dialect: Any, table: sa.Table, shape: UpdateShape
) -> tuple[str, tuple[str, ...]]:
    """The statement with ``?`` for each ``:name``, and the names in the order they stand."""
    names: list[str] = []

    def bind(match: re.Match[str]) -> str:
        names.append(match[1])
        return "?"

    sets, where = _update_each_parts(dialect, shape)
    name = dialect.identifier_preparer.format_table(table)
    sql = f"UPDATE {name} SET {_PARAMETER.sub(bind, sets)} WHERE {_PARAMETER.sub(bind, where)}"
    return sql, tuple(names)


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same types, inside lists and dicts too: ``1 == True == 1.0`` in Python,
    but a column (or JSON value) that changes from one to another is still changed."""
    if a is b:
        return True  # what a fold did not replace, inside a new dict or list too
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same_value, a, b))
    return bool(a == b)


def stored_rows(
    connection: sa.Connection,
    table: sa.Table,
    key: str,
    values: Sequence[Any],
    *,
    columns: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The rows of ``table`` whose ``key`` is one of ``values`` (as dicts of ``columns``, all
    by default): what a fold reads before it rewrites them."""
    if not values:
        return []
    names = tuple(columns) if columns is not None else _column_names(table)
    if connection.dialect.name != "sqlite":
        query = sa.select(*(table.c[c] for c in names)).where(table.c[key].in_(values))
        return [dict(row) for row in connection.execute(query).mappings()]
    sql = f"{_sqlite_select_sql(connection.dialect, table, names)} WHERE {_quote(connection, key)}"
    sql += f" IN ({', '.join('?' * len(values))})"
    fetched = connection.exec_driver_sql(sql, tuple(values)).fetchall()
    return _sqlite_decoded(connection.dialect, table, names, fetched)


def sqlite_table_rows(
    connection: sa.Connection, table: sa.Table, *, where: Mapping[str, Any], chunk: int = 1000
) -> Iterator[dict[str, Any]]:
    """The rows of a SQLite ``table`` whose columns equal ``where``'s values, in primary-key
    order (all columns, as dicts, read as SQLAlchemy reads them), ``chunk`` rows at a time."""
    names = _column_names(table)
    sql = _sqlite_select_sql(connection.dialect, table, names)
    if where:
        sql += " WHERE " + " AND ".join(f"{_quote(connection, c)} = ?" for c in where)
    keys = list(table.primary_key.columns) or list(table.columns)
    sql += " ORDER BY " + ", ".join(_quote(connection, c.name) for c in keys)
    cursor = connection.exec_driver_sql(sql, tuple(where.values()))
    while fetched := cursor.fetchmany(chunk):
        yield from _sqlite_decoded(connection.dialect, table, names, fetched)


def _column_names(table: sa.Table) -> tuple[str, ...]:
    return tuple(column.name for column in table.columns)


def _sqlite_decoded(
    dialect: Any, table: sa.Table, names: tuple[str, ...], fetched: Iterable[Sequence[Any]]
) -> list[dict[str, Any]]:
    transposed = list(zip(*fetched, strict=True))
    if not transposed:
        return []
    processors = _result_processors(dialect, table, names)
    columns = [
        list(map(processor, column)) if processor else column
        for processor, column in zip(processors, transposed, strict=True)
    ]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _quote(connection: sa.Connection, name: str) -> str:
    return str(connection.dialect.identifier_preparer.quote(name))


# --- SQLite: one statement text per table and row shape, run by sqlite3's executemany ---------
# Each value goes through the bind processor SQLAlchemy itself would apply to its column (JSON
# text, dates as text, booleans as 0/1, UtcDateTime's refusal of naive values), so the stored
# values are the same; only the per-row, per-parameter bookkeeping of SQLAlchemy is skipped.

Processor = Callable[[Any], Any] | None


def _sqlite_rows(
    dialect: Any, table: sa.Table, columns: tuple[str, ...], rows: Sequence[Row]
) -> list[tuple[Any, ...]]:
    values = [
        list(map(processor, map(itemgetter(c), rows)))
        if processor
        else list(map(itemgetter(c), rows))
        for c, processor in zip(columns, _bind_processors(dialect, table, columns), strict=True)
    ]
    return list(zip(*values, strict=True))


@lru_cache(maxsize=512)
def _bind_processors(
    dialect: Any, table: sa.Table, columns: tuple[str, ...]
) -> tuple[Processor, ...]:
    return tuple(_bind_processor(dialect, table.c[c].type) for c in columns)


def _bind_processor(dialect: Any, column_type: Any) -> Processor:
    processor: Processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(column_type, UtcDateTime) and _same_value(
        processor, _sqlite_utc_text, list(_SAMPLE_MOMENTS)
    ):
        return _sqlite_utc_text
    if isinstance(column_type, sa.JSON) and processor is not None:
        fast = _json_texts(processor)
        return fast if _same_value(processor, fast, _SAMPLE_JSON_VALUES) else processor
    if type(column_type) is sa.Date and processor is not None:
        fast = _date_texts(processor)
        return fast if _same_value(processor, fast, _SAMPLE_DATES) else processor
    return processor


def _date_texts(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A Date column's writer: dates as ``date.isoformat`` writes them (checked once against
    the column's own writer, by ``_same_value``), the rest (datetimes too) by that writer."""
    isoformat = date.isoformat

    def text(value: Any) -> Any:
        if type(value) is date:
            return isoformat(value)
        return processor(value)

    return text


def _json_texts(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON column's writer: lists and dicts encoded as ``json.dumps`` does (checked once
    against the column's own writer, by ``_same_value``), the rest by that writer."""
    encode = json.JSONEncoder().encode

    def text(value: Any) -> Any:
        if type(value) is list or type(value) is dict:
            return encode(value)
        return processor(value)

    return text


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """The text UtcDateTime and SQLite's DATETIME processor store (checked against them once,
    by ``_same_value``), with fewer steps."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored")
    if value.utcoffset() != _NO_OFFSET:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:_NAIVE_TEXT_LENGTH]  # without "+00:00"


@lru_cache(maxsize=512)
def _sqlite_select_sql(dialect: Any, table: sa.Table, names: tuple[str, ...]) -> str:
    quote = dialect.identifier_preparer.quote
    return (
        f"SELECT {', '.join(quote(c) for c in names)} "
        f"FROM {dialect.identifier_preparer.format_table(table)}"
    )


@lru_cache(maxsize=512)
def _result_processors(
    dialect: Any, table: sa.Table, names: tuple[str, ...]
) -> tuple[Processor, ...]:
    return tuple(_result_processor(dialect, table.c[c].type) for c in names)


def _result_processor(dialect: Any, column_type: Any) -> Processor:
    processor: Processor = column_type.dialect_impl(dialect).result_processor(dialect, None)
    stored = [_sqlite_utc_text(moment) for moment in _SAMPLE_MOMENTS]
    if isinstance(column_type, UtcDateTime) and _same_value(processor, _sqlite_utc_moment, stored):
        return _sqlite_utc_moment
    if isinstance(column_type, sa.JSON) and processor is not None:
        fast = _json_values(processor)
        return fast if _same_value(processor, fast, _SAMPLE_JSON) else processor
    return processor


def _json_values(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON column's reader, orjson's for the texts it reads as the standard decoder does."""
    return partial(read_json_text, fallback=processor)


def _sqlite_utc_moment(text: str | None) -> datetime | None:
    """The aware datetime UtcDateTime reads back from SQLite's text (checked once against it)."""
    if text is None:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _same_value(processor: Processor, fast: Callable[[Any], Any], samples: list[Any]) -> bool:
    return processor is not None and all(processor(v) == fast(v) for v in samples)


_NO_OFFSET = timedelta(0)
_NAIVE_TEXT_LENGTH = len("2026-04-01 09:00:00.000000")
_JST = timezone(timedelta(hours=9))
_SAMPLE_JSON = ['{"k": [1, 2.5, true, null, "\\u00e9\u6e2f"]}', "[]", "null", None, "[2e400]", 3]
_SAMPLE_JSON_VALUES: list[Any] = [
    {"k": [1, 2.5, True, None, "\u00e9\u6e2f"]},
    [],
    {"a": {}},
    None,
    "x",
    3,
]
_SAMPLE_DATES: list[Any] = [date(2026, 4, 1), date(987, 1, 2), date(9999, 12, 31), None]
_SAMPLE_MOMENTS = (datetime(2026, 4, 1, 9, 5, 7, 123, tzinfo=_JST), datetime(987, 1, 2, tzinfo=UTC))


@lru_cache(maxsize=512)
def _sqlite_insert_sql(dialect: Any, table: sa.Table, columns: tuple[str, ...]) -> str:
    quote = dialect.identifier_preparer.quote
    return (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(c) for c in columns)}) VALUES ({', '.join('?' for _ in columns)})"
    )


@lru_cache(maxsize=512)
def _sqlite_upsert_sql(
    dialect: Any, table: sa.Table, columns: tuple[str, ...], shape: UpsertShape
) -> str:
    conflict = _on_conflict(dialect, table, columns, shape)
    return _sqlite_insert_sql(dialect, table, columns) + conflict


# --- PostgreSQL: a batch is one JSON text of row arrays, expanded by jsonb_array_elements -------
# The statement's text depends only on the table and the shape of the rows, so it is built once
# and PostgreSQL's driver parses it once; the rows cost one string to send.


def _pg_rows(table: sa.Table, columns: tuple[str, ...], rows: Sequence[Row]) -> dict[str, str]:
    json_kinds = _json_kinds(table, columns)
    pairs = list(zip(columns, json_kinds, strict=True))
    values = [[_json_text(row[c], kind) if kind else row[c] for c, kind in pairs] for row in rows]
    return {"rows": json.dumps(values, ensure_ascii=False, default=_json_scalar)}


@lru_cache(maxsize=512)
def _json_kinds(table: sa.Table, columns: tuple[str, ...]) -> tuple[str | None, ...]:
    """Per column: None, or how a JSON column stores Python's None ("sql-null" or "json-null")."""
    kinds: list[str | None] = []
    for name in columns:
        column_type = table.c[name].type
        if not isinstance(column_type, sa.JSON):
            kinds.append(None)
        else:
            kinds.append("sql-null" if column_type.none_as_null else "json-null")
    return tuple(kinds)


def _json_text(value: Any, kind: str) -> str | None:
    # A JSON value travels as its own JSON text inside the row: PostgreSQL then never has to
    # unescape it (it cannot unescape \u0000 into text) and stores the text as it is.
    if value is None and kind == "sql-null":
        return None
    return json.dumps(value, ensure_ascii=False)


def _json_scalar(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} {value!r}")


@lru_cache(maxsize=512)
def _pg_insert(dialect: Any, table: sa.Table, columns: tuple[str, ...]) -> Any:
    return sa.text(_pg_insert_sql(dialect, table, columns))


def _pg_insert_sql(dialect: Any, table: sa.Table, columns: tuple[str, ...]) -> str:
    quote = dialect.identifier_preparer.quote
    selected = ", ".join(_pg_column(dialect, table.c[c], i) for i, c in enumerate(columns))
    return (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(c) for c in columns)}) "
        f"SELECT {selected} FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r"
    )


def _pg_column(dialect: Any, column: sa.Column[Any], index: int) -> str:
    if isinstance(column.type, sa.String) and not isinstance(column.type, sa.Enum):
        # Text as it is: the column's own length check then refuses a value too long, where
        # an explicit CAST to VARCHAR(n) would cut it short without a word.
        return f"r->>{index}"
    return f"CAST(r->>{index} AS {column.type.compile(dialect=dialect)})"


@lru_cache(maxsize=512)
def _pg_upsert(dialect: Any, table: sa.Table, columns: tuple[str, ...], shape: UpsertShape) -> Any:
    conflict = _on_conflict(dialect, table, columns, shape)
    return sa.text(_pg_insert_sql(dialect, table, columns) + conflict)


def _on_conflict(
    dialect: Any, table: sa.Table, columns: tuple[str, ...], shape: UpsertShape
) -> str:
    """The ON CONFLICT clause of an upsert, in the syntax PostgreSQL and SQLite share."""
    keys, increment, keep = shape
    quote = dialect.identifier_preparer.quote
    name = dialect.identifier_preparer.format_table(table)
    updates = [
        f"{quote(c)} = {name}.{quote(c)} + EXCLUDED.{quote(c)}"
        if c in increment
        else f"{quote(c)} = EXCLUDED.{quote(c)}"
        for c in columns
        if c not in keys and c not in keep
    ]
    conflict = f" ON CONFLICT ({', '.join(quote(k) for k in keys)}) "
    return conflict + (f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING")


@lru_cache(maxsize=512)
def _pg_insert_new(
    dialect: Any, table: sa.Table, columns: tuple[str, ...], keys: tuple[str, ...], returning: str
) -> Any:
    quote = dialect.identifier_preparer.quote
    return sa.text(
        _pg_insert_sql(dialect, table, columns)
        + f" ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO NOTHING"
        + f" RETURNING {quote(returning)}"
    )


@lru_cache(maxsize=512)
def _pg_update_each(
    dialect: Any, table: sa.Table, shape: UpdateShape
) -> tuple[Any, tuple[str, ...]]:
    """The statement with each ``:name`` read from the batch's row arrays, and the names in
    the order of the arrays."""
    sets, where = _update_each_parts(dialect, shape)
    names = tuple(dict.fromkeys(_PARAMETER.findall(f"{sets} {where}")))

    def value(match: re.Match[str]) -> str:
        return _pg_column(dialect, table.c[match[1]], names.index(match[1]))

    name = dialect.identifier_preparer.format_table(table)
    sql = (
        f"UPDATE {name} SET {_PARAMETER.sub(value, sets)}"
        " FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r"
        f" WHERE {_PARAMETER.sub(value, where)}"
    )
    return sa.text(sql), names


@lru_cache(maxsize=512)
def _pg_lock_in_order(dialect: Any, table: sa.Table, key: str) -> Any:
    """Locks the rows of the batch's keys in key order. The UPDATE … FROM join that follows
    visits rows in whatever order its plan gives (a hash join: the table's), so two instances
    updating the same rows could otherwise each hold one the other waits for."""
    quote = dialect.identifier_preparer.quote(key)
    name = dialect.identifier_preparer.format_table(table)
    column = _pg_column(dialect, table.c[key], 0)
    keys = f"SELECT {column} FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r"
    return sa.text(f"SELECT 1 FROM {name} WHERE {quote} IN ({keys}) ORDER BY {quote} FOR UPDATE")


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
