"""Set-based projection writes behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.db import Database
from shared.eventstore.schema import UtcDateTime
from shared.projections.writes import insert_new, insert_rows, update_where, upsert

metadata = sa.MetaData()
things = sa.Table(
    "write_things",
    metadata,
    sa.Column("ward", sa.String(40), primary_key=True),
    sa.Column("thing_id", sa.String(40), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("seen_at", UtcDateTime, nullable=True),
)
AT = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def row(thing: str, count: int, tags: object, note: str | None = None) -> dict[str, object]:
    return {
        "ward": "nerima",
        "thing_id": thing,
        "count": count,
        "tags": tags,
        "note": note,
        "seen_at": AT,
    }


async def all_rows(database: Database) -> list[dict[str, object]]:
    query = sa.select(things).order_by(things.c.thing_id)
    return await database.read(lambda c: [dict(r) for r in c.execute(query).mappings()])


async def test_upsert_increments_and_replaces(database: Database) -> None:
    await database.create_all(metadata)
    first = [row("b", 1, ["環境", "福祉"]), row("a", 2, {"k": [1, 2]}, "メモ")]
    await database.write(
        lambda c: upsert(c, things, first, keys=["ward", "thing_id"], increment=["count"])
    )
    second = [row("a", 5, [], None), row("c", 1, [["nested"]])]
    await database.write(
        lambda c: upsert(c, things, second, keys=["ward", "thing_id"], increment=["count"])
    )
    rows = await all_rows(database)
    assert [(r["thing_id"], r["count"], r["tags"], r["note"]) for r in rows] == [
        ("a", 7, [], None),
        ("b", 1, ["環境", "福祉"], None),
        ("c", 1, [["nested"]], None),
    ]
    assert rows[0]["seen_at"] == AT


async def test_insert_new_reports_only_new_keys(database: Database) -> None:
    await database.create_all(metadata)
    await database.write(lambda c: insert_rows(c, things, [row("a", 1, [])]))
    new = await database.write(
        lambda c: insert_new(
            c,
            things,
            [row("a", 9, []), row("b", 1, [])],
            keys=["ward", "thing_id"],
            returning=things.c.thing_id,
        )
    )
    assert new == {"b"}
    assert [r["count"] for r in await all_rows(database)] == [1, 1]


async def test_update_where_changes_only_matching_rows(database: Database) -> None:
    await database.create_all(metadata)
    await database.write(lambda c: insert_rows(c, things, [row("a", 1, []), row("b", 1, [])]))
    changes = [{"ward": "nerima", "thing_id": "b", "count": 4, "note": "済"}]
    await database.write(lambda c: update_where(c, things, changes, keys=["ward", "thing_id"]))
    assert [(r["count"], r["note"]) for r in await all_rows(database)] == [(1, None), (4, "済")]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tags=st.lists(json_values, min_size=1, max_size=6))
async def test_any_json_survives_a_batch(database: Database, tags: list[object]) -> None:
    await database.create_all(metadata)
    await database.write(lambda c: c.execute(sa.delete(things)))
    rows = [row(f"t{i:02d}", i, value) for i, value in enumerate(tags)]
    await database.write(lambda c: upsert(c, things, rows, keys=["ward", "thing_id"]))
    assert [r["tags"] for r in await all_rows(database)] == tags
