"""The inbox reports only the event ids a projection has not applied, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from shared.db import Database
from shared.projections.inbox import inbox_metadata, record_new


async def test_record_new_returns_only_ids_not_seen_by_that_projection(database: Database) -> None:
    await database.create_all(inbox_metadata)
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    assert await database.write(lambda c: record_new(c, "a", [first, second])) == {first, second}
    assert await database.write(lambda c: record_new(c, "a", [third, first])) == {third}
    assert await database.write(lambda c: record_new(c, "a", [second])) == set()
    assert await database.write(lambda c: record_new(c, "b", [second])) == {second}
