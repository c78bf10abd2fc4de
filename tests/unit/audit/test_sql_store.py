"""The SQL log store against a SQLite file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from shared.audit import merkle
from shared.audit.log import AuditLog
from shared.audit.sql import STORED_FROM_LEVEL, SqlLogStore, create_audit_tables, subtrees
from shared.audit.store import InMemoryLogStore, LogEntry, StoredCheckpoint
from shared.db import create_sync_engine

from .conftest import WARD, Envelope, make_envelope

Build = Callable[[int, int], list[Envelope]]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    with engine.begin() as connection:
        create_audit_tables(connection)
    yield engine
    engine.dispose()


def append_in_transaction(engine: sa.Engine, envelopes: list[Envelope], ward: str = WARD) -> None:
    with engine.begin() as connection:
        AuditLog(SqlLogStore(connection, ward)).append(envelopes)


def test_sql_log_matches_the_in_memory_log(engine: sa.Engine, envelopes: Build) -> None:
    memory = AuditLog(InMemoryLogStore(WARD))
    for start in range(0, 45, 7):
        append_in_transaction(engine, envelopes(start, start + 7))
        memory.append(envelopes(start, start + 7))
    with engine.connect() as connection:
        log = AuditLog(SqlLogStore(connection, WARD))
        assert log.tree_size() == 49
        for size in (1, 8, 13, 32, 49):
            assert log.root(size) == memory.root(size)
            assert log.inclusion_proof(size - 1, size) == memory.inclusion_proof(size - 1, size)
            assert log.consistency_proof(1, size) == memory.consistency_proof(1, size)


def test_appends_are_idempotent_across_transactions(engine: sa.Engine, envelopes: Build) -> None:
    append_in_transaction(engine, envelopes(0, 10))
    with engine.begin() as connection:
        result = AuditLog(SqlLogStore(connection, WARD)).append(envelopes(5, 12))
    assert [entry.index for entry in result.appended] == [10, 11]
    assert len(result.skipped_event_ids) == 5


def test_the_database_refuses_a_second_leaf_for_an_event(engine: sa.Engine) -> None:
    append_in_transaction(engine, [make_envelope(0)])
    duplicate = LogEntry(1, make_envelope(0)["event_id"], b"{}", merkle.leaf_hash(b"{}"))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        SqlLogStore(connection, WARD).add_entries([duplicate], [])


def test_a_failed_transaction_leaves_no_trace(engine: sa.Engine, envelopes: Build) -> None:
    append_in_transaction(engine, envelopes(0, 4))

    def crash_before_commit() -> None:
        with engine.begin() as connection:
            AuditLog(SqlLogStore(connection, WARD)).append(envelopes(4, 8))
            raise RuntimeError("consumer crashed before commit")

    with pytest.raises(RuntimeError):
        crash_before_commit()
    with engine.connect() as connection:
        assert SqlLogStore(connection, WARD).tree_size() == 4


def test_wards_have_separate_trees(engine: sa.Engine) -> None:
    append_in_transaction(engine, [make_envelope(0), make_envelope(1)])
    append_in_transaction(engine, [make_envelope(5, ward="ota")], ward="ota")
    with engine.connect() as connection:
        assert SqlLogStore(connection, WARD).tree_size() == 2
        ota = SqlLogStore(connection, "ota")
        assert ota.tree_size() == 1
        assert ota.known_event_ids([make_envelope(0)["event_id"]]) == set()


def test_entries_stream_in_index_order(engine: sa.Engine, envelopes: Build) -> None:
    append_in_transaction(engine, envelopes(0, 2300))
    with engine.connect() as connection:
        store = SqlLogStore(connection, WARD)
        indexes = [entry.index for entry in store.entries(0, 2300)]
        assert indexes == list(range(2300))
        assert [entry.index for entry in store.entries(1999, 2002)] == [1999, 2000, 2001]
        found = store.entry_by_event_id(make_envelope(1234)["event_id"])
        assert found is not None
        assert found.index == 1234
        assert store.entry_by_event_id("no-such-event") is None


def test_checkpoints_are_kept_in_size_order(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        store = SqlLogStore(connection, WARD)
        assert store.latest_checkpoint() is None
        for size in (5, 1, 3):
            store.add_checkpoint(StoredCheckpoint(size, bytes(32), f"note {size}\n"))
    with engine.connect() as connection:
        store = SqlLogStore(connection, WARD)
        assert [checkpoint.tree_size for checkpoint in store.checkpoints()] == [1, 3, 5]
        latest = store.latest_checkpoint()
        assert latest is not None
        assert latest.note == "note 5\n"


def test_one_size_has_one_checkpoint(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        SqlLogStore(connection, WARD).add_checkpoint(StoredCheckpoint(1, bytes(32), "a\n"))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        SqlLogStore(connection, WARD).add_checkpoint(StoredCheckpoint(1, b"\x01" * 32, "b\n"))


async def test_async_callers_use_run_sync(tmp_path: Path, envelopes: Build) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'async.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(create_audit_tables)
        result = await connection.run_sync(
            lambda sync: AuditLog(SqlLogStore(sync, WARD)).append(envelopes(0, 5))
        )
    async with engine.connect() as connection:
        root = await connection.run_sync(lambda sync: AuditLog(SqlLogStore(sync, WARD)).root())
    await engine.dispose()
    assert result.tree_size == 5
    assert root == merkle.root_of([entry.leaf_hash for entry in result.appended])


def stored_levels(connection: sa.Connection) -> set[int]:
    return set(connection.scalars(sa.select(subtrees.c.level).distinct()))


def test_only_upper_subtrees_are_stored_and_proofs_still_match(
    engine: sa.Engine, envelopes: Build
) -> None:
    memory = AuditLog(InMemoryLogStore(WARD))
    for start in range(0, 300, 37):
        append_in_transaction(engine, envelopes(start, min(start + 37, 300)))
        memory.append(envelopes(start, min(start + 37, 300)))
    with engine.connect() as connection:
        assert stored_levels(connection) == set(range(STORED_FROM_LEVEL, 9))
        log = AuditLog(SqlLogStore(connection, WARD))
        for size in range(1, 301, 7):
            assert log.root(size) == memory.root(size)
            for index in (0, size // 2, size - 1):
                assert log.inclusion_proof(index, size) == memory.inclusion_proof(index, size)
            assert log.consistency_proof(size, 300) == memory.consistency_proof(size, 300)


@pytest.mark.postgres
def test_the_log_on_postgresql(postgres_schema: tuple[str, str], envelopes: Build) -> None:
    url, schema = postgres_schema
    engine = create_sync_engine(url, schema=schema)
    try:
        with engine.begin() as connection:
            create_audit_tables(connection)
        append_in_transaction(engine, envelopes(0, 70))
        append_in_transaction(engine, envelopes(60, 90))
        memory = AuditLog(InMemoryLogStore(WARD))
        memory.append(envelopes(0, 90))
        with engine.connect() as connection:
            log = AuditLog(SqlLogStore(connection, WARD))
            assert log.tree_size() == 90
            assert log.root() == memory.root()
            assert log.inclusion_proof(33, 90) == memory.inclusion_proof(33, 90)
            assert stored_levels(connection) == set(range(STORED_FROM_LEVEL, 7))
    finally:
        engine.dispose()
