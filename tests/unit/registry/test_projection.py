"""The actor directory's read model: a history gives the same rows however it is batched."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.registry.events import (
    ACTOR_PROFILE_UPDATED,
    ACTOR_REGISTERED,
    ACTOR_SUSPENDED,
    ACTOR_VERIFIED,
)
from services.registry.projections import actors_table, projection
from shared.db import Database
from shared.events import EventActor, EventEnvelope
from shared.projections.runner import ProjectionRunner

ACTOR = "a1"
START = datetime(2026, 4, 1, tzinfo=UTC)
REGISTERED = {
    "actor_id": ACTOR,
    "kind": "npo_corporation",
    "individual": False,
    "corporate_number": None,
    "name": "ネリマ子育てネット",
    "name_kana": "ネリマコソダテネット",
    "fields": ["childcare"],
    "area": "石神井",
    "description": "子育て支援",
    "website": None,
    "personal": {"representative": {"name": "田中 一郎", "name_kana": "タナカ イチロウ"}},
}
HISTORY = [
    (ACTOR_REGISTERED, REGISTERED),
    (ACTOR_VERIFIED, {"actor_id": ACTOR}),
    (ACTOR_PROFILE_UPDATED, {"actor_id": ACTOR, "changes": {"name": "ヒカリ会", "area": "光が丘"}}),
    (ACTOR_SUSPENDED, {"actor_id": ACTOR}),
    (
        ACTOR_PROFILE_UPDATED,
        {"actor_id": ACTOR, "changes": {}, "personal": {"representative": {"name": "鈴木 花子"}}},
    ),
    (ACTOR_PROFILE_UPDATED, {"actor_id": ACTOR, "changes": {"fields": ["childcare", "safety"]}}),
]


def history() -> list[EventEnvelope]:
    return [
        EventEnvelope(
            event_id=uuid.uuid4(),
            event_type=event_type,
            schema_version=1,
            ward="nerima",
            stream_id=f"actor-{ACTOR}",
            version=number,
            position=number,
            occurred_at=START + timedelta(minutes=number),
            recorded_at=START + timedelta(minutes=number),
            actor=EventActor(subject="staff@nerima", role="staff"),
            correlation_id="c",
            policy_version=1,
            data=data,
        )
        for number, (event_type, data) in enumerate(HISTORY, start=1)
    ]


@pytest.fixture
async def databases(tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    pair = (Database(f"sqlite:///{tmp_path / 'a.db'}"), Database(f"sqlite:///{tmp_path / 'b.db'}"))
    yield pair
    for database in pair:
        database.dispose()


async def actor_row(database: Database, batches: Sequence[Sequence[EventEnvelope]]) -> Any:
    runner = ProjectionRunner(database, projection)
    await runner.create_tables()
    for batch in batches:
        await runner.apply(batch)
    query = sa.select(actors_table)
    return await database.read(lambda c: dict(c.execute(query).mappings().one()))


async def test_one_event_per_batch_gives_the_row_of_one_batch(
    databases: tuple[Database, Database],
) -> None:
    events = history()
    one_by_one = await actor_row(databases[0], [[e] for e in events])
    together = await actor_row(databases[1], [events])
    assert one_by_one == together
    assert one_by_one["public_search"] == "ひかり会\nねりまこそだてねっと\n子育て支援\n光が丘"
    assert "鈴木 花子" in one_by_one["staff_search"]
    assert "田中" not in one_by_one["staff_search"]
    assert (one_by_one["status"], one_by_one["listed"]) == ("suspended", False)
    assert one_by_one["fields_key"] == "|childcare|safety|"
    assert one_by_one["area_key"] == "光が丘"
