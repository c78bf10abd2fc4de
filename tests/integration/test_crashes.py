"""Crash and outage tests with real processes, real Redis and real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.bus import ConsumerConfig, GroupConsumer, OutboxRelay, StreamNames
from shared.db import create_engine
from shared.embedded_redis import EmbeddedRedis
from shared.events import EventActor, NewEvent
from shared.eventstore import AppendContext, EventStore
from shared.projections.runner import ProjectionRunner
from shared.testing.probe import ProbeProjection, applied
from shared.testing.services import redis_url

pytestmark = [pytest.mark.redis, pytest.mark.slow]
ACTOR = EventActor(subject="t", role="staff")
ROOT = Path(__file__).resolve().parents[2]


async def append_events(store: EventStore, n: int) -> None:
    for i in range(n):
        ward = ("nerima", "ota", "setagaya")[i % 3]
        await store.append(
            f"s{i % 7}",
            None,
            [NewEvent(event_type="test.Done", data={"i": i})],
            AppendContext(ward, ACTOR),
        )


async def applied_ids(db: Path) -> list[str]:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(sa.select(applied.c.event_id))).scalars())
    finally:
        await engine.dispose()


def run_worker(db: Path, prefix: str, consumer: str, mode: str, kill_at: int = 0) -> int:
    command = [sys.executable, "-m", "tests.support.consumer_worker"]
    command += [str(db), redis_url(), prefix, consumer, mode, str(kill_at)]
    return subprocess.run(command, cwd=ROOT, timeout=120, check=False).returncode


@pytest.mark.parametrize("mode", ["before-commit", "after-commit"])
async def test_consumer_killed_mid_batch_applies_every_event_once(
    mode: str, redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> None:
    store = EventStore(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'source.sqlite3'}"))
    await store.create_tables()
    await append_events(store, 200)
    relay = OutboxRelay(store, redis, stream_names, service="test")
    while await relay.publish_once():
        pass
    db = tmp_path / "reader.sqlite3"

    assert run_worker(db, stream_names.prefix, "pod-a", mode, kill_at=3) == -9
    partial = await applied_ids(db)
    assert 0 < len(partial) < 200, "the crash should leave committed and unapplied work"
    pending = [await redis.xpending(s, "crashtest") for s in stream_names.all_events("test")]
    assert sum(p["pending"] for p in pending) > 0, "the killed batch was never acknowledged"
    assert run_worker(db, stream_names.prefix, "pod-b", "none") == 0

    ids = await applied_ids(db)
    appended = [str(e.event_id) for e in await store.read_all(limit=1000)]
    assert len(ids) == len(set(ids)), "an event was applied twice"
    assert set(ids) == set(appended)
    await store.engine.dispose()


async def _run_pipeline_until(
    store: EventStore, redis: Redis, names: StreamNames, runner: ProjectionRunner, expected: int
) -> None:
    relay = OutboxRelay(store, redis, names, service="test", batch=20)
    config = ConsumerConfig(
        group="outage",
        streams=names.all_events("test"),
        consumer="c",
        batch=20,
        block_ms=20,
        claim_idle_ms=200,
    )
    consumer = GroupConsumer(redis, names, config, runner.handle_messages)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(consumer.run(stop))]
    try:
        async with asyncio.timeout(30):
            while await _count(runner) < expected:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _count(runner: ProjectionRunner) -> int:
    async with runner.engine.connect() as connection:
        return int(
            (await connection.execute(sa.select(sa.func.count()).select_from(applied))).scalar_one()
        )


@pytest.mark.parametrize("outage", ["restart", "flush"])
async def test_redis_outage_while_relay_runs_loses_nothing(outage: str, tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis", appendonly=False)
    server.start()
    redis = Redis.from_url(server.url)
    names = StreamNames("kyodo", 4)
    store = EventStore(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'source.sqlite3'}"))
    await store.create_tables()
    runner = ProjectionRunner(
        create_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.sqlite3'}"), ProbeProjection()
    )
    await runner.create_tables()
    try:
        await append_events(store, 60)
        pipeline = asyncio.create_task(_run_pipeline_until(store, redis, names, runner, 120))
        await asyncio.sleep(0.5)
        if outage == "restart":
            server.kill()  # no persistence: everything Redis held is gone
            await asyncio.sleep(0.3)
            server.start()
        else:
            await redis.flushall()
        await append_events(store, 60)
        await pipeline
        async with runner.engine.connect() as connection:
            ids = list((await connection.execute(sa.select(applied.c.event_id))).scalars())
        appended = {str(e.event_id) for e in await store.read_all(limit=1000)}
        assert len(ids) == len(set(ids)) == 120
        assert set(ids) == appended
    finally:
        await redis.aclose()
        server.stop()
        await store.engine.dispose()
        await runner.engine.dispose()


class InterleavingStore(EventStore):
    """Holds each transaction open for a random moment after its position is assigned."""

    async def _insert(
        self, connection: AsyncConnection, rows: list[dict[str, object]]
    ) -> list[int]:  # type: ignore[override]
        positions = await super()._insert(connection, rows)  # type: ignore[arg-type]
        await connection.execute(sa.text("SELECT pg_sleep(:s)"), {"s": random.random() * 0.004})
        return positions


@pytest.mark.postgres
async def test_concurrent_appenders_on_postgres_are_all_relayed(
    postgres_schema: tuple[str, str], redis: Redis, stream_names: StreamNames
) -> None:
    url, schema = postgres_schema
    engines = [create_engine(url, schema=schema) for _ in range(4)]
    stores = [InterleavingStore(engine) for engine in engines]
    await stores[0].create_tables()
    relay = OutboxRelay(stores[0], redis, stream_names, service="test", batch=7)
    stop = asyncio.Event()
    relay_task = asyncio.create_task(relay.run(stop))
    writers = [append_events(stores[i % 4], 40) for i in range(12)]
    await asyncio.gather(*writers)
    total = await stores[0].max_position()
    async with asyncio.timeout(20):
        while relay.cursor < total:
            await asyncio.sleep(0.02)
    stop.set()
    await relay_task
    published: list[int] = []
    for stream in stream_names.all_events("test"):
        published += [int(f[b"p"]) for _id, f in await redis.xrange(stream)]
    assert sorted(published) == list(range(1, total + 1)) and total == 480
    for engine in engines:
        await engine.dispose()
