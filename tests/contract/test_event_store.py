"""The event store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from shared.db import Database
from shared.errors import ConcurrencyError, IdempotencyConflict
from shared.events import EventActor, NewEvent
from shared.eventstore import (
    NO_STREAM,
    AppendContext,
    AppendResult,
    BatchItem,
    EventStore,
    StreamAppend,
)
from shared.eventstore import store as store_module
from shared.eventstore.schema import events
from shared.eventstore.store import UnloggableEventData

STAFF = EventActor(subject="staff-1", role="staff")


def context(ward: str = "nerima", **options: object) -> AppendContext:
    return AppendContext(ward=ward, actor=STAFF, **options)  # type: ignore[arg-type]


def happened(n: int = 1) -> list[NewEvent]:
    return [NewEvent(event_type="test.ThingHappened", data={"n": i}) for i in range(n)]


@pytest.fixture
async def store(database: Database) -> EventStore:
    created = EventStore(database)
    await created.create_tables()
    return created


async def test_append_assigns_versions_and_positions(store: EventStore) -> None:
    first = await store.append("thing-1", NO_STREAM, happened(2), context())
    second = await store.append("thing-2", NO_STREAM, happened(1), context("ota"))
    assert [e.version for e in first.events] == [1, 2]
    positions = [e.position for e in first.events + second.events]
    assert positions == sorted(positions) and len(set(positions)) == 3
    stored = await store.read_stream("thing-1")
    assert [(e.version, e.data["n"], e.ward) for e in stored] == [
        (1, 0, "nerima"),
        (2, 1, "nerima"),
    ]
    assert stored[0].occurred_at.tzinfo is not None


async def test_stale_expected_version_raises_and_writes_nothing(store: EventStore) -> None:
    await store.append("thing-1", NO_STREAM, happened(1), context())
    before = await store.max_position()
    with pytest.raises(ConcurrencyError):
        await store.append_many(
            [
                StreamAppend("thing-2", NO_STREAM, happened(1)),
                StreamAppend("thing-1", 0, happened(1)),
            ],
            context(),
        )
    assert await store.max_position() == before
    assert await store.read_stream("thing-2") == []


async def test_concurrent_appends_to_one_stream_admit_exactly_one(store: EventStore) -> None:
    await store.append("thing-1", NO_STREAM, happened(1), context())
    results = await asyncio.gather(
        *(store.append("thing-1", 1, happened(1), context()) for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, ConcurrencyError) for r in results if isinstance(r, Exception))
    assert [e.version for e in await store.read_stream("thing-1")] == [1, 2]


async def test_idempotency_key_returns_first_result(store: EventStore) -> None:
    keyed = context(idempotency_key="k-1", fingerprint="body-a")
    first = await store.append("thing-1", None, happened(1), keyed)
    again = await store.append("thing-1", None, happened(1), keyed)
    assert again.replayed
    assert [e.event_id for e in again.events] == [e.event_id for e in first.events]
    assert len(await store.read_stream("thing-1")) == 1


async def test_idempotency_key_with_other_body_is_refused(store: EventStore) -> None:
    await store.append("thing-1", None, happened(1), context(idempotency_key="k", fingerprint="a"))
    with pytest.raises(IdempotencyConflict):
        await store.append(
            "thing-1", None, happened(1), context(idempotency_key="k", fingerprint="b")
        )
    assert len(await store.read_stream("thing-1")) == 1


async def test_idempotency_keys_are_scoped_by_ward(store: EventStore) -> None:
    await store.append(
        "a", None, happened(1), context("nerima", idempotency_key="k", fingerprint="x")
    )
    other = await store.append(
        "b", None, happened(1), context("ota", idempotency_key="k", fingerprint="y")
    )
    assert not other.replayed


async def test_read_all_by_position_and_ward(store: EventStore) -> None:
    for i in range(6):
        await store.append(f"s{i}", NO_STREAM, happened(1), context("nerima" if i % 2 else "ota"))
    everything = await store.read_all(limit=100)
    assert [e.position for e in everything] == sorted(e.position for e in everything)
    tail = await store.read_all(after=everything[2].position, limit=100)
    assert tail == everything[3:]
    assert {e.ward for e in await store.read_all(ward="ota")} == {"ota"}
    pages = [page async for page in store.iterate_all(batch=4)]
    assert [len(p) for p in pages] == [4, 2]


async def test_japanese_text_round_trips(store: EventStore) -> None:
    data = {"name": "練馬区 ねりま協働ラボ", "personal": {"name": "山田 花子"}}
    await store.append("x", NO_STREAM, [NewEvent(event_type="test.Named", data=data)], context())
    (stored,) = await store.read_stream("x")
    assert stored.data == data


async def test_execute_returns_the_first_result_for_a_retried_command(store: EventStore) -> None:
    from shared.errors import Conflict
    from shared.handling import Aggregate, execute

    counter = Aggregate(initial=lambda: 0, evolve=lambda n, _e: n + 1)

    def once(state: int) -> list[NewEvent]:
        if state:
            raise Conflict("already done")
        return happened(1)

    keyed = context(idempotency_key="once", fingerprint="f")
    first = await execute(store, counter, "once-1", once, keyed)
    again = await execute(store, counter, "once-1", once, keyed)
    assert again.replayed and again.events == first.events
    with pytest.raises(Conflict):
        await execute(store, counter, "once-1", once, context())


# --- group commit ---------------------------------------------------------------------------


def keyed(key: str, fingerprint: str = "f", ward: str = "nerima") -> AppendContext:
    return context(ward, idempotency_key=key, fingerprint=fingerprint)


async def test_a_batch_appends_independent_items_in_one_go(store: EventStore) -> None:
    await store.append("counter", NO_STREAM, happened(1), context())
    items = [
        BatchItem(
            [StreamAppend("a", NO_STREAM, happened(1)), StreamAppend("counter", 1, happened(1))],
            keyed("k1"),
        ),
        BatchItem(
            [StreamAppend("b", NO_STREAM, happened(2)), StreamAppend("counter", 2, happened(1))],
            keyed("k2"),
        ),
        BatchItem(
            [StreamAppend("c", NO_STREAM, happened(1)), StreamAppend("counter", 2, happened(1))],
            keyed("k3"),
        ),
        BatchItem([StreamAppend("d", NO_STREAM, happened(1))], context("ota")),
    ]
    outcomes = await store.append_batch(items)
    first, second, stale, other_ward = outcomes
    assert isinstance(first, AppendResult) and isinstance(second, AppendResult)
    assert [(e.stream_id, e.version) for e in first.events] == [("a", 1), ("counter", 2)]
    assert [(e.stream_id, e.version) for e in second.events] == [("b", 1), ("b", 2), ("counter", 3)]
    assert isinstance(stale, ConcurrencyError)  # the item before it took version 3
    assert isinstance(other_ward, AppendResult) and other_ward.events[0].ward == "ota"
    assert await store.read_stream("c") == []
    positions = [e.position for o in (first, second, other_ward) for e in o.events]  # type: ignore[union-attr]
    assert positions == sorted(positions) and len(set(positions)) == 6
    # each item remembers its own key: a retry alone gets that item's result only
    again = await store.append_many([StreamAppend("b", NO_STREAM, happened(2))], keyed("k2"))
    assert again.replayed and [e.event_id for e in again.events] == [
        e.event_id for e in second.events
    ]


async def test_a_batch_answers_known_and_repeated_keys(store: EventStore) -> None:
    earlier = await store.append("x", NO_STREAM, happened(1), keyed("known"))
    outcomes = await store.append_batch(
        [
            BatchItem([StreamAppend("y", NO_STREAM, happened(1))], keyed("known")),
            BatchItem([StreamAppend("y", NO_STREAM, happened(1))], keyed("known", "other")),
            BatchItem([StreamAppend("z", NO_STREAM, happened(1))], keyed("twice")),
            BatchItem([StreamAppend("z", NO_STREAM, happened(1))], keyed("twice")),
            BatchItem([StreamAppend("w", NO_STREAM, happened(1))], keyed("twice", "other")),
        ]
    )
    replayed, reused, first, repeated, clash = outcomes
    assert isinstance(replayed, AppendResult) and replayed.replayed
    assert [e.event_id for e in replayed.events] == [e.event_id for e in earlier.events]
    assert isinstance(reused, IdempotencyConflict) and isinstance(clash, IdempotencyConflict)
    assert isinstance(first, AppendResult) and not first.replayed
    assert isinstance(repeated, AppendResult) and repeated.replayed
    assert repeated.events == first.events
    assert await store.read_stream("y") == [] and len(await store.read_stream("z")) == 1
    assert await store.read_stream("w") == []


async def test_concurrent_batches_keep_a_counter_gapless(store: EventStore) -> None:
    async def take_numbers(tag: str) -> int:
        taken = 0
        for _ in range(10):
            version = len(await store.read_stream("counter"))
            items = [
                BatchItem([StreamAppend("counter", version + i, happened(1))], context())
                for i in range(3)
            ]
            outcomes = await store.append_batch(items)
            taken += sum(isinstance(o, AppendResult) for o in outcomes)
        return taken

    taken = await asyncio.gather(*(take_numbers(t) for t in "abc"))
    versions = [e.version for e in await store.read_stream("counter")]
    assert versions == list(range(1, sum(taken) + 1))


def numbered(data: dict[str, Any], version: int) -> dict[str, Any]:
    return {**data, "number": version, "label": f"no-{version:04d}"}


async def test_stamped_appends_from_two_stores_take_every_number_once(
    store: EventStore, database: Database
) -> None:
    other = EventStore(Database(database.url, schema=database.schema))

    async def take_numbers(writer: EventStore) -> list[AppendResult | Exception]:
        outcomes: list[AppendResult | Exception] = []
        for _ in range(8):
            items = [
                BatchItem([StreamAppend("book", None, happened(1), numbered)], context())
                for _ in range(3)
            ]
            outcomes += await writer.append_batch(items)
        return outcomes

    try:
        taken = await asyncio.gather(take_numbers(store), take_numbers(other))
    finally:
        other.database.dispose()
    answered = [o for outcomes in taken for o in outcomes]
    assert all(isinstance(o, AppendResult) for o in answered)  # nobody guessed, nobody retries
    stored = await store.read_stream("book")
    assert [e.version for e in stored] == list(range(1, 49))
    assert all(
        e.data == {"n": 0, "number": e.version, "label": f"no-{e.version:04d}"} for e in stored
    )
    returned = sorted(e.data["number"] for o in answered for e in o.events)  # type: ignore[union-attr]
    assert returned == list(range(1, 49))


async def test_processes_creating_the_same_tables_at_once_all_succeed(database: Database) -> None:
    """An API and a workers process of one service start together on a fresh schema."""
    twins = [Database(str(database.engine.url), schema=database.schema) for _ in range(4)]
    try:
        await asyncio.gather(*(EventStore(twin).create_tables() for twin in twins))
    finally:
        for twin in twins:
            twin.dispose()
    store = EventStore(database)
    await store.append("s-1", 0, happened(), context())
    assert [e.version for e in await store.read_stream("s-1")] == [1]


@pytest.mark.postgres
async def test_a_group_commit_reads_keys_and_versions_by_index(
    postgres_schema: tuple[str, str],
) -> None:
    """What a group commit checks is found through the indexes: keys by their primary key,
    each stream's version at the end of its index entries. Never a scan of every key or of
    every event of a stream (a ward's receipt stream grows with every donation)."""
    url, schema = postgres_schema
    database = Database(url, schema=schema)
    store = EventStore(database)
    await store.create_tables()
    await store.append("counter", NO_STREAM, happened(50), context())
    lookups: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        reads = "FROM idempotency_keys" in statement or "max(events.version)" in statement
        if reads and not statement.lstrip().startswith(("INSERT", "WITH")):
            lookups.append((statement, parameters))

    sa.event.listen(database.engine, "before_cursor_execute", capture)
    try:
        items = [
            BatchItem(
                [
                    StreamAppend(f"s{i}", NO_STREAM, happened(1)),
                    StreamAppend("counter", 50 + i, happened(1)),
                ],
                keyed(f"k{i}"),
            )
            for i in range(3)
        ]
        await store.append_batch(items)
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", capture)
    assert any("FROM idempotency_keys" in statement for statement, _ in lookups)
    assert any("max(events.version)" in statement for statement, _ in lookups)
    with database.engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for statement, parameters in lookups:
            plan = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars().all()
            assert not any("Seq Scan" in line for line in plan), plan
            if "FROM idempotency_keys" in statement:
                assert any("Index Cond" in line and "scope" in line for line in plan), plan
            if "max(events.version)" in statement:
                assert any("Scan Backward" in line for line in plan), plan
    database.dispose()


@pytest.mark.postgres
async def test_a_group_commit_reads_versions_only_once_it_holds_the_append_lock(
    postgres_schema: tuple[str, str],
) -> None:
    """The lock and the read travel together, but the read sees what the lock holder before
    it committed: a group waiting for the lock then appends after it, not against old
    versions."""
    url, schema = postgres_schema
    database = Database(url, schema=schema)
    store = EventStore(database)
    await store.create_tables()
    with database.engine.begin() as holder:
        holder.execute(store_module.APPEND_LOCK)
        waiting = asyncio.ensure_future(
            store.append_batch([BatchItem([StreamAppend("ledger", 1, happened(1))], context())])
        )
        await asyncio.sleep(0.3)
        assert not waiting.done()
        holder.execute(
            sa.insert(events),
            [
                {
                    "event_id": str(uuid.uuid4()),
                    "event_type": "test.ThingHappened",
                    "ward": "nerima",
                    "stream_id": "ledger",
                    "version": 1,
                    "recorded_at": datetime.now(UTC),
                    "body": "{}",
                }
            ],
        )
    [outcome] = await waiting
    assert isinstance(outcome, AppendResult)
    assert [e.version for e in outcome.events] == [2]
    database.dispose()


@pytest.mark.postgres
async def test_stores_in_two_schemas_of_one_database_append_without_waiting_for_each_other(
    postgres_schema: tuple[str, str],
) -> None:
    url, schema = postgres_schema
    other_schema = f"{schema}_other"
    mine, other = Database(url, schema=schema), None
    with mine.engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{other_schema}"'))
    try:
        other = Database(url, schema=other_schema)
        stores = EventStore(mine), EventStore(other)
        for store in stores:
            await store.create_tables()
        with mine.engine.begin() as holder:
            holder.execute(store_module.APPEND_LOCK)  # the lock of the first schema's store
            elsewhere = await asyncio.wait_for(
                stores[1].append("s", NO_STREAM, happened(1), context()), timeout=10
            )
            blocked = asyncio.ensure_future(
                stores[0].append("s", NO_STREAM, happened(1), context())
            )
            await asyncio.sleep(0.3)
            assert not blocked.done()
        assert [e.version for e in elsewhere.events] == [1]
        assert [e.version for e in (await blocked).events] == [1]
    finally:
        if other is not None:
            other.dispose()
        with mine.engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{other_schema}" CASCADE'))
        mine.dispose()


async def test_data_with_escapes_and_any_script_comes_back_exactly(store: EventStore) -> None:
    tricky = {"text": 'quote " backslash \\ newline \n tab \t 寄附 😀 \u2028 end', "n": 10**15}
    written = await store.append_many(
        [StreamAppend("tricky", NO_STREAM, [NewEvent(event_type="test.Tricky", data=tricky)])],
        context(),
    )
    [read] = await store.read_stream("tricky")
    assert read.data == tricky
    assert read == written.events[0]
    [(_position, _ward, body)] = await store.read_raw(after=read.position - 1, limit=1)
    assert json.loads(body)["data"] == tricky


async def test_a_naive_clock_is_refused_and_nothing_is_written(database: Database) -> None:
    store = EventStore(database, clock=lambda: datetime(2026, 4, 1, 9, 0))
    await store.create_tables()
    item = BatchItem([StreamAppend("naive", NO_STREAM, happened(1))], keyed("naive-1"))
    with pytest.raises((ValueError, sa.exc.StatementError)):
        await store.append_batch([item])
    assert await EventStore(database).read_stream("naive") == []


@pytest.mark.parametrize("value", [2**53, -(2**60), float("nan"), float("inf"), "\ud800"])
async def test_data_the_audit_log_cannot_encode_is_refused(
    store: EventStore, value: object
) -> None:
    unloggable = [NewEvent(event_type="test.ThingHappened", data={"n": 1, "x": [value]})]
    with pytest.raises(ValueError, match="cannot be logged for audit"):
        await store.append("thing-1", NO_STREAM, unloggable, context())
    assert await store.read_stream("thing-1") == []
    assert await store.max_position() == 0


async def test_data_with_finite_floats_and_large_safe_integers_is_stored(
    store: EventStore,
) -> None:
    data = {"ratio": 0.25, "big": 2**53 - 1, "絵文字": "\U0001f600"}
    await store.append(
        "thing-1", NO_STREAM, [NewEvent(event_type="test.ThingHappened", data=data)], context()
    )
    assert (await store.read_stream("thing-1"))[0].data == data


async def test_a_batch_refuses_only_its_item_with_unloggable_data(store: EventStore) -> None:
    unloggable = [NewEvent(event_type="test.ThingHappened", data={"n": 2**60})]
    items = [
        BatchItem([StreamAppend("a", NO_STREAM, happened(1))], context()),
        BatchItem([StreamAppend("b", NO_STREAM, unloggable)], context()),
        BatchItem([StreamAppend("c", NO_STREAM, happened(2))], context()),
    ]
    first, refused, third = await store.append_batch(items)
    assert isinstance(refused, UnloggableEventData)
    assert isinstance(first, AppendResult) and isinstance(third, AppendResult)
    assert [len(o.events) for o in (first, third)] == [1, 2]
    assert await store.read_stream("b") == []
    assert [e.stream_id for e in await store.read_all()] == ["a", "c", "c"]
