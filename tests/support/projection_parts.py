"""The tables each part of a composite projection reads or writes, taken from the SQL it runs.

A composite gives each part its own events of a batch at once, so events of different parts
apply in another order than they were recorded. That is sound only while no part reads or
writes a table of another; these helpers check it on real statements, and give the rows a
projection leaves after a history cut into batches one way or another.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import combinations
from typing import Any

import sqlalchemy as sa

from shared.db import Database
from shared.events import EventEnvelope
from shared.projections.composite import CompositeProjection
from shared.projections.inbox import inbox_metadata
from shared.projections.runner import DispatchingProjection, Projection, ProjectionRunner

WORD = re.compile(r"\w+")


def tables_by_part(
    connection: sa.Connection, composite: CompositeProjection, events: Sequence[EventEnvelope]
) -> dict[str, set[str]]:
    """Applies ``events`` part by part and returns the tables named by each part's SQL: any
    table of the database (the inbox and the event store's too), by its bare name."""
    names = set(sa.inspect(connection).get_table_names())
    names |= {table.name for table in composite.metadata.tables.values()}
    touched: dict[str, set[str]] = {}
    current: set[str] = set()

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        current.update(word for word in WORD.findall(statement) if word in names)

    sa.event.listen(connection, "before_cursor_execute", record)
    try:
        for part in composite.projections:
            current = touched.setdefault(part.name, set())
            relevant = [e for e in events if part.handles(e.event_type)]
            if relevant:
                part.apply(connection, relevant)
    finally:
        sa.event.remove(connection, "before_cursor_execute", record)
    return touched


def shared_tables(touched: dict[str, set[str]]) -> dict[tuple[str, str], set[str]]:
    """Each pair of parts that touched a common table, with those tables."""
    return {
        (a, b): touched[a] & touched[b]
        for a, b in combinations(sorted(touched), 2)
        if touched[a] & touched[b]
    }


def handled_event_types(composite: CompositeProjection) -> set[str]:
    """Every event type a part of ``composite`` has a handler for."""
    types: set[str] = set()
    for part in composite.projections:
        assert isinstance(part, DispatchingProjection), part.name
        types |= part.event_types
    return types


async def tables_after(
    database: Database, projection: Projection, batches: Sequence[Sequence[EventEnvelope]]
) -> dict[str, list[dict[str, Any]]]:
    """The rows of every table of ``projection`` after the runner applies ``batches``, one
    transaction each, to emptied tables."""
    await database.write(lambda connection: _emptied(connection, projection.metadata))
    runner = ProjectionRunner(database, projection)
    for batch in batches:
        await runner.apply(batch)
    return await database.read(lambda connection: table_rows(connection, projection.metadata))


def _emptied(connection: sa.Connection, metadata: sa.MetaData) -> None:
    for table in (*metadata.sorted_tables, *inbox_metadata.sorted_tables):
        connection.execute(sa.delete(table))


def table_rows(connection: sa.Connection, metadata: sa.MetaData) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, by key."""
    return {
        table.name: [
            dict(row)
            for row in connection.execute(
                sa.select(table).order_by(*table.primary_key.columns)
            ).mappings()
        ]
        for table in metadata.sorted_tables
    }
