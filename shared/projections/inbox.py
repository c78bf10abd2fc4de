"""Inbox: the event ids a projection has applied, written in the same transaction as the effect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

inbox_metadata = sa.MetaData()

inbox = sa.Table(
    "inbox",
    inbox_metadata,
    sa.Column("projection", sa.String(100), primary_key=True),
    sa.Column("event_id", sa.String(36), primary_key=True),
)

projection_positions = sa.Table(
    "projection_positions",
    inbox_metadata,
    sa.Column("projection", sa.String(100), primary_key=True),
    sa.Column("source", sa.String(40), primary_key=True),
    sa.Column("ward", sa.String(40), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

# The ids travel as one comma-joined text (event ids are UUIDs) rather than an array parameter,
# whose elements the driver would quote one by one; only the ids of repeats come back.
_RECORD_NEW_POSTGRES = sa.text(
    """
    WITH new AS (
        INSERT INTO inbox (projection, event_id)
        SELECT :projection, unnest(string_to_array(:ids, ','))
        ON CONFLICT DO NOTHING
        RETURNING event_id
    )
    SELECT count(*), CASE WHEN count(*) < :total THEN array_agg(event_id) END FROM new
    """
)


# On SQLite the ids travel as one JSON array text: the repeats are read first (the write lock
# is held from BEGIN IMMEDIATE, so none can appear before the insert), then the rest inserted.
# Each statement is one call into SQLite, run without the GIL, where a RETURNING clause or an
# executemany would come back to Python once per row.
_REPEATS_SQLITE = (
    "SELECT event_id FROM inbox WHERE projection = ? "
    "AND event_id IN (SELECT value FROM json_each(?))"
)
_INSERT_SQLITE = (
    "INSERT INTO inbox (projection, event_id) SELECT ?, value FROM json_each(?) "
    "WHERE true ON CONFLICT DO NOTHING"  # WHERE: else ON parses as a join's constraint
)


def record_new(connection: sa.Connection, projection: str, event_ids: Sequence[str]) -> set[str]:
    """Insert the inbox rows of ``event_ids`` (distinct); returns the ids not there before."""
    ordered = sorted(event_ids)  # one key order for every writer: no deadlock between them
    if connection.dialect.name != "postgresql":
        return _record_new_sqlite(connection, projection, ordered)
    parameters = {"projection": projection, "ids": ",".join(ordered), "total": len(ordered)}
    count, inserted = connection.execute(_RECORD_NEW_POSTGRES, parameters).one()
    return set(ordered) if count == len(ordered) else set(inserted or ())


def record_positions(
    connection: sa.Connection, projection: str, latest: Mapping[tuple[str, str], int]
) -> None:
    """Raise the stored position of each (source, ward) to the one given, never lower it."""
    keys = sorted(latest)
    if connection.dialect.name == "postgresql":
        parameters: Any = {
            "projection": projection,
            "sources": [source for source, _ward in keys],
            "wards": [ward for _source, ward in keys],
            "positions": [latest[key] for key in keys],
        }
    else:
        parameters = [
            {"projection": projection, "source": s, "ward": w, "position": latest[(s, w)]}
            for s, w in keys
        ]
    connection.execute(_record_positions(connection.dialect.name), parameters)


def _record_new_sqlite(connection: sa.Connection, projection: str, ordered: list[str]) -> set[str]:
    parameters = (projection, orjson.dumps(ordered).decode())
    repeats = connection.exec_driver_sql(_REPEATS_SQLITE, parameters).scalars().all()
    connection.exec_driver_sql(_INSERT_SQLITE, parameters)
    return set(ordered).difference(repeats)


# Statements are built once: building one costs more than running it on a small batch.
@lru_cache(maxsize=2)
def _record_positions(dialect: str) -> Any:
    table = projection_positions
    statement: Any
    if dialect == "postgresql":
        rows = sa.select(
            sa.bindparam("projection", type_=sa.String),
            sa.func.unnest(sa.bindparam("sources", type_=ARRAY(sa.String))),
            sa.func.unnest(sa.bindparam("wards", type_=ARRAY(sa.String))),
            sa.func.unnest(sa.bindparam("positions", type_=ARRAY(sa.BigInteger))),
        )
        statement = pg_insert(table).from_select(["projection", "source", "ward", "position"], rows)
        greatest: Any = sa.func.greatest
    else:
        statement = sqlite_insert(table)
        greatest = sa.func.max
    return statement.on_conflict_do_update(
        index_elements=["projection", "source", "ward"],
        set_={"position": greatest(table.c.position, statement.excluded.position)},
    )
