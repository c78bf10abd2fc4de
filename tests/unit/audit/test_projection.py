"""The audit worker as a projection: leaves, inbox rows and checkpoints in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.audit import merkle
from shared.audit.canonical import canonical_json
from shared.audit.checkpoint import open_checkpoint, origin_for_ward
from shared.audit.errors import CheckpointError
from shared.audit.log import AuditLog
from shared.audit.note import Signer
from shared.audit.projection import AuditProjection
from shared.audit.sql import SqlLogStore, checkpoints, leaves
from shared.db import Database
from shared.events import EventActor, EventEnvelope
from shared.projections.runner import ProjectionRunner

START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def event(number: int, ward: str = "nerima", service: str = "test") -> EventEnvelope:
    moment = START + timedelta(minutes=number)
    return EventEnvelope(
        event_id=uuid.UUID(int=number + 1),
        event_type=f"{service}.Happened",
        ward=ward,
        stream_id=f"s-{number % 3}",
        version=number // 3 + 1,
        position=number + 1,
        schema_version=1,
        occurred_at=moment,
        recorded_at=moment,
        actor=EventActor(subject="staff-1", role="staff"),
        correlation_id="c",
        data={"n": number, "text": "協働", "personal": {"name": "山田"}},
    )


@pytest.fixture
async def runner(tmp_path: Path, signer: Signer) -> AsyncIterator[ProjectionRunner]:
    database = Database(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    runner = ProjectionRunner(database, AuditProjection([signer], "kyodo.example/audit"))
    await runner.create_tables()
    yield runner
    database.dispose()


def stored_leaves(runner: ProjectionRunner, ward: str) -> list[bytes]:
    with runner.database.engine.connect() as connection:
        query = sa.select(leaves.c.leaf).where(leaves.c.ward == ward).order_by(leaves.c.leaf_index)
        return [bytes(leaf) for leaf in connection.scalars(query)]


def checkpoint_count(runner: ProjectionRunner, ward: str) -> int:
    with runner.database.engine.connect() as connection:
        query = sa.select(sa.func.count()).where(checkpoints.c.ward == ward)
        return int(connection.execute(query).scalar_one())


async def test_each_event_becomes_a_leaf_of_its_wards_log(
    runner: ProjectionRunner, signer: Signer
) -> None:
    batch = [event(0), event(1, "ota"), event(2), event(3, "ota", "registry")]
    assert await runner.apply(batch) == 4
    nerima = stored_leaves(runner, "nerima")
    assert nerima == [canonical_json(e.to_document()) for e in (batch[0], batch[2])]
    assert EventEnvelope.model_validate_json(nerima[1]) == batch[2]
    with runner.database.engine.connect() as connection:
        latest = SqlLogStore(connection, "ota").latest_checkpoint()
    assert latest is not None
    signed = open_checkpoint(latest.note, [signer.verifier()], origin=origin_for_ward("ota"))
    ota_hashes = [merkle.leaf_hash(leaf) for leaf in stored_leaves(runner, "ota")]
    assert signed.checkpoint.tree_size == 2
    assert signed.checkpoint.root == merkle.root_of(ota_hashes)


async def test_an_event_delivered_again_is_not_logged_again(runner: ProjectionRunner) -> None:
    await runner.apply([event(0), event(1)])
    assert await runner.apply([event(1), event(0), event(2)]) == 1
    assert await runner.apply([event(2)]) == 0
    assert len(stored_leaves(runner, "nerima")) == 3
    assert checkpoint_count(runner, "nerima") == 2


async def test_one_checkpoint_per_batch_each_consistent_with_the_last(
    runner: ProjectionRunner,
) -> None:
    for start in range(0, 30, 7):
        await runner.apply([event(n) for n in range(start, min(start + 7, 30))])
    with runner.database.engine.connect() as connection:
        store = SqlLogStore(connection, "nerima")
        heads = store.checkpoints()
        log = AuditLog(store)
        assert [head.tree_size for head in heads] == [7, 14, 21, 28, 30]
        for older, newer in pairwise(heads):
            proof = log.consistency_proof(older.tree_size, newer.tree_size)
            merkle.verify_consistency(
                older.tree_size, newer.tree_size, proof, older.root, newer.root
            )


async def test_a_batch_that_fails_leaves_nothing(runner: ProjectionRunner) -> None:
    await runner.apply([event(0)])
    bad_ward = event(1, ward="not a ward")
    with pytest.raises(Exception, match="cannot be part of a log origin"):
        await runner.apply([event(2), bad_ward])
    assert len(stored_leaves(runner, "nerima")) == 1
    assert checkpoint_count(runner, "nerima") == 1
    assert await runner.apply([event(2)]) == 1


@pytest.mark.postgres
async def test_the_audit_projection_on_postgresql(
    postgres_schema: tuple[str, str], signer: Signer
) -> None:
    url, schema = postgres_schema
    database = Database(url, schema=schema)
    runner = ProjectionRunner(database, AuditProjection([signer], "kyodo.example/audit"))
    try:
        await runner.create_tables()
        await runner.apply([event(n) for n in range(20)] + [event(50, "ota")])
        assert await runner.apply([event(n) for n in range(15, 40)]) == 20
        nerima = stored_leaves(runner, "nerima")
        assert [EventEnvelope.model_validate_json(leaf).position for leaf in nerima] == list(
            range(1, 41)
        )
        assert checkpoint_count(runner, "nerima") == 2
        assert checkpoint_count(runner, "ota") == 1
    finally:
        database.dispose()


async def test_the_worker_signs_on_only_over_checkpoints_it_trusts(
    tmp_path: Path, signer: Signer
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    first = ProjectionRunner(database, AuditProjection([signer], "kyodo.example/audit"))
    await first.create_tables()
    await first.apply([event(0), event(1)])
    successor = Signer.generate("kyodo.example/audit")
    untrusting = ProjectionRunner(database, AuditProjection([successor], "kyodo.example/audit"))
    with pytest.raises(CheckpointError, match="does not verify with a trusted key"):
        await untrusting.apply([event(2)])
    assert len(stored_leaves(first, "nerima")) == 2  # the refused batch left nothing
    trusted = [successor.verifier(), signer.verifier()]
    rotated = AuditProjection([successor], "kyodo.example/audit", trusted=trusted)
    assert await ProjectionRunner(database, rotated).apply([event(2)]) == 1
    assert checkpoint_count(first, "nerima") == 2

    with database.engine.begin() as connection:
        connection.execute(sa.delete(checkpoints).where(checkpoints.c.ward == "nerima"))
    with pytest.raises(CheckpointError, match="entries that no checkpoint covers"):
        await ProjectionRunner(database, rotated).apply([event(3)])
    assert len(stored_leaves(first, "nerima")) == 3
    database.dispose()
