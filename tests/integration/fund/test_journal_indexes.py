"""A grant's journal lines are found through the partial index of lines that name a grant."""

from __future__ import annotations

import sqlalchemy as sa

from services.fund.tables import journal_table, metadata
from shared.db import Database


def _plan(connection: sa.Connection) -> str:
    """The plan of the query by grant, with the grant as a parameter (as the service reads)."""
    query = sa.select(journal_table).where(journal_table.c.grant_id == sa.bindparam("grant_id"))
    compiled = query.compile(connection)
    parameters = compiled.construct_params({"grant_id": "g"})
    if connection.dialect.name == "sqlite":
        positional = tuple(parameters[name] for name in compiled.positiontup or ())
        found = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", positional)
        return " ".join(str(row[-1]) for row in found)
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table is no test
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    found = connection.exec_driver_sql(f"EXPLAIN {compiled}", parameters)
    return " ".join(str(row[0]) for row in found)


async def test_a_grants_journal_lines_are_read_through_its_index(database: Database) -> None:
    await database.create_all(metadata)
    assert "ix_fund_journal_grant" in await database.write(_plan)
