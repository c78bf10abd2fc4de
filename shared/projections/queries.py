"""Reading read models: rows as dicts and counted pages, one thread hop per query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shared.db import Database

Row = dict[str, Any]


@dataclass(frozen=True)
class Page:
    items: list[Row]
    total: int


def rows_of(connection: sa.Connection, query: Any) -> list[Row]:
    return [dict(row) for row in connection.execute(query).mappings()]


async def fetch_rows(database: Database, query: Any) -> list[Row]:
    return await database.read(lambda connection: rows_of(connection, query))


async def fetch_page(
    database: Database,
    table: sa.Table,
    conditions: list[Any],
    order: tuple[Any, ...],
    limit: int,
    offset: int,
) -> Page:
    """One page of ``table`` and the count of all matching rows, read in one snapshot."""
    where = sa.and_(*conditions)
    items_query = sa.select(table).where(where).order_by(*order).limit(limit).offset(offset)
    count_query = sa.select(sa.func.count()).select_from(table).where(where)

    def read(connection: sa.Connection) -> Page:
        return Page(
            rows_of(connection, items_query), int(connection.execute(count_query).scalar_one())
        )

    return await database.read(read)
