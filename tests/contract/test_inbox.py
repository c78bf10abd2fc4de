"""The inbox reports only the event ids a projection has not applied, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.db import Database
from shared.projections.inbox import inbox, inbox_metadata, record_new

IDS = [str(uuid.UUID(int=n)) for n in range(20)]


async def test_record_new_returns_only_ids_not_seen_by_that_projection(database: Database) -> None:
    await database.create_all(inbox_metadata)
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    assert await database.write(lambda c: record_new(c, "a", [first, second])) == {first, second}
    assert await database.write(lambda c: record_new(c, "a", [third, first])) == {third}
    assert await database.write(lambda c: record_new(c, "a", [second])) == set()
    assert await database.write(lambda c: record_new(c, "b", [second])) == {second}


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(
        st.lists(st.sampled_from(IDS), unique=True, max_size=12), min_size=1, max_size=4
    )
)
async def test_each_batch_reports_exactly_its_ids_not_recorded_before(
    database: Database, batches: list[list[str]]
) -> None:
    await database.create_all(inbox_metadata)
    await database.write(lambda c: c.execute(sa.delete(inbox)))
    recorded: set[str] = set()
    for batch in batches:
        fresh = await database.write(lambda c, batch=batch: record_new(c, "p", batch))
        assert fresh == set(batch) - recorded
        recorded |= set(batch)
    stored = await database.read(lambda c: set(c.execute(sa.select(inbox.c.event_id)).scalars()))
    assert stored == recorded
