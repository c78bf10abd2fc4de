"""Set-based projection writes behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from operator import itemgetter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.db import Database
from shared.eventstore.schema import UtcDateTime
from shared.projections.writes import (
    insert_new,
    insert_rows,
    same_value,
    sqlite_table_rows,
    stored_rows,
    update_each,
    update_rows,
    update_where,
    upsert,
)

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
JST = timezone(timedelta(hours=9))


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


kinds = sa.Table(
    "write_kinds",
    metadata,
    sa.Column("lot_id", sa.String(40), primary_key=True),
    sa.Column("received_on", sa.Date, nullable=False),
    sa.Column("published", sa.Boolean, nullable=False),
    sa.Column("yen", sa.BigInteger, nullable=False),
    sa.Column("label", sa.String(40), nullable=False),
    sa.Column("extra", sa.JSON(none_as_null=True), nullable=True),
)


async def test_upsert_keeps_adds_and_replaces_every_column_type(database: Database) -> None:
    await database.create_all(metadata)
    first = {
        "lot_id": "l1",
        "received_on": date(2026, 4, 1),
        "published": True,
        "yen": 10**12,
        "label": "最初",
        "extra": None,
    }
    again = {**first, "received_on": date(2027, 1, 1), "yen": 5, "label": "次", "extra": [1]}

    def write(row: dict[str, object]) -> Callable[[sa.Connection], None]:
        def apply(c: sa.Connection) -> None:
            upsert(c, kinds, [row], keys=["lot_id"], increment=["yen"], keep=["received_on"])

        return apply

    await database.write(write(first))
    stored = await database.read(lambda c: dict(c.execute(sa.select(kinds)).mappings().one()))
    assert stored == first
    extra_is_null = sa.select(sa.func.count()).where(kinds.c.extra.is_(None))
    assert await database.read(lambda c: c.execute(extra_is_null).scalar_one()) == 1
    await database.write(write(again))
    stored = await database.read(lambda c: dict(c.execute(sa.select(kinds)).mappings().one()))
    assert stored == {**again, "received_on": date(2026, 4, 1), "yen": 10**12 + 5}


async def test_a_naive_datetime_is_refused(database: Database) -> None:
    await database.create_all(metadata)
    naive = {**row("n", 1, []), "seen_at": datetime(2026, 4, 1, 9, 0)}
    with pytest.raises((ValueError, sa.exc.StatementError)):
        await database.write(lambda c: upsert(c, things, [naive], keys=["ward", "thing_id"]))
    assert await all_rows(database) == []


KIND = {"lot_id": "k", "received_on": date(2026, 4, 1), "published": False, "yen": 3, "label": "x"}


@pytest.mark.parametrize(
    ("table", "rows", "keys"),
    [
        (
            things,
            [
                {
                    **row("p", 1, {"k": "値"}, "メモ"),
                    "seen_at": datetime(2026, 4, 1, 18, tzinfo=JST),
                },
                row("q", 2, None),
            ],
            ["ward", "thing_id"],
        ),
        (
            kinds,
            [{**KIND, "extra": None}, {**KIND, "lot_id": "m", "published": True, "extra": [1]}],
            ["lot_id"],
        ),
    ],
)
async def test_batch_writes_store_what_a_plain_insert_stores(
    database: Database, table: sa.Table, rows: list[dict[str, object]], keys: list[str]
) -> None:
    await database.create_all(metadata)
    raw = sa.text(f"SELECT * FROM {table.name} ORDER BY {keys[-1]}")

    def stored(write: Callable[[sa.Connection], object]) -> Callable[[sa.Connection], list[Any]]:
        def apply(c: sa.Connection) -> list[Any]:
            c.execute(sa.delete(table))
            write(c)
            return [tuple(r) for r in c.execute(raw)]

        return apply

    plain = await database.write(stored(lambda c: c.execute(sa.insert(table), rows)))
    batched = await database.write(stored(lambda c: insert_rows(c, table, rows)))
    upserted = await database.write(stored(lambda c: upsert(c, table, rows, keys=keys)))
    assert batched == plain
    assert upserted == plain


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(days=st.lists(st.dates(), min_size=1, max_size=8), published=st.booleans())
async def test_any_date_is_stored_as_a_plain_insert_stores_it(
    database: Database, days: list[date], published: bool
) -> None:
    await database.create_all(metadata)
    rows = [
        {**KIND, "lot_id": f"d{i}", "received_on": day, "published": published}
        for i, day in enumerate(days)
    ]
    raw = sa.text("SELECT * FROM write_kinds ORDER BY lot_id")

    def stored(write: Callable[[sa.Connection], object]) -> Callable[[sa.Connection], list[Any]]:
        def apply(c: sa.Connection) -> list[Any]:
            c.execute(sa.delete(kinds))
            write(c)
            return [tuple(r) for r in c.execute(raw)]

        return apply

    plain = await database.write(stored(lambda c: c.execute(sa.insert(kinds), rows)))
    upserted = await database.write(stored(lambda c: upsert(c, kinds, rows, keys=["lot_id"])))
    assert upserted == plain


async def test_stored_rows_read_what_a_plain_select_reads(database: Database) -> None:
    await database.create_all(metadata)
    await database.write(lambda c: c.execute(sa.delete(things)))
    rows = [
        {**row("p", 1, {"k": "値"}, "メモ"), "seen_at": datetime(2026, 4, 1, 18, tzinfo=JST)},
        {**row("q", 2, None), "seen_at": None},
        row("r", 3, []),
    ]
    await database.write(lambda c: insert_rows(c, things, rows))
    wanted = ["p", "q", "missing"]
    plain = sa.select(things).where(things.c.thing_id.in_(wanted))
    expected = await database.read(lambda c: [dict(r) for r in c.execute(plain).mappings()])
    stored = await database.read(lambda c: stored_rows(c, things, "thing_id", wanted))
    key = itemgetter("thing_id")
    assert sorted(stored, key=key) == sorted(expected, key=key)
    assert len(stored) == 2
    assert await database.read(lambda c: stored_rows(c, things, "thing_id", [])) == []


async def test_sqlite_table_rows_read_a_plain_select_in_key_order(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'rows.db'}")
    try:
        await database.create_all(metadata)
        rows = [{**note(n, i, {"k": [i]}), "seen_at": AT} for i, n in enumerate("cadb")]
        rows[1] = {**rows[1], "ward": "ota", "seen_at": None}
        await database.write(lambda c: insert_rows(c, notes, rows))
        plain = sa.select(notes).where(notes.c.ward == "nerima").order_by(notes.c.note_id)
        expected = await database.read(lambda c: [dict(r) for r in c.execute(plain).mappings()])
        read = await database.read(
            lambda c: list(sqlite_table_rows(c, notes, where={"ward": "nerima"}, chunk=2))
        )
        assert read == expected
        assert [r["note_id"] for r in read] == ["b", "c", "d"]
        everything = await database.read(lambda c: list(sqlite_table_rows(c, notes, where={})))
        assert len(everything) == 4
    finally:
        database.dispose()


@pytest.mark.postgres
async def test_a_string_too_long_for_its_column_is_refused_not_cut(
    postgres_schema: tuple[str, str],
) -> None:
    url, schema = postgres_schema
    database = Database(url, schema=schema)
    try:
        await database.create_all(metadata)
        too_long = {**row("t1", 1, []), "ward": "w" * 41}
        with pytest.raises(sa.exc.DataError):
            await database.write(lambda c: upsert(c, things, [too_long], keys=["ward", "thing_id"]))
        assert await all_rows(database) == []
    finally:
        database.dispose()


notes = sa.Table(
    "write_notes",
    metadata,
    sa.Column("note_id", sa.String(40), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("listed", sa.Boolean, nullable=False),
    sa.Column("seen_at", UtcDateTime, nullable=True),
)


def note(note_id: str, count: int, tags: object) -> dict[str, object]:
    return {"note_id": note_id, "ward": "nerima", "count": count, "tags": tags, "listed": False}


def raw_notes(write: Callable[[sa.Connection], object]) -> Callable[[sa.Connection], Any]:
    """The notes as stored (driver values) after ``write`` on an empty table."""

    def apply(c: sa.Connection) -> list[Any]:
        c.execute(sa.delete(notes))
        write(c)
        return [tuple(r) for r in c.execute(sa.text("SELECT * FROM write_notes ORDER BY note_id"))]

    return apply


async def test_update_rows_stores_what_plain_updates_store(database: Database) -> None:
    await database.create_all(metadata)
    first = [{**note(n, i, [1, "x"]), "seen_at": AT} for i, n in enumerate("abcd")]
    changes: list[dict[str, Any]] = [
        {"note_id": "d", "listed": True, "seen_at": None},
        {"note_id": "a", "tags": [True, {"新": None}]},
        {
            "note_id": "b",
            "count": 5,
            "ward": "ota",
            "seen_at": datetime(2026, 4, 1, 18, tzinfo=JST),
        },
        {"note_id": "missing", "tags": []},
        {"note_id": "c", "tags": ["値"]},
    ]

    def plain(c: sa.Connection) -> None:
        insert_rows(c, notes, first)
        for change in changes:
            values = {k: v for k, v in change.items() if k != "note_id"}
            c.execute(sa.update(notes).where(notes.c.note_id == change["note_id"]).values(values))

    def batched(c: sa.Connection) -> None:
        insert_rows(c, notes, first)
        update_rows(c, notes, changes, key="note_id")

    assert await database.write(raw_notes(batched)) == await database.write(raw_notes(plain))
    by_ward = sa.select(notes.c.note_id).where(notes.c.ward == "ota")
    assert await database.read(lambda c: c.execute(by_ward).scalars().all()) == ["b"]


async def test_update_each_sets_expressions_of_stored_and_given_values(
    database: Database,
) -> None:
    await database.create_all(metadata)
    first = [{**note(n, i, []), "seen_at": AT} for i, n in enumerate("abc")]
    later = datetime(2026, 4, 2, 18, tzinfo=JST)
    rows = [
        {"note_id": "c", "count": 1, "ward": None, "seen_at": later},  # not newer: left alone
        {"note_id": "a", "count": 7, "ward": "ota", "seen_at": None},
        {"note_id": "b", "count": 9, "ward": None, "seen_at": later},
    ]
    assignments = {
        "ward": "COALESCE(:ward, ward)",
        "listed": "(COALESCE(:ward, ward) = 'ota' AND NOT listed)",
        "count": ":count + count",  # the stored count, as it was before this update
        "seen_at": "COALESCE(:seen_at, seen_at)",
    }

    def write(c: sa.Connection) -> list[dict[str, Any]]:
        c.execute(sa.delete(notes))
        insert_rows(c, notes, first)
        update_each(
            c, notes, rows, key="note_id", assignments=assignments, condition="count < :count"
        )
        return [dict(r) for r in c.execute(sa.select(notes).order_by(notes.c.note_id)).mappings()]

    stored = await database.write(write)
    assert [(r["ward"], r["listed"], r["count"], r["seen_at"]) for r in stored] == [
        ("ota", True, 7, AT),
        ("nerima", False, 10, later),
        ("nerima", False, 2, AT),
    ]


async def test_update_each_refuses_a_key_twice(database: Database) -> None:
    await database.create_all(metadata)
    twice = [{"note_id": "a", "count": 1}, {"note_id": "a", "count": 2}]
    with pytest.raises(ValueError, match="share a note_id"):
        await database.write(
            lambda c: update_each(c, notes, twice, key="note_id", assignments={"count": ":count"})
        )


async def test_stored_rows_read_chosen_columns_as_a_plain_select(database: Database) -> None:
    await database.create_all(metadata)
    rows = [{**note(n, i, {"k": [i]}), "seen_at": AT.astimezone(JST)} for i, n in enumerate("ab")]
    await database.write(raw_notes(lambda c: insert_rows(c, notes, rows)))
    columns = ["seen_at", "note_id", "tags"]
    plain = sa.select(*(notes.c[c] for c in columns)).order_by(notes.c.note_id)
    expected = await database.read(lambda c: [dict(r) for r in c.execute(plain).mappings()])
    read = await database.read(
        lambda c: stored_rows(c, notes, "note_id", ["b", "a"], columns=columns)
    )
    assert sorted(read, key=itemgetter("note_id")) == expected
    assert all(list(r) == columns for r in read)


def test_same_value_tells_apart_what_python_takes_as_equal() -> None:
    assert same_value({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})
    assert not same_value(1, True)
    assert not same_value([1], [1.0])
    assert not same_value({"a": 1}, {"a": 1, "b": 2})
    assert same_value(AT, AT.astimezone(JST))


any_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tags=st.lists(any_json, min_size=1, max_size=4))
async def test_stored_rows_read_json_values_of_every_type_as_a_plain_select(
    database: Database, tags: list[object]
) -> None:
    await database.create_all(metadata)
    await database.write(lambda c: c.execute(sa.delete(notes)))
    rows = [note(f"n{i}", i, value) for i, value in enumerate(tags)]
    await database.write(lambda c: c.execute(sa.insert(notes), rows))
    plain = sa.select(notes.c.tags).order_by(notes.c.note_id)
    expected = await database.read(lambda c: c.execute(plain).scalars().all())
    ids = [r["note_id"] for r in rows]
    stored = await database.read(lambda c: stored_rows(c, notes, "note_id", ids))
    read = [r["tags"] for r in sorted(stored, key=itemgetter("note_id"))]
    assert all(same_value(a, b) for a, b in zip(read, expected, strict=True))


@pytest.mark.postgres
async def test_update_each_locks_its_rows_in_key_order_on_postgresql(
    postgres_schema: tuple[str, str],
) -> None:
    """Two instances of a consumer group must not deadlock: an update locks its rows in key
    order whatever order the planner joins them in. Here the row of the last key is stored
    first and held elsewhere; the update waits for it holding the first key's row already."""
    url, schema = postgres_schema
    database = Database(url, schema=schema)
    await database.create_all(metadata)
    engine = database.engine
    with engine.begin() as c:
        insert_rows(c, notes, [note("z", 1, []), note("a", 1, [])])
    rows = [{"note_id": "a", "count": 5}, {"note_id": "z", "count": 6}]
    holder = engine.connect()
    holder.begin()
    holder.execute(sa.select(notes.c.note_id).where(notes.c.note_id == "z").with_for_update())
    updating: list[int] = []

    def update() -> None:
        with engine.begin() as c:
            c.exec_driver_sql("SET LOCAL enable_nestloop = off")  # a hash join: table order
            updating.append(int(c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()))
            update_each(c, notes, rows, key="note_id", assignments={"count": ":count"})

    try:
        worker = asyncio.get_running_loop().run_in_executor(None, update)
        await _until_waiting_for_a_lock(engine, updating)
        with engine.connect() as probe, pytest.raises(sa.exc.OperationalError, match="lock"):
            probe.execute(
                sa.select(notes.c.note_id)
                .where(notes.c.note_id == "a")
                .with_for_update(nowait=True)
            )
    finally:
        holder.rollback()
        holder.close()
    await worker
    assert [(r["note_id"], r["count"]) for r in await database.read(_notes_in_order)] == [
        ("a", 5),
        ("z", 6),
    ]
    database.dispose()


async def _until_waiting_for_a_lock(engine: sa.Engine, pids: list[int]) -> None:
    waiting = sa.text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
    for _ in range(500):
        if pids:
            with engine.connect() as c:
                if c.execute(waiting, {"pid": pids[0]}).scalar() == "Lock":
                    return
        await asyncio.sleep(0.01)
    raise AssertionError("the update never waited for the held row")


def _notes_in_order(c: sa.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in c.execute(sa.select(notes).order_by(notes.c.note_id)).mappings()]
